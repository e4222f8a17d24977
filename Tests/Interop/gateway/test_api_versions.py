"""HubSpot's date-based API versions (issue 33): the gateway on 2026-09 by default, its
simulator on both path families, 2026-09's write rules turned into INVALID_ARGUMENT naming the
property, and the REST endpoint on legacy and dated paths. Real processes: gateways, redis-server,
hubspot-sim."""
import json
import urllib.error
import urllib.request

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway_fleet import Fleet
from hubspot.gateway.v1 import admin_pb2, admin_pb2_grpc, deals_pb2, deals_pb2_grpc


def raw(url: str, method: str = "GET", body: dict | None = None, token: str = "pat-sim-token"):
    """One request as any HTTP client makes it: (status, JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, json.loads(text) if text else None


def calls(fleet, endpoint):
    """Requests the simulator counted for one endpoint since its statistics were reset."""
    stats = fleet.sim_admin("GET", "/_sim/stats")
    return sum(second.get("byEndpoint", {}).get(endpoint, {}).get("requests", 0) for second in stats["perSecond"])


@pytest.fixture(scope="module")
def fleets():
    dated = Fleet(replicas=1, sim_args=("--seed", "50"))
    legacy = Fleet(replicas=1, sim_args=("--seed", "50"), args=("--hubspot-api-version", "legacy"))
    yield dated, legacy
    dated.stop()
    legacy.stop()


def test_the_simulator_serves_one_store_on_legacy_and_dated_paths_and_404s_a_version_an_api_lacks(fleets):
    fleet, _ = fleets
    status, page = raw(fleet.sim_url + "/crm/v3/objects/contacts?limit=3")
    assert status == 200 and len(page["results"]) == 3
    some = page["results"][0]["id"]
    for version in ("2026-03", "2026-09"):
        status, record = raw(fleet.sim_url + f"/crm/objects/{version}/contacts/{some}")
        assert status == 200 and record["id"] == some
    status, body = raw(fleet.sim_url + "/crm/objects/2027-03/contacts")
    assert status == 404 and "2027-03" in body["message"], body
    # The token endpoint has a 2026-03 release only.
    status, _ = raw(fleet.sim_url + "/oauth/2026-09/token", method="POST", body={})
    assert status == 404


def test_getstatus_names_the_version_each_replica_calls(fleets):
    for fleet, expected in zip(fleets, ("2026-09", "legacy")):
        with grpc.insecure_channel(fleet.gateways[0].address) as channel:
            status = admin_pb2_grpc.AdminServiceStub(channel).GetStatus(
                admin_pb2.GetStatusRequest(), metadata=fleet.metadata("ops"), timeout=10)
        assert status.hubspot_api_version == expected


def test_a_deal_closed_without_the_property_a_portal_rule_requires_is_invalid_argument_naming_it(fleets):
    fleet, legacy = fleets
    rule = {"objectType": "deals", "property": "closedate", "whenProperty": "dealstage", "equals": "closedwon"}
    for f in fleets:
        f.sim_admin("POST", "/_sim/write-rules", rule)
    deals = deals_pb2_grpc.DealsServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
    deal = deals.CreateDeal(deals_pb2.CreateDealRequest(deal=deals_pb2.Deal(name="Rules", stage="appointmentscheduled")),
                            metadata=fleet.metadata(), timeout=30).deal
    fleet.sim_admin("POST", "/_sim/stats/reset")
    with pytest.raises(grpc.RpcError) as refused:
        deals.MoveDealStage(deals_pb2.MoveDealStageRequest(id=deal.id, stage="closedwon"), metadata=fleet.metadata(), timeout=30)
    error = refused.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    assert "closedate" in error.details(), error.details()
    status = rpc_status.from_call(error)
    violations = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [v.field for v in bad.field_violations]
    assert violations == ["properties.closedate"], violations
    # One HubSpot call, not retried.
    writes = calls(fleet, "objects.batch.update") + calls(fleet, "objects.update")
    assert writes == 1, fleet.sim_admin("GET", "/_sim/stats")
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{fleet.gateways[0].http_port}/metrics", timeout=5).read().decode()
    assert 'gateway_hubspot_validation_refusals_total{code="REQUIRED_PROPERTY"} 1' in metrics, \
        [line for line in metrics.splitlines() if "validation" in line]
    assert 'gateway_hubspot_api_version{version="2026-09"} 1' in metrics
    # With the property the stage needs: written.
    moved = deals.MoveDealStage(deals_pb2.MoveDealStageRequest(
        id=deal.id, stage="closedwon", properties={"closedate": "2026-12-31"}), metadata=fleet.metadata(), timeout=30).deal
    assert moved.stage == "closedwon"
    # The rule is 2026-09's: a replica still on the legacy paths writes as before.
    legacy_deals = deals_pb2_grpc.DealsServiceStub(grpc.insecure_channel(legacy.gateways[0].address))
    old = legacy_deals.CreateDeal(deals_pb2.CreateDealRequest(deal=deals_pb2.Deal(name="Legacy", stage="appointmentscheduled")),
                                  metadata=legacy.metadata(), timeout=30).deal
    assert legacy_deals.MoveDealStage(deals_pb2.MoveDealStageRequest(id=old.id, stage="closedwon"),
                                      metadata=legacy.metadata(), timeout=30).deal.stage == "closedwon"


def test_the_rest_endpoint_serves_the_sdks_legacy_paths_and_dated_paths_with_the_same_records(fleets):
    fleet, _ = fleets
    rest = f"http://127.0.0.1:{fleet.gateways[0].http_port}"
    key = fleet.KEYS["orders"][0]
    from hubspot import HubSpot
    from hubspot.crm.contacts import SimplePublicObjectInputForCreate
    client = HubSpot(access_token=key, host=rest, base_url=rest)
    created = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"email": "versions@example.com", "firstname": "Dated"}))
    sdk_read = client.crm.contacts.basic_api.get_by_id(created.id, properties=["email", "firstname"])
    for version in ("2026-03", "2026-09"):
        status, record = raw(rest + f"/crm/objects/{version}/contacts/{created.id}?properties=email,firstname", token=key)
        assert status == 200, record
        assert record["id"] == sdk_read.id and record["properties"]["email"] == sdk_read.properties["email"]
        assert record["properties"]["firstname"] == sdk_read.properties["firstname"]
    # A write and a batch read on dated paths, read back on the legacy ones.
    status, _ = raw(rest + f"/crm/objects/2026-09/contacts/{created.id}", method="PATCH",
                    body={"properties": {"lastname": "Versioned"}}, token=key)
    assert status == 200
    status, page = raw(rest + "/crm/objects/2026-09/contacts/batch/read", method="POST",
                       body={"inputs": [{"id": created.id}], "properties": ["lastname"]}, token=key)
    assert status == 200 and page["results"][0]["properties"]["lastname"] == "Versioned", page
    assert client.crm.contacts.basic_api.get_by_id(created.id, properties=["lastname"]).properties["lastname"] == "Versioned"
    status, pipelines = raw(rest + "/crm/pipelines/2026-09/deals", token=key)
    assert status == 200 and pipelines["results"], pipelines
    # A version the gateway does not serve is HubSpot's 404, saying which it serves.
    status, body = raw(rest + f"/crm/objects/2027-03/contacts/{created.id}", token=key)
    assert status == 404 and "2026-09" in body["message"], body
