"""Starts the real `hubspot-gateway` executable (or `hubspot-gateway-sandbox`, the gateway with a
HubSpot simulator in the same process, for `Gateway("--sandbox")`)
for Python's grpcio, with stubs compiled from Protos/hubspot by grpcio-tools."""
import hashlib
import importlib.resources
import json
import os
import random
import shutil
import time
import urllib.error
import urllib.request
import pathlib
import subprocess
import tempfile
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _compile_protos() -> pathlib.Path:
    from grpc_tools import protoc

    out = pathlib.Path(tempfile.mkdtemp(prefix="gateway-py-"))
    protos = ROOT / "Protos"
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    files = sorted(str(p.relative_to(protos)) for p in (protos / "hubspot" / "gateway" / "v1").glob("*.proto"))
    rc = protoc.main(["protoc", f"-I{protos}", f"-I{well_known}", f"--python_out={out}", f"--grpc_python_out={out}", *files])
    assert rc == 0, "grpcio-tools could not compile Protos/hubspot"
    return out


# The generated modules live in package `hubspot.gateway.v1`; HubSpot's own SDK owns the
# top-level `hubspot` package, so extend its search path instead of shadowing it.
import hubspot  # noqa: E402

hubspot.__path__.append(str(_compile_protos() / "hubspot"))


def _binary(variable: str, name: str) -> str:
    binary = os.environ.get(variable) or str(ROOT / ".build" / "debug" / name)
    if not os.path.exists(binary):
        pytest.exit(f"{name} not built at {binary}; run `swift build --product {name}` or set {variable}", 2)
    return binary


def gateway_binary() -> str:
    return _binary("HUBSPOT_GATEWAY_BIN", "hubspot-gateway")


def sandbox_binary() -> str:
    return _binary("HUBSPOT_GATEWAY_SANDBOX_BIN", "hubspot-gateway-sandbox")


class Gateway:
    """One running gateway: its gRPC address, HTTP port and (sandbox) development key."""

    def __init__(self, *args: str, env: dict | None = None):
        # Logs go to a file, not a pipe nobody reads: a full pipe would stall the gateway.
        self.log = tempfile.NamedTemporaryFile(prefix="gateway-", suffix=".log", delete=False)
        # "--sandbox": the sandbox product, which runs HubSpot's simulator beside the gateway.
        sandbox = "--sandbox" in args
        args = tuple(a for a in args if a != "--sandbox")
        self.process = subprocess.Popen(
            [sandbox_binary() if sandbox else gateway_binary(), "--host", "127.0.0.1", "--grpc-port", "0", "--http-port", "0", "--log-level", "warning", *args],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env={**os.environ, **(env or {})},
        )
        self.key = None
        self.grpc_port = self.http_port = None
        while self.grpc_port is None or self.http_port is None:
            line = self.process.stdout.readline()
            if not line:
                self.process.wait(timeout=10)
                raise RuntimeError(f"gateway did not start: {self.log_text()}")
            line = line.strip()
            if line.startswith("authorization: Bearer "):
                self.key = line.rsplit(" ", 1)[1]
            elif line.startswith("hubspot-gateway grpc listening on "):
                self.grpc_port = int(line.rsplit(" ", 1)[1])
            elif line.startswith("hubspot-gateway http listening on "):
                self.http_port = int(line.rsplit(" ", 1)[1])
        self.address = f"127.0.0.1:{self.grpc_port}"

    def log_text(self) -> str:
        return pathlib.Path(self.log.name).read_text()

    def log_lines(self) -> list[dict]:
        """The gateway's log so far, one JSON object per line."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.strip()]

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -9


def span_beyond_budget(stats, per_window=8):
    """The first run of consecutive seconds at HubSpot holding more than the fleet's windows
    allow, or None. Every call is counted in the limiter's one-second window before it leaves,
    so k consecutive seconds at HubSpot hold at most k + 1 windows' budget: a call granted at a
    window's end may arrive in the next second on a loaded machine. (At most `per_window` in
    every wall-clock second would be stricter than the mechanism, and than HubSpot's own rule.)"""
    counts = {entry["second"]: entry["requests"] - entry["rateLimited"] for entry in stats["perSecond"]}
    if not counts:
        return None
    first, last = min(counts), max(counts)
    for start in range(first, last + 1):
        admitted = 0
        for end in range(start, last + 1):
            admitted += counts.get(end, 0)
            if admitted > per_window * (end - start + 2):
                return {"from": start, "seconds": end - start + 1, "admitted": admitted}
    return None


