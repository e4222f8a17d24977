"""CRM v3 objects through HubSpot's official Python SDK, against hubspot-sim."""
import json

import pytest
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,

    PublicMergeInput,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import NotFoundException, UnauthorizedException
from hubspot.crm.objects import SimplePublicObjectInputForCreate as ObjectInputForCreate


def create_contact(client, **properties):
    return client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties=properties))


def body_of(error: ApiException) -> dict:
    return json.loads(error.body)


def test_create_get_update_archive_round_trip(client):
    created = create_contact(client, email="ada@example.com", firstname="Ada")
    assert created.id and created.properties["hs_object_id"] == created.id
    assert created.created_at is not None and created.archived is False

    fetched = client.crm.contacts.basic_api.get_by_id(created.id, properties=["email", "firstname", "phone"])
    assert fetched.properties == {"email": "ada@example.com", "firstname": "Ada", "phone": None}

    updated = client.crm.contacts.basic_api.update(created.id, SimplePublicObjectInput(properties={"lastname": "Lovelace"}))
    assert updated.properties["lastname"] == "Lovelace"
    assert updated.updated_at >= updated.created_at

    client.crm.contacts.basic_api.archive(created.id)
    with pytest.raises(NotFoundException) as missing:
        client.crm.contacts.basic_api.get_by_id(created.id)
    assert missing.value.status == 404
    assert body_of(missing.value)["category"] == "OBJECT_NOT_FOUND"
    archived = client.crm.contacts.basic_api.get_by_id(created.id, archived=True)
    assert archived.archived is True


def test_get_by_email_id_property(client):
    created = create_contact(client, email="by@email.com")
    fetched = client.crm.contacts.basic_api.get_by_id("by@email.com", id_property="email")
    assert fetched.id == created.id


def test_duplicate_email_raises_409_naming_the_existing_id(client):
    first = create_contact(client, email="dup@example.com")
    with pytest.raises(ApiException) as conflict:
        create_contact(client, email="dup@example.com")
    assert conflict.value.status == 409
    body = body_of(conflict.value)
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {first.id}"
    assert conflict.value.headers["X-HubSpot-Correlation-Id"] == body["correlationId"]


def test_unknown_property_is_a_validation_error(client):
    with pytest.raises(ApiException) as invalid:
        create_contact(client, email="x@example.com", shoe_size="44")
    assert invalid.value.status == 400
    body = body_of(invalid.value)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid:")
    assert '"PROPERTY_DOESNT_EXIST"' in body["message"] and '"name":"shoe_size"' in body["message"]


def test_get_all_pages_through_every_record(sim, start_simulator):
    seeded = start_simulator("--seed", "230", "--burst-limit", "0")
    contacts = seeded.client().crm.contacts.get_all(properties=["email"])
    assert len(contacts) == 230
    assert len({c.id for c in contacts}) == 230
    assert all(c.properties["email"].endswith("@example.com") for c in contacts)
    page = seeded.client().crm.contacts.basic_api.get_page(limit=7, associations=["companies"])
    assert len(page.results) == 7 and page.paging.next.after
    assert all(r.associations["companies"].results for r in page.results)


def test_batch_read_create_update_upsert_archive(client):
    batch = client.crm.contacts.batch_api
    created = batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        SimplePublicObjectBatchInputForCreate(properties={"email": f"b{i}@example.com"}) for i in range(3)
    ]))
    assert created.status == "COMPLETE" and len(created.results) == 3
    ids = [r.id for r in created.results]

    read = batch.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=i) for i in ids] + [SimplePublicObjectId(id="999999")],
        properties=["email"], properties_with_history=[]))
    # 207: the SDK hands back the multi-status model with the error of the missing id.
    assert {r.id for r in read.results} == set(ids)
    assert read.num_errors == 1 and read.errors[0].context["ids"] == ["999999"]

    updated = batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        SimplePublicObjectBatchInput(id=i, properties={"firstname": "Batch"}) for i in ids
    ]))
    assert {r.properties["firstname"] for r in updated.results} == {"Batch"}

    upserted = batch.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id_property="email", id="b0@example.com", properties={"lastname": "Old"}),
        SimplePublicObjectBatchInputUpsert(id_property="email", id="new@example.com", properties={"lastname": "New"}),
    ]))
    assert {r.properties["email"]: r.new for r in upserted.results} == {"b0@example.com": False, "new@example.com": True}

    batch.archive(BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=i) for i in ids]))
    with pytest.raises(NotFoundException):
        client.crm.contacts.basic_api.get_by_id(ids[0])


def test_batch_over_one_hundred_inputs_is_rejected(client):
    with pytest.raises(ApiException) as too_many:
        client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=str(i)) for i in range(101)], properties=[], properties_with_history=[]))
    assert too_many.value.status == 400


def test_merge_keeps_the_primary(client):
    primary = create_contact(client, email="p@example.com")
    other = create_contact(client, email="o@example.com", phone="555")
    merged = client.crm.contacts.basic_api.merge(PublicMergeInput(primary_object_id=primary.id, object_id_to_merge=other.id))
    assert merged.id == primary.id and merged.properties["phone"] == "555"


def test_generic_objects_api_with_deals_and_a_custom_type(client):
    deal = client.crm.objects.basic_api.create("deals", ObjectInputForCreate(properties={"dealname": "Big", "amount": "1000"}))
    assert client.crm.deals.basic_api.get_by_id(deal.id).properties["amount"] == "1000"
    car = client.crm.objects.basic_api.create("cars", ObjectInputForCreate(properties={"vin": "VIN1", "make": "Volvo"}))
    fetched = client.crm.objects.basic_api.get_by_id("2-1", car.id, properties=["vin", "make"])
    assert fetched.properties == {"vin": "VIN1", "make": "Volvo"}
    from hubspot.crm.objects import ApiException as ObjectsApiException

    with pytest.raises(ObjectsApiException) as unknown:
        client.crm.objects.basic_api.get_by_id("widgets", "1")
    assert unknown.value.status == 400


def test_properties_api_lists_the_schema(client):
    properties = client.crm.properties.core_api.get_all("contacts").results
    email = next(p for p in properties if p.name == "email")
    assert email.has_unique_value is True and email.type == "string"


def test_wrong_token_raises_unauthorized(sim):
    with pytest.raises(UnauthorizedException) as denied:
        sim.client(token="pat-wrong").crm.contacts.basic_api.get_page()
    assert body_of(denied.value)["category"] == "INVALID_AUTHENTICATION"
