"""OpenTelemetry traces to a small OTLP/HTTP (JSON) receiver the test runs: an RPC that
continues the caller's `traceparent` has its cache lookup and Redis round trips as children,
the coalesced batch that served it links back to it, the HubSpot call under the batch carries
HubSpot's correlation id, and REST requests continue the trace too."""
import http.server
import json
import threading
import time
import urllib.request

import grpc
import pytest

from gateway_fleet import Fleet
from hubspot.gateway.v1 import common_pb2, contacts_pb2, contacts_pb2_grpc

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


class OTLPReceiver:
    """Collects the spans POSTed to /v1/traces."""

    def __init__(self):
        self.spans = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                assert self.path == "/v1/traces" and self.headers["Content-Type"] == "application/json"
                with receiver.lock:
                    for resource in body["resourceSpans"]:
                        for scope in resource["scopeSpans"]:
                            receiver.spans.extend(scope["spans"])
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def wait_for(self, what, predicate, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [span for span in self.spans if predicate(span)]
            if found:
                return found
            time.sleep(0.05)
        with self.lock:
            names = sorted({span["name"] for span in self.spans})
        pytest.fail(f"no span for {what} within {timeout} s; spans seen: {names}")


def attributes(span):
    return {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}


@pytest.fixture(scope="module")
def traced():
    receiver = OTLPReceiver()
    fleet = Fleet(replicas=1, args=("--otlp-endpoint", receiver.url, "--otlp-export-interval-milliseconds", "100"))
    yield fleet, receiver
    fleet.stop()
    receiver.server.shutdown()


def test_an_rpc_continues_the_callers_trace_with_its_cache_redis_batch_and_hubspot_spans(traced):
    fleet, receiver = traced
    with grpc.insecure_channel(fleet.gateways[0].address) as channel:
        stub = contacts_pb2_grpc.ContactsServiceStub(channel)
        some = stub.ListContacts(contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=1)),
                                 metadata=fleet.metadata("analytics"), timeout=20).contacts[0]
        traceparent = ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01")
        stub.GetContact(contacts_pb2.GetContactRequest(id=some.id), metadata=fleet.metadata("analytics") + (traceparent,), timeout=20)

    server = receiver.wait_for("the RPC", lambda s: s["traceId"] == TRACE_ID and s["name"].endswith("ContactsService/GetContact"))[0]
    assert server["parentSpanId"] == PARENT_ID and server["kind"] == 2
    assert attributes(server)["gateway.caller"] == "analytics"
    assert attributes(server)["rpc.grpc.status_code"] == "0"

    lookup = receiver.wait_for("the cache lookup", lambda s: s["name"] == "cache.lookup" and s.get("parentSpanId") == server["spanId"])[0]
    assert lookup["traceId"] == TRACE_ID and attributes(lookup)["gateway.cache.result"] == "miss"
    receiver.wait_for("a Redis round trip under the lookup",
                      lambda s: s["name"].startswith("redis ") and s.get("parentSpanId") == lookup["spanId"] and s["kind"] == 3)

    # The batch that fetched the record has a trace of its own, linked to the RPC's span.
    batch = receiver.wait_for("the coalesced batch", lambda s: s["name"] == "gateway.coalesced_batch" and any(
        link["traceId"] == TRACE_ID and link["spanId"] == server["spanId"] for link in s.get("links", [])))[0]
    assert attributes(batch)["gateway.batch.items"] == "1"
    receiver.wait_for("the budget wait under the batch", lambda s: s["name"] == "ratelimit.acquire" and s.get("parentSpanId") == batch["spanId"])
    call = receiver.wait_for("the HubSpot call under the batch", lambda s: s["name"].startswith("HubSpot POST") and s.get("parentSpanId") == batch["spanId"])[0]
    assert call["kind"] == 3
    assert attributes(call)["http.response.status_code"] == "200"
    assert attributes(call)["hubspot.correlation_id"]


def test_a_rest_request_continues_the_callers_trace(traced):
    fleet, receiver = traced
    trace = "0af7651916cd43dd8448eb211c80319c"
    request = urllib.request.Request(f"http://127.0.0.1:{fleet.gateways[0].http_port}/crm/v3/objects/contacts?limit=1",
                                     headers={"Authorization": f"Bearer {fleet.KEYS['analytics'][0]}",
                                              "traceparent": f"00-{trace}-b7ad6b7169203331-01"})
    with urllib.request.urlopen(request, timeout=20) as response:
        assert response.status == 200
    span = receiver.wait_for("the REST request", lambda s: s["traceId"] == trace and s["kind"] == 2)[0]
    assert span["parentSpanId"] == "b7ad6b7169203331"


def test_an_unsampled_callers_trace_is_not_recorded(traced):
    fleet, receiver = traced
    trace = "11111111111111111111111111111111"
    with grpc.insecure_channel(fleet.gateways[0].address) as channel:
        contacts_pb2_grpc.ContactsServiceStub(channel).ListContacts(
            contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=1)),
            metadata=fleet.metadata("analytics") + (("traceparent", f"00-{trace}-{PARENT_ID}-00"),), timeout=20)
        # A sampled call after it: once its span has arrived, the earlier one would have too.
        contacts_pb2_grpc.ContactsServiceStub(channel).ListContacts(
            contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=1)),
            metadata=fleet.metadata("analytics") + (("traceparent", f"00-{'2' * 32}-{PARENT_ID}-01"),), timeout=20)
    receiver.wait_for("the sampled call", lambda s: s["traceId"] == "2" * 32)
    with receiver.lock:
        assert not [s for s in receiver.spans if s["traceId"] == trace]
