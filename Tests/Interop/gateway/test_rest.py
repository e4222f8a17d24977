"""The REST endpoint on HubSpot's own paths, driven by HubSpot's official Python SDK pointed at
the gateway (its base URL and a caller key as the access token), hubspot-sim behind it."""
import json
import urllib.error
import urllib.request

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException, NotFoundException, UnauthorizedException

from gateway_fleet import Fleet


@pytest.fixture(scope="module")
def rest_fleet():
    fleet = Fleet(replicas=1)
    fleet.rest_url = f"http://127.0.0.1:{fleet.gateways[0].http_port}"
    yield fleet
    fleet.stop()


def sdk(fleet, caller="orders"):
    key = fleet.KEYS[caller][0]
    return HubSpot(access_token=key, host=fleet.rest_url, base_url=fleet.rest_url)


def http(fleet, method, path, body=None, headers=None, caller="orders"):
    request = urllib.request.Request(fleet.rest_url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {fleet.KEYS[caller][0]}", "Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_sdk_creates_reads_updates_searches_and_archives_contacts_through_the_gateway(rest_fleet):
    client = sdk(rest_fleet)
    created = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "sdk@example.com", "firstname": "Sdk"}))
    assert created.id and created.properties["email"] == "sdk@example.com"
    fetched = client.crm.contacts.basic_api.get_by_id(created.id, properties=["email", "firstname"])
    assert fetched.properties["firstname"] == "Sdk"
    updated = client.crm.contacts.basic_api.update(created.id, SimplePublicObjectInput(properties={"lastname": "Kit"}))
    assert updated.properties["lastname"] == "Kit"
    found = client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name="email", operator="EQ", value="sdk@example.com")])], properties=["email"]))
    assert [r.id for r in found.results] == [created.id] and found.total == 1
    client.crm.contacts.basic_api.archive(created.id)
    with pytest.raises(NotFoundException) as missing:
        client.crm.contacts.basic_api.get_by_id(created.id)
    assert json.loads(missing.value.body)["category"] == "OBJECT_NOT_FOUND"


def test_batches_answer_per_input_and_list_pages(rest_fleet):
    client = sdk(rest_fleet)
    made = client.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[SimplePublicObjectBatchInputForCreate(properties={"email": f"batch{n}@example.com"}) for n in range(3)]))
    ids = [r.id for r in made.results]
    assert len(ids) == 3
    read = client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=i) for i in ids] + [SimplePublicObjectId(id="999999999")], properties=["email"]))
    assert sorted(r.id for r in read.results) == sorted(ids)
    assert read.num_errors == 1 and read.errors[0].context["ids"] == ["999999999"]
    page = client.crm.contacts.basic_api.get_page(limit=2)
    assert len(page.results) == 2 and page.paging.next.after


def test_a_bad_key_is_hubspots_401_and_a_reader_cannot_write(rest_fleet):
    bad = HubSpot(access_token="not-a-key", host=rest_fleet.rest_url, base_url=rest_fleet.rest_url)
    with pytest.raises(UnauthorizedException) as unauthorized:
        bad.crm.contacts.basic_api.get_page(limit=1)
    assert json.loads(unauthorized.value.body)["category"] == "INVALID_AUTHENTICATION"
    with pytest.raises(ApiException) as forbidden:
        sdk(rest_fleet, "analytics").crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "r@example.com"}))
    assert forbidden.value.status == 403


