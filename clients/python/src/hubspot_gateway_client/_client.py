"""GatewayClient: one channel to the gateway fleet, with the caller key on every call, default
deadlines per method, safe retries, keepalive matching the server, round-robin over the
replicas, and errors decoded into GatewayError."""
from __future__ import annotations

import collections
import importlib
import json
import pkgutil
import re

import grpc

from . import v1
from ._errors import GatewayError
from ._methods import Method, methods

#: Default deadlines in seconds, by kind of call (None: no deadline; long streams end when the
#: caller stops them).
DEFAULT_DEADLINES = {"read": 10.0, "write": 30.0, "upload": 300.0, "stream": None}

#: The server's keepalive (docs/transport.md: a PING every 120 s, 20 s to answer). The client
#: pings no more often, so a gateway (or a proxy enforcing gRPC's ping policy) never calls it abusive.
KEEPALIVE_TIME_MS = 120_000
KEEPALIVE_TIMEOUT_MS = 20_000
#: The server's message limits (4 MiB each way).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def service_config(retries: bool = True, max_attempts: int = 3) -> dict:
    """gRPC service config: round-robin over every address the target resolves to, and retries
    (with backoff, obeying the gateway's grpc-retry-pushback-ms) of reads and idempotent writes
    only, on UNAVAILABLE and RESOURCE_EXHAUSTED; a retry budget stops retry storms."""
    config: dict = {"loadBalancingConfig": [{"round_robin": {}}]}
    if retries:
        names = [{"service": m.service, "method": m.name} for m in methods() if m.is_idempotent]
        config["methodConfig"] = [{
            "name": names,
            "retryPolicy": {"maxAttempts": max_attempts, "initialBackoff": "0.2s", "maxBackoff": "5s", "backoffMultiplier": 2,
                            "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"]},
        }]
        config["retryThrottling"] = {"maxTokens": 10, "tokenRatio": 0.1}
    return config


def _kind(method: Method) -> str:
    if method.client_streaming:
        return "upload"
    if method.server_streaming:
        return "stream"
    return "read" if method.is_read else "write"


class _CallDetails(collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")),
                   grpc.ClientCallDetails):
    pass


class _KeyAndDeadline(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                      grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <key>` and the method's default deadline (unless the call
    has its own) to every call."""

    def __init__(self, key: str, deadlines: dict[str, float | None]):
        self._auth = ("authorization", f"Bearer {key}")
        self._deadlines = deadlines

    def _details(self, details):
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        timeout = details.timeout if details.timeout is not None else self._deadlines.get(method)
        metadata = [*(details.metadata or ()), self._auth]
        return _CallDetails(details.method, timeout, metadata, details.credentials, getattr(details, "wait_for_ready", None),
                            getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._details(details), requests)


class _DecodedStream:
    """A response stream whose failure arrives as GatewayError; cancel() and the rest of the
    call's interface still work."""

    def __init__(self, call):
        self._call = call

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._call)
        except grpc.RpcError as error:
            raise GatewayError.from_rpc_error(error) from None

    def __getattr__(self, name):
        return getattr(self._call, name)


class _DecodedMethod:
    def __init__(self, callable_, streaming: bool):
        self._callable, self._streaming = callable_, streaming

    def __call__(self, *args, **kwargs):
        try:
            result = self._callable(*args, **kwargs)
        except grpc.RpcError as error:
            raise GatewayError.from_rpc_error(error) from None
        return _DecodedStream(result) if self._streaming else result

    def with_call(self, *args, **kwargs):
        try:
            return self._callable.with_call(*args, **kwargs)
        except grpc.RpcError as error:
            raise GatewayError.from_rpc_error(error) from None

    def __getattr__(self, name):  # future(), …: grpcio's own behaviour
        return getattr(self._callable, name)


class _DecodedStub:
    """A generated stub whose calls raise GatewayError."""

    def __init__(self, stub, streaming: dict[str, bool]):
        for name, is_streaming in streaming.items():
            setattr(self, name, _DecodedMethod(getattr(stub, name), is_streaming))


def _attribute(service: str) -> str:
    """hubspot.gateway.v1.ContactsService → contacts; AssociationsService → associations."""
    name = service.rsplit(".", 1)[1].removesuffix("Service")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class GatewayClient:
    """A calling service's connection to hubspot-gateway.

        client = GatewayClient("dns:///hubspot-gateway-headless.crm.svc.cluster.local:50051",
                               caller_key=os.environ["HUBSPOT_GATEWAY_KEY"])
        contact = client.contacts.GetContact(contacts_pb2.GetContactRequest(email="a@b.c")).contact

    One stub per service (`client.contacts`, `client.deals`, `client.objects`,
    `client.associations`, `client.lists`, `client.metadata`, `client.jobs`, `client.changes`,
    `client.engagements`, `client.communication_preferences`, `client.passthrough`,
    `client.admin`), generated from Protos/ (`hubspot_gateway_client.v1.*_pb2` for messages).
    Use a `dns:///` target naming the gateway's headless Service so that calls spread over every
    replica (docs/operations.md); a plain `host:port` works for one replica or a local sandbox.
    """

    def __init__(self, target: str, caller_key: str, *, credentials: grpc.ChannelCredentials | None = None,
                 deadlines: dict[str, float | None] | None = None, retries: bool = True, max_attempts: int = 3,
                 options: tuple = ()):
        kinds = {**DEFAULT_DEADLINES, **(deadlines or {})}
        per_method = {m.path: kinds[_kind(m)] for m in methods()}
        channel_options = [
            ("grpc.service_config", json.dumps(service_config(retries, max_attempts))),
            ("grpc.enable_retries", 1 if retries else 0),
            ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
            ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
            ("grpc.keepalive_permit_without_calls", 0),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            *options,
        ]
        self._channel = (grpc.secure_channel(target, credentials, options=channel_options) if credentials
                         else grpc.insecure_channel(target, options=channel_options))
        channel = grpc.intercept_channel(self._channel, _KeyAndDeadline(caller_key, per_method))
        streaming: dict[str, dict[str, bool]] = collections.defaultdict(dict)
        for m in methods():
            streaming[m.service][m.name] = m.server_streaming
        for module_info in pkgutil.iter_modules(v1.__path__):
            if not module_info.name.endswith("_pb2_grpc"):
                continue
            module = importlib.import_module(f"{v1.__name__}.{module_info.name}")
            messages = importlib.import_module(f"{v1.__name__}.{module_info.name.removesuffix('_grpc')}")
            for service in messages.DESCRIPTOR.services_by_name.values():
                stub = getattr(module, f"{service.name}Stub")(channel)
                setattr(self, _attribute(service.full_name), _DecodedStub(stub, streaming[service.full_name]))

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "GatewayClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
