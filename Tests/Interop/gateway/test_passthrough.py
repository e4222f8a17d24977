"""REST passthrough: a HubSpot path the gateway does not model (communication preferences, on
hubspot-sim), called under HubSpot's own path by a service whose key allows its prefix,
through the door (budget, breaker), with HubSpot's answer returned as it is."""
import hashlib
import http.client
import json
import re
import urllib.request

import pytest

from gateway_fleet import Fleet

SENDER_KEY = "marketing-sender-key-0001"


@pytest.fixture(scope="module")
def fleet():
    line = (f"sender sha256:{hashlib.sha256(SENDER_KEY.encode()).hexdigest()} "
            "crm.read,hubspot.passthrough:/communication-preferences/,/files/")
    started = Fleet(replicas=1, extra_keys=[line])
    yield started
    started.stop()


def call(fleet, method, path, body=None, key=SENDER_KEY):
    """The raw answer (no client-side path normalisation: `..` reaches the gateway as sent)."""
    connection = http.client.HTTPConnection("127.0.0.1", fleet.gateways[0].http_port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    answer = (response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    connection.close()
    return answer


def passthrough_calls(fleet) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{fleet.gateways[0].http_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(m) for m in re.findall(r'^hubspot_upstream_calls_total\{[^}]*endpoint="passthrough"[^}]*\} (\S+)$', text, re.M))


def test_an_allowed_path_goes_through_the_door_and_hubspots_answer_comes_back_as_it_is(fleet):
    before = passthrough_calls(fleet)
    status, headers, body = call(fleet, "GET", "/communication-preferences/v3/status/email/buyer%40example.com")
    assert status == 200, body
    assert json.loads(body)["recipient"] == "buyer@example.com"
    assert headers["content-type"].startswith("application/json") and headers.get("x-hubspot-correlation-id")
    # The gateway's own view of the budget rides along.
    assert float(headers["x-gateway-budget-rate"]) > 0 and int(headers["x-gateway-budget-day-ends-at"]) > 0, headers
    status, _, body = call(fleet, "POST", "/communication-preferences/v3/subscribe",
                           {"emailAddress": "buyer@example.com", "subscriptionId": "1", "legalBasis": "CONSENT_WITH_NOTICE",
                            "legalBasisExplanation": "Opted in at checkout"})
    assert status == 200 and json.loads(body)["status"] == "SUBSCRIBED", body
    # HubSpot's 4xx comes back unchanged: status, body, correlation id.
    status, headers, body = call(fleet, "POST", "/communication-preferences/v3/subscribe",
                                 {"emailAddress": "buyer@example.com", "subscriptionId": "1", "legalBasis": "CONSENT_WITH_NOTICE",
                            "legalBasisExplanation": "Opted in at checkout"})
    refusal = json.loads(body)
    assert status == 400 and refusal["category"] == "VALIDATION_ERROR", body
    assert refusal["message"] == "buyer@example.com is already subscribed to subscription 1"
    assert refusal["correlationId"] == headers["x-hubspot-correlation-id"]
    # Every one of them was a HubSpot call through the door (counted like any other).
    assert passthrough_calls(fleet) - before == 3


def test_paths_outside_the_keys_prefixes_and_keys_without_the_scope_are_refused_before_hubspot(fleet):
    before = passthrough_calls(fleet)
    status, _, body = call(fleet, "GET", "/marketing/v3/emails")
    assert status == 403 and json.loads(body)["category"] == "MISSING_SCOPES", body
    assert "lacks the scope `hubspot.passthrough:/marketing/` this request needs" in json.loads(body)["message"], body
    status, _, body = call(fleet, "GET", "/communication-preferences/v3/definitions", key=fleet.KEYS["orders"][0])
    assert status == 403 and json.loads(body)["category"] == "MISSING_SCOPES", body
    status, _, body = call(fleet, "GET", "/communication-preferences/v3/definitions", key="not-a-key")
    assert status == 401 and json.loads(body)["category"] == "INVALID_AUTHENTICATION", body
    # A path that walks out of its prefix is refused as it is, not normalised into another.
    status, _, body = call(fleet, "GET", "/communication-preferences/../crm/v3/objects/contacts")
    assert status == 400 and json.loads(body)["category"] == "VALIDATION_ERROR", body
    assert passthrough_calls(fleet) == before
    # /crm/ is the gateway's own: an unknown path there stays its 404.
    status, _, body = call(fleet, "GET", "/crm/v3/nothing-here")
    assert status == 404 and json.loads(body)["category"] == "OBJECT_NOT_FOUND", body


def test_grpc_only_callers_pass_through_by_rpc_with_the_same_rules(fleet):
    import grpc
    from hubspot.gateway.v1 import passthrough_pb2, passthrough_pb2_grpc

    stub = passthrough_pb2_grpc.PassthroughServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
    sender = (("authorization", f"Bearer {SENDER_KEY}"),)
    before = passthrough_calls(fleet)
    reply = stub.CallHubSpot(passthrough_pb2.CallHubSpotRequest(
        method="POST", path="/communication-preferences/v3/subscribe",
        body=json.dumps({"emailAddress": "grpc@example.com", "subscriptionId": "2", "legalBasis": "PERFORMANCE_OF_CONTRACT",
                         "legalBasisExplanation": "Order updates"}).encode()), metadata=sender, timeout=30)
    assert reply.status == 200 and json.loads(reply.body)["status"] == "SUBSCRIBED"
    assert reply.headers["Content-Type"].startswith("application/json") and reply.headers["X-HubSpot-Correlation-Id"]
    status = stub.CallHubSpot(passthrough_pb2.CallHubSpotRequest(
        method="GET", path="/communication-preferences/v3/status/email/grpc%40example.com"), metadata=sender, timeout=30)
    assert [s["status"] for s in json.loads(status.body)["subscriptionStatuses"]] == ["NOT_SUBSCRIBED", "SUBSCRIBED"]
    # HubSpot's 4xx is an answer, not an RPC error.
    again = stub.CallHubSpot(passthrough_pb2.CallHubSpotRequest(
        method="POST", path="/communication-preferences/v3/subscribe",
        body=json.dumps({"emailAddress": "grpc@example.com", "subscriptionId": "2", "legalBasis": "PERFORMANCE_OF_CONTRACT",
                         "legalBasisExplanation": "Order updates"}).encode()), metadata=sender, timeout=30)
    assert again.status == 400 and json.loads(again.body)["category"] == "VALIDATION_ERROR"
    assert passthrough_calls(fleet) - before == 3
    for request, metadata, code in [
        (passthrough_pb2.CallHubSpotRequest(method="GET", path="/marketing/v3/emails"), sender, grpc.StatusCode.PERMISSION_DENIED),
        (passthrough_pb2.CallHubSpotRequest(method="GET", path="/crm/v3/objects/contacts"), sender, grpc.StatusCode.INVALID_ARGUMENT),
        (passthrough_pb2.CallHubSpotRequest(method="GET", path="/communication-preferences/v3/definitions"),
         fleet.metadata("orders"), grpc.StatusCode.PERMISSION_DENIED),
        (passthrough_pb2.CallHubSpotRequest(method="TRACE", path="/communication-preferences/v3/definitions"), sender,
         grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(grpc.RpcError) as refused:
            stub.CallHubSpot(request, metadata=metadata, timeout=30)
        assert refused.value.code() == code, (request, refused.value)
    assert passthrough_calls(fleet) - before == 3
