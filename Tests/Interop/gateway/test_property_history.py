"""Property history (issue 35): GetObject, BatchGetObjects and ExportChanged return every value
a property held (newest first, with when and by what), read from HubSpot each time — never from
the cache — and REST serves `propertiesWithHistory` to HubSpot's own Python SDK. Real
processes: gateways, redis-server, hubspot-sim; grpcio and hubspot-api-client as callers."""
import grpc
import pytest

from gateway_fleet import Fleet
from hubspot.gateway.v1 import common_pb2, contacts_pb2, contacts_pb2_grpc, objects_pb2, objects_pb2_grpc


@pytest.fixture(scope="module")
def fleet():
    fleet = Fleet(replicas=1, args=("--export-settle-seconds", "0"),
                  sim_args=("--seed", "20"))
    yield fleet
    fleet.stop()


def edited_contact(fleet, email):
    """A contact whose first name was set three times: Ada, then Grace, then Edsger."""
    stub = contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
    created = stub.CreateContact(contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(email=email, first_name="Ada")),
                                 metadata=fleet.metadata(), timeout=30).contact
    for name in ("Grace", "Edsger"):
        stub.UpdateContact(contacts_pb2.UpdateContactRequest(contact=contacts_pb2.Contact(id=created.id, first_name=name)),
                           metadata=fleet.metadata(), timeout=30)
    return created.id


def test_a_read_with_history_has_every_value_newest_first_and_always_asks_hubspot(fleet):
    contact = edited_contact(fleet, "history@example.com")
    objects = objects_pb2_grpc.ObjectsServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
    # A plain read fills the cache first: the history read must not be served from it.
    objects.GetObject(objects_pb2.GetObjectRequest(object_type="contacts", id=contact, properties=["firstname"]),
                      metadata=fleet.metadata("analytics"), timeout=30)
    before = fleet.sim_admin("GET", "/_sim/stats")["byEndpoint"].get("objects.batch.read", 0)
    answer = objects.GetObject(objects_pb2.GetObjectRequest(
        object_type="contacts", id=contact, properties=["firstname"], properties_with_history=["firstname"],
        read_options=common_pb2.ReadOptions(max_staleness={"seconds": 3600})), metadata=fleet.metadata("analytics"), timeout=30)
    values = answer.object.properties_with_history["firstname"].values
    assert [v.value for v in values] == ["Edsger", "Grace", "Ada"]
    assert all(v.source_type == "API" and v.timestamp.seconds > 0 for v in values)
    assert [v.timestamp.ToMilliseconds() for v in values] == sorted((v.timestamp.ToMilliseconds() for v in values), reverse=True)
    assert answer.object.properties["firstname"] == "Edsger"
    assert answer.freshness.source == common_pb2.DATA_SOURCE_HUBSPOT
    assert fleet.sim_admin("GET", "/_sim/stats")["byEndpoint"]["objects.batch.read"] == before + 1, "asked HubSpot, not the cache"

    batch = objects.BatchGetObjects(objects_pb2.BatchGetObjectsRequest(
        object_type="contacts", ids=[contact, "999999999"], properties_with_history=["firstname"]),
        metadata=fleet.metadata("analytics"), timeout=30)
    assert list(batch.missing_ids) == ["999999999"]
    assert [v.value for v in batch.objects[0].properties_with_history["firstname"].values] == ["Edsger", "Grace", "Ada"]

    bad = objects.GetObject
    with pytest.raises(grpc.RpcError) as refused:
        bad(objects_pb2.GetObjectRequest(object_type="contacts", id="history@example.com", id_property="email",
                                         properties_with_history=["firstname"]), metadata=fleet.metadata("analytics"), timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "by id only" in refused.value.details()


def test_an_export_hands_out_each_records_history(fleet):
    contact = edited_contact(fleet, "exported-history@example.com")
    objects = objects_pb2_grpc.ObjectsServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
    records = list(objects.ExportChanged(objects_pb2.ExportChangedRequest(
        object_type="contacts", properties=["email"], properties_with_history=["firstname"]),
        metadata=fleet.metadata("analytics"), timeout=120))
    mine = [r for r in records if r.object.id == contact]
    assert mine and [v.value for v in mine[-1].object.properties_with_history["firstname"].values] == ["Edsger", "Grace", "Ada"]
    seeded = [r for r in records if r.object.id != contact]
    assert seeded and all(len(r.object.properties_with_history["firstname"].values) >= 1 for r in seeded)


def test_hubspots_python_sdk_reads_property_history_through_the_rest_endpoint(fleet):
    contact = edited_contact(fleet, "sdk-history@example.com")
    rest = f"http://127.0.0.1:{fleet.gateways[0].http_port}"
    from hubspot import HubSpot
    from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, SimplePublicObjectId
    client = HubSpot(access_token=fleet.KEYS["analytics"][0], host=rest, base_url=rest)
    read = client.crm.contacts.basic_api.get_by_id(contact, properties=["firstname"], properties_with_history=["firstname"])
    assert [v.value for v in read.properties_with_history["firstname"]] == ["Edsger", "Grace", "Ada"]
    assert read.properties_with_history["firstname"][0].source_type == "API"
    batch = client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=contact)], properties=["firstname"], properties_with_history=["firstname"]))
    assert [v.value for v in batch.results[0].properties_with_history["firstname"]] == ["Edsger", "Grace", "Ada"]