def contact_ids(fleet, count):
    """The first `count` contact ids, paged through one replica's ListContacts."""
    import grpc
    from hubspot.gateway.v1 import common_pb2, contacts_pb2, contacts_pb2_grpc
    with grpc.insecure_channel(fleet.gateways[0].address) as channel:
        stub = contacts_pb2_grpc.ContactsServiceStub(channel)
        ids, cursor = [], ""
        while len(ids) < count:
            page = stub.ListContacts(contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=100, cursor=cursor)),
                                     metadata=fleet.metadata(), timeout=30)
            ids += [contact.id for contact in page.contacts]
            cursor = page.page.next_cursor
            if not cursor:
                break
        assert len(ids) >= count, f"the simulator holds {len(ids)} contacts; the test asked for {count} (seed more)"
        return ids[:count]


def post_signed_webhook(gateway, events: list[dict], secret: str, public_url: str) -> int:
    """Delivers `events` to a replica's webhook intake as HubSpot would (signature v3 over the
    public URL, which the ingress would have forwarded); returns the HTTP status (0 when the
    replica could not be reached)."""
    import base64
    import hmac
    body = json.dumps(events).encode()
    timestamp = str(int(time.time() * 1000))
    mac = hmac.new(secret.encode(), b"POST" + public_url.encode() + body + timestamp.encode(), hashlib.sha256)
    request = urllib.request.Request(
        f"http://127.0.0.1:{gateway.http_port}/webhooks/hubspot", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-HubSpot-Signature-v3": base64.b64encode(mac.digest()).decode(),
                 "X-HubSpot-Request-Timestamp": timestamp})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


_handed_out_ports: set[int] = set()


