"""The chaos suite's tools: a mixed grpcio load with per-call outcomes and latencies, a TCP
proxy in front of Redis whose latency the test sets, hostile peers, and the figures of one
scenario (calls and errors by status, p50/p99, writes acknowledged vs found at the simulator,
the busiest second at HubSpot, HubSpot's 429s)."""
import collections
import importlib.util
import json
import os
import pathlib
import random
import socket
import struct
import threading
import time
import urllib.request
import uuid

import grpc

ROOT = pathlib.Path(__file__).resolve().parents[2]

_spec = importlib.util.spec_from_file_location("gateway_fleet", ROOT / "Tests" / "Interop" / "gateway" / "gateway_fleet.py")
gateway_fleet = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gateway_fleet)
Fleet, Gateway, post_signed_webhook = gateway_fleet.Fleet, gateway_fleet.Gateway, gateway_fleet.post_signed_webhook
free_port = gateway_fleet.free_port
span_beyond_budget = gateway_fleet.span_beyond_budget

RESULTS = pathlib.Path(os.environ.get("CHAOS_RESULTS", "/tmp/hubspot-gateway-chaos.jsonl"))


def ready(gateway, timeout=30) -> bool:
    """Waits until the replica answers /readyz 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{gateway.http_port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return True
        except Exception:
            pass
        time.sleep(0.05)
    return False


def restart(fleet, index: int):
    """Starts replica `index` again on the ports it had (clients reconnect to the same address)."""
    old = fleet.gateways[index]
    fleet.gateways[index] = Gateway(*fleet.gateway_args, "--grpc-port", str(old.grpc_port), "--http-port", str(old.http_port),
                                    env=fleet.gateway_env)
    assert ready(fleet.gateways[index]), fleet.gateways[index].log_text()[-2000:]


def record(row: dict):
    with RESULTS.open("a") as results:
        results.write(json.dumps(row) + "\n")


LONG = os.environ.get("CHAOS_LONG") == "1"


def scale(short: float, long: float) -> float:
    return long if LONG else short


class Load:
    """`threads` clients, each with a channel to every replica (client-side round robin, the
    next replica on UNAVAILABLE as gRPC's round_robin policy would), reading hot contacts and
    creating new ones with idempotency keys."""

    def __init__(self, fleet, hot_ids, threads=8, write_share=0.2):
        from hubspot.gateway.v1 import contacts_pb2, contacts_pb2_grpc
        self.contacts_pb2 = contacts_pb2
        self.fleet, self.hot_ids, self.write_share = fleet, hot_ids, write_share
        self.threads = threads
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.outcomes = collections.Counter()
        self.latencies = []
        self.acknowledged = []  # ids of creates the gateway answered OK
        self.run_id = uuid.uuid4().hex[:8]
        self.stubs = lambda: [contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(g.address)) for g in fleet.gateways]
        self.workers = []

    def start(self):
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, args=(n,), daemon=True)
            worker.start()
            self.workers.append(worker)

    def stop(self):
        self.stop_event.set()
        for worker in self.workers:
            worker.join(timeout=30)

    def _run(self, n):
        rng = random.Random(n)
        stubs = self.stubs()
        metadata = self.fleet.metadata("orders")
        count = 0
        while not self.stop_event.is_set():
            count += 1
            write = rng.random() < self.write_share
            started = time.monotonic()
            code = None
            for attempt in range(len(stubs)):
                stub = stubs[(n + count + attempt) % len(stubs)]
                try:
                    if write:
                        key = f"{self.run_id}-{n}-{count}"
                        reply = stub.CreateContact(self.contacts_pb2.CreateContactRequest(
                            contact=self.contacts_pb2.Contact(email=f"chaos-{key}@example.com"), idempotency_key=key),
                            metadata=metadata, timeout=5)
                        with self.lock:
                            self.acknowledged.append(reply.contact.id)
                    else:
                        stub.GetContact(self.contacts_pb2.GetContactRequest(id=rng.choice(self.hot_ids)), metadata=metadata, timeout=5)
                    code = "OK"
                    break
                except grpc.RpcError as error:
                    code = error.code().name
                    # A replica that is down: the next one, as a round-robin client would.
                    if error.code() != grpc.StatusCode.UNAVAILABLE or "connect" not in (error.details() or "").lower():
                        break
            elapsed = time.monotonic() - started
            with self.lock:
                self.outcomes[f"{'write' if write else 'read'} {code}"] += 1
                self.latencies.append(elapsed)
            if code != "OK":
                time.sleep(0.05)  # a client backs off a little after an error

    def figures(self):
        with self.lock:
            latencies = sorted(self.latencies)
            outcomes = dict(self.outcomes)
        def quantile(q):
            return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0
        return {"calls": len(latencies), "outcomes": outcomes, "p50_ms": round(quantile(0.5), 1), "p99_ms": round(quantile(0.99), 1)}


def acknowledged_found_at_simulator(fleet, ids):
    """How many of `ids` exist at the simulator (read with its limits lifted for the check)."""
    limits = fleet.sim_admin("GET", "/_sim/limits")
    fleet.sim_admin("PUT", "/_sim/limits", {**limits, "burstLimit": 1_000_000, "dailyLimit": 0})
    found = 0
    try:
        for start in range(0, len(ids), 100):
            batch = ids[start:start + 100]
            body = json.dumps({"inputs": [{"id": i} for i in batch], "properties": ["email"]}).encode()
            request = urllib.request.Request(fleet.sim_url + "/crm/v3/objects/contacts/batch/read", data=body, method="POST",
                                             headers={"Authorization": "Bearer pat-sim-token", "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                found += len(json.loads(response.read())["results"])
    finally:
        fleet.sim_admin("PUT", "/_sim/limits", limits)
    return found


class LatencyProxy:
    """A TCP proxy (one thread per connection pair) whose added latency per chunk the test
    sets at any time: the network to Redis, slowed."""

    def __init__(self, target_port: int, listen_port: int):
        self.target_port = target_port
        self.delay = 0.0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", listen_port))
        self.listener.listen(128)
        self.port = listen_port
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if self.delay:
                    time.sleep(self.delay)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.listener.close()


def hostile_peers(address: str, http_port: int):
    """What an attacker or a broken client sends: garbage instead of HTTP/2, a preface and then
    nonsense frames, a HEADERS flood, an oversized message, a webhook with a bad signature and
    an oversized body. Returns how many attempts were made."""
    host, port = address.rsplit(":", 1)
    port = int(port)
    attempts = 0

    def send(payload: bytes, read=True):
        nonlocal attempts
        attempts += 1
        with socket.create_connection((host, port), timeout=3) as s:
            try:
                s.sendall(payload)
                if read:
                    s.settimeout(1)
                    s.recv(4096)
            except OSError:
                pass

    send(os.urandom(4096))
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    send(preface + os.urandom(2048))
    # SETTINGS then 200 HEADERS frames with garbage HPACK on odd stream ids.
    frames = struct.pack(">I", 0)[1:] + bytes([4, 0]) + struct.pack(">I", 0)
    for stream in range(1, 400, 2):
        block = os.urandom(32)
        frames += struct.pack(">I", len(block))[1:] + bytes([1, 4]) + struct.pack(">I", stream) + block
    send(preface + frames)
    # A half-open connection that never finishes its preface.
    s = socket.create_connection((host, port), timeout=3)
    s.sendall(preface[:10])
    attempts += 1
    for path, body in (("/webhooks/hubspot", b'[{"eventId": 1}]'), ("/webhooks/hubspot", b"x" * (2 << 20)),
                       ("/crm/v3/objects/contacts/batch/read", b"{not json")):
        attempts += 1
        request = urllib.request.Request(f"http://{host}:{http_port}{path}", data=body, method="POST",
                                         headers={"Content-Type": "application/json", "X-HubSpot-Signature-v3": "bogus",
                                                  "X-HubSpot-Request-Timestamp": "1"})
        try:
            urllib.request.urlopen(request, timeout=5).read()
        except Exception:
            pass
    s.close()
    return attempts