def test_a_conditional_get_is_304_until_the_record_changes(rest_fleet):
    status, _, body = http(rest_fleet, "POST", "/crm/v3/objects/contacts", {"properties": {"email": "etag@example.com"}})
    assert status == 201
    contact = json.loads(body)["id"]
    status, headers, _ = http(rest_fleet, "GET", f"/crm/v3/objects/contacts/{contact}")
    assert status == 200 and headers["X-Gateway-Cache"] in ("hit", "miss")
    etag = headers["ETag"]
    status, headers, body = http(rest_fleet, "GET", f"/crm/v3/objects/contacts/{contact}", headers={"If-None-Match": etag})
    assert status == 304 and body == b""
    status, _, _ = http(rest_fleet, "PATCH", f"/crm/v3/objects/contacts/{contact}", {"properties": {"firstname": "Changed"}})
    assert status == 200
    status, headers, _ = http(rest_fleet, "GET", f"/crm/v3/objects/contacts/{contact}", headers={"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag
    # A write through the gRPC API changes what REST serves too.
    import grpc
    from hubspot.gateway.v1 import contacts_pb2, contacts_pb2_grpc
    etag = headers["ETag"]
    status, _, _ = http(rest_fleet, "GET", f"/crm/v3/objects/contacts/{contact}", headers={"If-None-Match": etag})
    assert status == 304
    grpc_contacts = contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(rest_fleet.gateways[0].address))
    grpc_contacts.UpdateContact(contacts_pb2.UpdateContactRequest(contact=contacts_pb2.Contact(id=contact, first_name="ByGRPC")),
                                metadata=rest_fleet.metadata(), timeout=30)
    status, headers, body = http(rest_fleet, "GET", f"/crm/v3/objects/contacts/{contact}?properties=firstname",
                                 headers={"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag and json.loads(body)["properties"]["firstname"] == "ByGRPC"


def test_bad_input_gets_hubspots_error_shape(rest_fleet):
    status, _, body = http(rest_fleet, "POST", "/crm/v3/objects/contacts", None)
    assert status == 400 and json.loads(body)["category"] == "VALIDATION_ERROR"
    status, _, body = http(rest_fleet, "POST", "/crm/v3/objects/contacts/batch/read", {"inputs": [{"id": "1"}] * 101})
    assert status == 400 and "limited to 100" in json.loads(body)["message"]
    status, _, body = http(rest_fleet, "GET", "/crm/v3/objects/contacts/a@b.c?propertiesWithHistory=email&idProperty=email")
    assert status == 400 and "propertiesWithHistory is read by id only" in json.loads(body)["message"]
    malformed = raw(rest_fleet, "POST", "/crm/v3/objects/contacts", b'{"properties": {"email": ')
    assert malformed[0] == 400 and json.loads(malformed[1])["category"] == "VALIDATION_ERROR", malformed
    oversize = raw(rest_fleet, "POST", "/crm/v3/objects/contacts/batch/create", b'{"inputs": [' + b" " * (3 * 1024 * 1024) + b"]}")
    assert oversize[0] == 413 and json.loads(oversize[1])["status"] == "error", oversize[0]


def raw(fleet, method, path, data):
    """(status, body) of a request with `data` sent as it is (not necessarily JSON)."""
    request = urllib.request.Request(fleet.rest_url + path, method=method, data=data,
                                     headers={"Authorization": f"Bearer {fleet.KEYS['orders'][0]}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_associations_v4_properties_pipelines_and_owners_through_the_sdk(rest_fleet):
    from hubspot.crm.associations.v4 import (AssociationSpec, BatchInputPublicDefaultAssociationMultiPost,
                                             BatchInputPublicFetchAssociationsBatchRequest, PublicDefaultAssociationMultiPost,
                                             PublicFetchAssociationsBatchRequest, PublicObjectId)
    from hubspot.crm.objects import SimplePublicObjectInputForCreate as ObjectInput
    client = sdk(rest_fleet)
    contact = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "v4@example.com"}))
    company = client.crm.objects.basic_api.create("companies", ObjectInput(properties={"name": "V4 Inc"}))
    v4 = client.crm.associations.v4
    v4.basic_api.create_default("contacts", contact.id, "companies", company.id)
    labelled = v4.basic_api.create("contacts", contact.id, "companies", company.id,
                                   [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)])
    assert labelled.labels == ["Primary"]
    page = v4.basic_api.get_page("contacts", contact.id, "companies")
    assert [str(r.to_object_id) for r in page.results] == [company.id]
    assert sorted(t.type_id for t in page.results[0].association_types) == [1, 279]
    second = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "v4b@example.com"}))
    v4.batch_api.create_default("contacts", "companies", BatchInputPublicDefaultAssociationMultiPost(inputs=[
        PublicDefaultAssociationMultiPost(_from=PublicObjectId(id=second.id), to=PublicObjectId(id=company.id))]))
    batch = v4.batch_api.get_page("companies", "contacts", BatchInputPublicFetchAssociationsBatchRequest(
        inputs=[PublicFetchAssociationsBatchRequest(id=company.id)]))
    assert sorted(str(t.to_object_id) for t in batch.results[0].to) == sorted([contact.id, second.id])
    v4.basic_api.archive("contacts", contact.id, "companies", company.id)
    assert v4.basic_api.get_page("contacts", contact.id, "companies").results == []

    properties = client.crm.properties.core_api.get_all("contacts").results
    assert any(p.name == "email" and p.has_unique_value for p in properties)
    pipelines = client.crm.pipelines.pipelines_api.get_all("deals").results
    assert [p.id for p in pipelines] == ["default", "renewals"] and pipelines[0].stages[0].metadata["probability"]
    owners = client.crm.owners.owners_api.get_page(email="ada@example.com").results
    assert [o.first_name for o in owners] == ["Ada"]


