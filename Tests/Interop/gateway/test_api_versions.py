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


def test_association_labels_are_managed_and_associations_made_by_label_or_id_and_legacy_names_refused(fleets):
    from hubspot.gateway.v1 import (associations_pb2, associations_pb2_grpc, common_pb2, metadata_pb2,
                                    metadata_pb2_grpc, objects_pb2, objects_pb2_grpc)
    fleet, _ = fleets
    channel = grpc.insecure_channel(fleet.gateways[0].address)
    metadata = metadata_pb2_grpc.MetadataServiceStub(channel)
    associations = associations_pb2_grpc.AssociationsServiceStub(channel)
    objects = objects_pb2_grpc.ObjectsServiceStub(channel)
    md = fleet.metadata()

    def kinds():
        listed = metadata.ListAssociationTypes(metadata_pb2.ListAssociationTypesRequest(
            from_object_type="contacts", to_object_type="companies"), metadata=md, timeout=30)
        return {t.label: t.type_id for t in listed.types}, {t.label: t.type_id for t in listed.inverse_types}

    kinds()  # the pair's types are now in the metadata cache: a new label must still show at once
    made = metadata.CreateAssociationLabel(metadata_pb2.CreateAssociationLabelRequest(
        from_object_type="contacts", to_object_type="companies", label="Billing contact"), metadata=md, timeout=30)
    assert made.type.category == common_pb2.AssociationType.CATEGORY_USER_DEFINED and made.type.type_id > 0
    forward, inverse = kinds()
    assert forward["Billing contact"] == made.type.type_id and inverse["Billing contact"] == made.inverse_type.type_id

    contact = objects.CreateObject(objects_pb2.CreateObjectRequest(
        object_type="contacts", properties={"email": "labels@example.com"}), metadata=md, timeout=30).object
    company = objects.CreateObject(objects_pb2.CreateObjectRequest(
        object_type="companies", properties={"name": "Labels Inc"}), metadata=md, timeout=30).object
    ref = lambda t, i: associations_pb2.ObjectRef(object_type=t, id=i)
    # By label (type_id 0), and HubSpot's own label by name too.
    associations.Associate(associations_pb2.AssociateRequest(
        **{"from": ref("contacts", contact.id)}, to=ref("companies", company.id),
        types=[common_pb2.AssociationType(label="billing contact"), common_pb2.AssociationType(label="Primary")]),
        metadata=md, timeout=30)
    listed = associations.ListAssociations(associations_pb2.ListAssociationsRequest(
        **{"from": ref("contacts", contact.id)}, to_object_type="companies"), metadata=md, timeout=30)
    made_types = {(t.type_id, t.label) for a in listed.associations for t in a.types}
    assert (made.type.type_id, "Billing contact") in made_types and (1, "Primary") in made_types, made_types

    # A legacy type name: refused before any HubSpot write, naming what to send.
    fleet.sim_admin("POST", "/_sim/stats/reset")
    with pytest.raises(grpc.RpcError) as legacy:
        associations.Associate(associations_pb2.AssociateRequest(
            **{"from": ref("contacts", contact.id)}, to=ref("companies", company.id),
            types=[common_pb2.AssociationType(label="contact_to_company")]), metadata=md, timeout=30)
    assert legacy.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "legacy" in legacy.value.details() and "279" in legacy.value.details(), legacy.value.details()
    assert calls(fleet, "associations.batch.create") == 0
    with pytest.raises(grpc.RpcError) as unknown:
        associations.Associate(associations_pb2.AssociateRequest(
            **{"from": ref("contacts", contact.id)}, to=ref("companies", company.id),
            types=[common_pb2.AssociationType(label="Reseller")]), metadata=md, timeout=30)
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "Billing contact" in unknown.value.details()

    # Rename and delete: every reader sees it at once.
    metadata.RenameAssociationLabel(metadata_pb2.RenameAssociationLabelRequest(
        from_object_type="contacts", to_object_type="companies", type_id=made.type.type_id, label="Invoices to"),
        metadata=md, timeout=30)
    assert kinds()[0].get("Invoices to") == made.type.type_id
    metadata.DeleteAssociationLabel(metadata_pb2.DeleteAssociationLabelRequest(
        from_object_type="contacts", to_object_type="companies", type_id=made.type.type_id), metadata=md, timeout=30)
    assert "Invoices to" not in kinds()[0]

    # HubSpot itself (the simulator) on 2026-09: a label in the body is taken, a legacy name is not.
    base = fleet.sim_url + f"/crm/objects/2026-09/contacts/{contact.id}/associations/companies/{company.id}"
    status, body = raw(base, method="PUT", body=[{"associationCategory": "HUBSPOT_DEFINED", "label": "contact_to_company"}])
    assert status == 400 and "legacy" in body["message"] and "associationTypeId 1" in body["message"], body
    status, body = raw(base, method="PUT", body=[{"associationCategory": "HUBSPOT_DEFINED", "label": "Primary"}])
    assert status in (200, 201), body


def test_rest_manages_association_labels_and_associates_by_label_on_dated_paths(fleets):
    fleet, _ = fleets
    rest = f"http://127.0.0.1:{fleet.gateways[0].http_port}"
    key = fleet.KEYS["orders"][0]
    labels = rest + "/crm/associations/2026-09/deals/companies/labels"
    status, made = raw(labels, method="POST", body={"label": "Reseller", "name": "reseller"}, token=key)
    assert status == 200 and made["results"][0]["category"] == "USER_DEFINED", made
    type_id = made["results"][0]["typeId"]
    status, listed = raw(labels, token=key)
    assert {"category": "USER_DEFINED", "typeId": type_id, "label": "Reseller"} in listed["results"], listed
    status, deal = raw(rest + "/crm/objects/2026-09/deals", method="POST", body={"properties": {"dealname": "By label"}}, token=key)
    status, company = raw(rest + "/crm/objects/2026-09/companies", method="POST", body={"properties": {"name": "Resells"}}, token=key)
    status, answer = raw(rest + f"/crm/objects/2026-09/deals/{deal['id']}/associations/companies/{company['id']}",
                         method="PUT", body=[{"associationCategory": "USER_DEFINED", "label": "Reseller"}], token=key)
    assert status == 201 and answer["labels"] == ["Reseller"], answer
    status, _ = raw(labels, method="PUT", body={"associationTypeId": type_id, "label": "Channel partner"}, token=key)
    assert status == 204
    status, _ = raw(labels + f"/{type_id}", method="DELETE", token=key)
    assert status == 204
    status, listed = raw(labels, token=key)
    assert all(t["typeId"] != type_id for t in listed["results"]), listed
