"""The simulator SDK suite's scenarios run twice — HubSpot's Python SDK pointed at hubspot-sim
directly, and pointed at a gateway in front of that same simulator — and the two answers must
match: an SDK integration that moves behind the gateway sees no difference.

Each scenario returns what a caller observes, with the parts that differ by nature (record ids,
timestamps, correlation ids) replaced, so that equality means "the same behaviour"."""
import json
import re
import uuid

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.objects import SimplePublicObjectInputForCreate as ObjectInputForCreate

from gateway_fleet import Fleet


@pytest.fixture(scope="module")
def fronts():
    """The same simulator, reached directly and through a gateway."""
    fleet = Fleet(replicas=1, sim_args=("--seed", "0"))
    gateway_url = f"http://127.0.0.1:{fleet.gateways[0].http_port}"
    yield {
        "hubspot-sim": HubSpot(access_token="pat-sim-token", host=fleet.sim_url, base_url=fleet.sim_url),
        "gateway": HubSpot(access_token=Fleet.KEYS["orders"][0], host=gateway_url, base_url=gateway_url),
    }
    fleet.stop()


def normalized(text: str, *known: str) -> str:
    """`text` with the given values (emails, ids of this run) named and other numbers as N."""
    for index, value in enumerate(known):
        text = text.replace(value, f"<{index}>")
    return re.sub(r"\d+", "N", text)


def failure(call):
    """(status, category, message) of a call that must fail."""
    with pytest.raises(Exception) as raised:
        call()
    error = raised.value
    body = json.loads(error.body) if getattr(error, "body", None) else {}
    return error.status, body.get("category"), body.get("message")


def create(client, **properties):
    return client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties=properties))


def round_trip(client, tag):
    email = f"ada-{tag}@example.com"
    created = create(client, email=email, firstname="Ada")
    basic = client.crm.contacts.basic_api
    fetched = basic.get_by_id(created.id, properties=["email", "firstname", "phone"]).properties
    updated = basic.update(created.id, SimplePublicObjectInput(properties={"lastname": "Lovelace"})).properties["lastname"]
    by_email = basic.get_by_id(email, id_property="email").id == created.id
    basic.archive(created.id)
    missing = failure(lambda: basic.get_by_id(created.id))
    return {"fetched": {k: v and v.replace(email, "<email>") for k, v in fetched.items()}, "updated": updated,
            "by_email": by_email, "missing": (missing[0], missing[1])}


def conflicts_and_validation(client, tag):
    email = f"dup-{tag}@example.com"
    first = create(client, email=email)
    conflict = failure(lambda: create(client, email=email))
    unknown = failure(lambda: create(client, email=f"x-{tag}@example.com", shoe_size="44"))
    return {"conflict": normalized(str(conflict), first.id), "unknown_property": normalized(str(unknown))}


def batches(client, tag):
    batch = client.crm.contacts.batch_api
    emails = [f"b{i}-{tag}@example.com" for i in range(3)]
    created = batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        SimplePublicObjectBatchInputForCreate(properties={"email": e}) for e in emails]))
    ids = [r.id for r in created.results]
    read = batch.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=i) for i in ids] + [SimplePublicObjectId(id="999999999")],
        properties=["email"], properties_with_history=[]))
    updated = batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        SimplePublicObjectBatchInput(id=i, properties={"firstname": "Batch"}) for i in ids]))
    upserted = batch.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id_property="email", id=emails[0], properties={"lastname": "Old"}),
        SimplePublicObjectBatchInputUpsert(id_property="email", id=f"new-{tag}@example.com", properties={"lastname": "New"}),
    ]))
    batch.archive(BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=i) for i in ids]))
    too_many = failure(lambda: batch.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=str(i)) for i in range(101)], properties=[], properties_with_history=[])))
    return {
        "created": (created.status, len(created.results)),
        "read": (sorted(r.properties["email"].replace(tag, "<tag>") for r in read.results), read.num_errors,
                 read.errors[0].category, read.errors[0].context),
        "updated": sorted(r.properties["firstname"] for r in updated.results),
        "upserted": sorted((r.properties["email"].replace(tag, "<tag>"), r.new) for r in upserted.results),
        "too_many": (too_many[0], too_many[1]),
    }