def test_unknown_paths_and_methods_answer_in_hubspots_error_shape(rest_fleet):
    status, _, body = http(rest_fleet, "GET", "/crm/v3/no/such/path")
    assert status == 404 and "openapi.json" in json.loads(body)["message"]
    status, headers, body = http(rest_fleet, "PUT", "/crm/v3/objects/contacts")
    assert status == 405 and headers["Allow"] == "GET, POST" and json.loads(body)["status"] == "error"
    status, _, body = http(rest_fleet, "GET", "/openapi.json")
    assert status == 200 and "/crm/v3/objects/{type}/{id}" in json.loads(body)["paths"]


def test_a_type_id_path_shares_the_named_types_cache_and_legacy_v3_association_paths_point_to_v4(rest_fleet):
    status, _, body = http(rest_fleet, "POST", "/crm/v3/objects/contacts", {"properties": {"email": "alias@example.com"}})
    contact = json.loads(body)["id"]
    status, headers, _ = http(rest_fleet, "GET", f"/crm/v3/objects/contacts/{contact}")
    assert status == 200
    # `0-1` is contacts: the entry the named read cached answers it.
    status, headers, _ = http(rest_fleet, "GET", f"/crm/v3/objects/0-1/{contact}")
    assert status == 200 and headers["X-Gateway-Cache"] == "hit"
    status, _, body = http(rest_fleet, "GET", f"/crm/v3/objects/contacts/{contact}/associations/companies")
    assert status == 404 and "/crm/v4/objects/" in json.loads(body)["message"]
    status, _, body = http(rest_fleet, "GET", "/crm/v4/associations/contacts/companies/labels")
    assert status == 200 and {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"} in json.loads(body)["results"]


def test_a_rest_patch_of_a_deal_to_a_stage_of_another_pipeline_is_refused_before_hubspot(rest_fleet):
    """The deal-stage rule is the domain's, so REST and gRPC give the same answer."""
    status, _, body = http(rest_fleet, "POST", "/crm/v3/objects/deals", {"properties": {"dealname": "Stage via REST", "dealstage": "qualifiedtobuy"}})
    assert status == 201, body
    deal_id = json.loads(body)["id"]
    updates = lambda: rest_fleet.sim_admin("GET", "/_sim/stats")["byEndpoint"].get("objects.update", 0) + \
        rest_fleet.sim_admin("GET", "/_sim/stats")["byEndpoint"].get("objects.batch.update", 0)
    before = updates()
    status, _, body = http(rest_fleet, "PATCH", f"/crm/v3/objects/deals/{deal_id}", {"properties": {"dealstage": "renewalwon"}})
    assert status == 400, body
    answer = json.loads(body)
    assert answer["category"] == "VALIDATION_ERROR" and "closedwon" in answer["message"], answer
    assert updates() == before, "no HubSpot write was made"
    # Into the other pipeline with its own stage: allowed.
    status, _, body = http(rest_fleet, "PATCH", f"/crm/v3/objects/deals/{deal_id}", {"properties": {"dealstage": "renewalwon", "pipeline": "renewals"}})
    assert status == 200 and json.loads(body)["properties"]["dealstage"] == "renewalwon", body
    # A create naming a stage of no pipeline it is in: refused too.
    status, _, body = http(rest_fleet, "POST", "/crm/v3/objects/deals", {"properties": {"dealname": "x", "dealstage": "renewalwon"}})
    assert status == 400, body


def test_rest_and_grpc_refuse_the_same_object_type_names_before_hubspot(rest_fleet):
    import grpc
    from hubspot.gateway.v1 import objects_pb2, objects_pb2_grpc

    stub = objects_pb2_grpc.ObjectsServiceStub(grpc.insecure_channel(rest_fleet.gateways[0].address))
    for name, refused in [("x" * 101, True), ("con tacts", True), ("p" + "1" * 99, False)]:
        status, _, body = http(rest_fleet, "GET", f"/crm/v3/objects/{urllib.request.quote(name)}/1")
        with pytest.raises(grpc.RpcError) as error:
            stub.GetObject(objects_pb2.GetObjectRequest(object_type=name, id="1"), metadata=rest_fleet.metadata(), timeout=30)
        assert status == 400 and error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, status, error.value)
        # Refused by the gateway alike on both APIs; a well-formed name reaches HubSpot, which
        # does not know it.
        gateways_own = "is not an object type name"
        assert (gateways_own in json.loads(body)["message"]) == refused, (name, body)
        assert (gateways_own in error.value.details()) == refused, (name, error.value.details())