def free_port() -> int:
    """A port for a server a test starts, as `SpawnedProcess.freePort` picks them: random below
    the kernel's ephemeral range (a port in it may become the local port of some outgoing
    connection first) and never the same twice in this process. Not probed by binding it; a
    server that finds it taken exits, and its starter tries another (`start_redis_server`)."""
    try:
        ephemeral_start = int(pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_start = 32768
    while True:
        port = random.randrange(20000, max(20001, min(ephemeral_start, 32768)))
        if port not in _handed_out_ports:
            _handed_out_ports.add(port)
            return port


def start_redis_server(args_for_port, port: int | None = None, tries: int = 5) -> tuple[subprocess.Popen, int]:
    """Starts `redis-server` with `args_for_port(port)` and returns it with its port once it
    accepts connections. With no `port` given, a free one is picked, and another when a process
    of a parallel test took it first; a Redis that never gets ready fails with what it said."""
    said: list[str] = []
    for _ in range(tries if port is None else 1):
        chosen = port or free_port()
        process = subprocess.Popen(args_for_port(chosen), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        said = []
        for line in process.stdout:
            said.append(line)
            if "Ready to accept connections" in line:
                # Its later lines go nowhere, and never fill the pipe.
                threading.Thread(target=process.stdout.read, daemon=True).start()
                return process, chosen
        process.wait(timeout=10)
        if not any("Address already in use" in line for line in said):
            break
    raise RuntimeError(f"redis-server did not start: {''.join(said[-5:])}")


class Fleet:
    """Three gateways sharing one redis-server, in front of one hubspot-sim (HubSpot's limits
    on), with caller keys for a writer, a reader and an operator."""

    KEYS = {"orders": ("orders-key-0001", "crm.read,crm.write"), "analytics": ("analytics-key-0001", "crm.read"), "ops": ("ops-key-0001", "admin"),
            "feeds": ("feeds-key-0001", "changes.read,crm.read")}

    def __init__(self, replicas: int = 3, args: tuple = (), sim_args: tuple = ("--seed", "400"), weights: dict | None = None,
                 redis_aof: bool = False, extra_keys: tuple = (), redis_tls=None, redis_port: int | None = None,
                 gateways_redis_port: int | None = None, redis_url: str | None = None, env: dict | None = None):
        self.dir = tempfile.mkdtemp(prefix="gateway-fleet-")
        # `redis_port`: the port Redis listens on (a proxy's upstream, say); else a free one,
        # picked when it first starts.
        self.redis_port = redis_port
        self.redis_tls = redis_tls
        self.redis_aof = redis_aof
        # `redis_url`: a Redis the test runs itself (Sentinel, say); the fleet starts none.
        self.redis = None
        if redis_url is None:
            self.start_redis()
        # `gateways_redis_port`: the gateways dial this port instead (a proxy in front of Redis).
        dialled = gateways_redis_port or self.redis_port
        self.sim = subprocess.Popen([_binary("HUBSPOT_SIM_BIN", "hubspot-sim"), "--port", "0", *sim_args, "--daily-limit", "0", "--log-level", "warning"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.sim.stdout.readline().strip()
        assert line.startswith("hubspot-sim listening on "), line
        self.sim_url = line.rsplit(" ", 1)[1]
        # `weights`: services' weights in the fair sharing of the budget (weight=, default 1).
        keys = ";".join(f"{name} sha256:{hashlib.sha256(key.encode()).hexdigest()} {scopes}"
                        + (f" weight={(weights or {})[name]}" if name in (weights or {}) else "")
                        for name, (key, scopes) in self.KEYS.items())
        # `extra_keys`: more caller-key lines as written (a `cert=` caller, say).
        keys = ";".join([keys, *extra_keys])
        # `env`: more environment for the gateways (secrets such as the journal's client secret).
        self.gateway_env = {"HUBSPOT_GATEWAY_HUBSPOT_TOKEN": "pat-sim-token", "HUBSPOT_GATEWAY_CALLER_KEYS": keys, **(env or {})}
        redis_option = (("--redis-url", redis_url) if redis_url else
                     ("--redis-url", f"rediss://127.0.0.1:{dialled}", "--redis-tls-ca-file", str(redis_tls.ca)) if redis_tls
                     else ("--redis-url", f"redis://127.0.0.1:{dialled}"))
        self.gateway_args = ("--hubspot-base-url", self.sim_url, *redis_option, "--redis-timeout-milliseconds", "500", *args)
        self.gateways = [self.start_gateway() for _ in range(replicas)]

    def start_gateway(self) -> "Gateway":
        """One more replica of the fleet (as the others were started)."""
        return Gateway(*self.gateway_args, env=self.gateway_env)

    def redis_args(self, port: int) -> list[str]:
        """The fleet's redis-server command line on `port`. `redis_aof`: the append-only file on,
        fsync every second (as in k8s/), so a restart keeps what was acknowledged. `redis_tls`
        (TestCertificates): Redis serves TLS only, and the gateways reach it with rediss://."""
        tls = self.redis_tls
        listen = (["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(tls.server_cert),
                   "--tls-key-file", str(tls.server_key), "--tls-ca-cert-file", str(tls.ca), "--tls-auth-clients", "no"]
                  if tls else ["--port", str(port)])
        return ["redis-server", *listen, "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes" if self.redis_aof else "no", "--appendfsync", "everysec",
                "--dir", self.dir, "--loglevel", "notice"]

    def start_redis(self):
        """Starts the fleet's redis-server and returns once it says it accepts connections (its
        data loaded, when it restarts with an AOF). The first start picks a free port unless
        one was given; a restart keeps it."""
        self.redis, self.redis_port = start_redis_server(self.redis_args, port=self.redis_port)

    def metadata(self, caller: str = "orders"):
        return (("authorization", f"Bearer {self.KEYS[caller][0]}"),)

    def sim_admin(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.sim_url + path, method=method, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return json.loads(text) if text else None

    def stop(self):
        codes = [gateway.stop() for gateway in self.gateways]
        self.sim.terminate()
        if self.redis:
            self.redis.terminate()
        self.sim.wait(timeout=20)
        if self.redis:
            self.redis.wait(timeout=20)
        shutil.rmtree(self.dir, ignore_errors=True)
        return codes