def search_and_paging(client, tag):
    for i in range(5):
        create(client, email=f"s{i}-{tag}@example.com", firstname=f"Searcher{i}", lastname=tag)
    request = PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name="lastname", operator="EQ", value=tag)])],
        sorts=["firstname"], properties=["firstname"], limit=2)
    pages, after = [], None
    while True:
        request.after = after
        page = client.crm.contacts.search_api.do_search(public_object_search_request=request)
        pages.append([r.properties["firstname"] for r in page.results])
        if not page.paging:
            break
        after = page.paging.next.after
    return {"pages": pages}


def deals_and_associations(client, tag):
    deal = client.crm.objects.basic_api.create("deals", ObjectInputForCreate(properties={"dealname": f"Big {tag}", "amount": "1000"}))
    contact = create(client, email=f"assoc-{tag}@example.com")
    amount = client.crm.deals.basic_api.get_by_id(deal.id).properties["amount"]
    basic = client.crm.associations.v4.basic_api
    basic.create_default("contacts", contact.id, "deals", deal.id)
    listed = basic.get_page("contacts", contact.id, "deals").results
    labelled = basic.create("contacts", contact.id, "deals", deal.id,
                            [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=4)])
    basic.archive("contacts", contact.id, "deals", deal.id)
    after = basic.get_page("contacts", contact.id, "deals").results
    return {"amount": amount,
            "listed": [(str(r.to_object_id) == deal.id, sorted(t.type_id for t in r.association_types)) for r in listed],
            "labelled": labelled.labels, "after_archive": len(after)}


def metadata(client, tag):
    properties = client.crm.properties.core_api.get_all("contacts").results
    email = next(p for p in properties if p.name == "email")
    pipelines = client.crm.pipelines.pipelines_api.get_all("deals").results
    return {"property_names": sorted(p.name for p in properties), "email": (email.type, email.has_unique_value),
            "pipelines": sorted((p.id, sorted(s.id for s in p.stages)) for p in pipelines)}


def not_found_and_unknown_type(client, tag):
    missing = failure(lambda: client.crm.contacts.basic_api.get_by_id("987654321"))
    unknown_type = failure(lambda: client.crm.objects.basic_api.get_by_id("widgets", "1"))
    return {"missing": (missing[0], missing[1]), "unknown_type": unknown_type[0]}


def type_ids_as_paths(client, tag):
    """`0-1` is contacts and `0-3` deals, on HubSpot and through the gateway alike."""
    created = create(client, email=f"byid-{tag}@example.com", firstname="Typed")
    fetched = client.crm.objects.basic_api.get_by_id("0-1", created.id, properties=["firstname"]).properties["firstname"]
    deal = client.crm.objects.basic_api.create("0-3", ObjectInputForCreate(properties={"dealname": f"Typed {tag}"}))
    return {"fetched": fetched, "deal": client.crm.deals.basic_api.get_by_id(deal.id).properties["dealname"].replace(tag, "<tag>")}


@pytest.mark.parametrize("scenario", [round_trip, conflicts_and_validation, batches, search_and_paging,
                                      deals_and_associations, metadata, not_found_and_unknown_type, type_ids_as_paths],
                         ids=lambda scenario: scenario.__name__)
def test_the_sdk_sees_the_same_answers_from_the_gateway_as_from_hubspot(fronts, scenario):
    answers = {name: scenario(client, f"{name[:3]}{uuid.uuid4().hex[:8]}") for name, client in fronts.items()}
    assert answers["gateway"] == answers["hubspot-sim"]
