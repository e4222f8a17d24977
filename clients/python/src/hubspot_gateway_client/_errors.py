"""The gateway's errors as exceptions that carry what a caller acts on: the reason (a stable
name, hubspot.gateway.v1.ErrorReason), how long to wait before retrying, and the existing
record's id of a duplicate."""
from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

DOMAIN = "hubspot-gateway"


class GatewayError(grpc.RpcError):
    """A failed call to the gateway. Still a `grpc.RpcError` (code() and details() work), so code
    written against plain grpcio keeps catching it."""

    def __init__(self, code: grpc.StatusCode, message: str, *, reason: str | None = None, retry_after: float | None = None,
                 metadata: dict[str, str] | None = None, request_id: str | None = None,
                 field_violations: list[tuple[str, str]] | None = None, trailers: tuple = ()):
        super().__init__(f"{code.name}: {reason or 'no reason'}: {message}")
        self._code, self._message, self._trailers = code, message, trailers
        #: ErrorInfo.reason, e.g. "DUPLICATE_RECORD" (None when the error did not come from the gateway).
        self.reason = reason
        #: Seconds to wait before retrying (RetryInfo), or None when waiting does not help.
        self.retry_after = retry_after
        #: ErrorInfo.metadata: existing_id, property, required_scopes, hubspot_correlation_id, …
        self.metadata = metadata or {}
        #: The request id in the gateway's access log (RequestInfo).
        self.request_id = request_id
        #: (field, description) of invalid input (BadRequest).
        self.field_violations = field_violations or []

    # grpc.RpcError / grpc.Call's accessors
    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self):
        return self._trailers

    @property
    def existing_id(self) -> str | None:
        """The id of the record a create collided with (DUPLICATE_RECORD)."""
        return self.metadata.get("existing_id")

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed after `retry_after` seconds."""
        return self.retry_after is not None

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "GatewayError":
        """Decodes the rich error model (google.rpc.Status in grpc-status-details-bin)."""
        if isinstance(error, GatewayError):
            return error
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        message = error.details() if hasattr(error, "details") else str(error)
        trailers = tuple(error.trailing_metadata() or ()) if hasattr(error, "trailing_metadata") else ()
        fields = dict(reason=None, retry_after=None, metadata={}, request_id=None, field_violations=[])
        status = rpc_status.from_call(error) if hasattr(error, "trailing_metadata") else None
        for detail in status.details if status else ():
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                if info.domain == DOMAIN:
                    fields["reason"], fields["metadata"] = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                fields["retry_after"] = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
            elif detail.Is(error_details_pb2.RequestInfo.DESCRIPTOR):
                info = error_details_pb2.RequestInfo()
                detail.Unpack(info)
                fields["request_id"] = info.request_id
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                fields["field_violations"] = [(v.field, v.description) for v in bad.field_violations]
        if fields["reason"] is None:  # a status from gRPC itself (deadline, unreachable)
            fields["reason"] = dict((k, v) for k, v in trailers if isinstance(v, str)).get("x-gateway-error-reason")
        return cls(code, message, trailers=trailers, **fields)
