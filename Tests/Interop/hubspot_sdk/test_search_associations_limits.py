"""Search, associations v4, rate limits and faults through HubSpot's official Python SDK."""
import json

import pytest
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicDefaultAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
    PublicObjectId,
)
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest, SimplePublicObjectInputForCreate
from hubspot.crm.contacts.exceptions import ServiceException


def create(client, object_type, **properties):
    return client.crm.objects.basic_api.create(object_type, SimplePublicObjectInputForCreate(properties=properties))


def test_search_filters_sorts_and_pages(client):
    for i, stage in enumerate(["lead", "customer", "lead", "lead", "subscriber"]):
        create(client, "contacts", email=f"s{i}@acme.com", firstname=f"N{i}", lifecyclestage=stage)
    request = PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}]}],
        sorts=[{"propertyName": "firstname", "direction": "DESCENDING"}],
        properties=["firstname"], limit=2)
    first = client.crm.contacts.search_api.do_search(request)
    assert first.total == 3
    assert [r.properties["firstname"] for r in first.results] == ["N3", "N2"]
    request.after = first.paging.next.after
    second = client.crm.contacts.search_api.do_search(request)
    assert [r.properties["firstname"] for r in second.results] == ["N0"]
    assert second.paging is None


def test_search_past_ten_thousand_is_rejected(client):
    with pytest.raises(ApiException) as rejected:
        client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(after="10000", limit=10))
    assert rejected.value.status == 400
    assert json.loads(rejected.value.body)["category"] == "VALIDATION_ERROR"


def test_associations_default_labelled_list_batch_and_delete(client):
    contact = create(client, "contacts", email="a@acme.com")
    company = create(client, "companies", name="Acme")
    v4 = client.crm.associations.v4
    v4.basic_api.create_default("contacts", contact.id, "companies", company.id)
    labelled = v4.basic_api.create("contacts", contact.id, "companies", company.id,
                                   [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)])
    assert labelled.labels == ["Primary"]

    page = v4.basic_api.get_page("contacts", contact.id, "companies")
    # HubSpot sends toObjectId as a JSON number; the SDK's model hands it over as a string.
    assert [str(r.to_object_id) for r in page.results] == [company.id]
    assert sorted(t.type_id for t in page.results[0].association_types) == [1, 279]

    second = create(client, "contacts", email="b@acme.com")
    v4.batch_api.create_default("contacts", "companies", BatchInputPublicDefaultAssociationMultiPost(inputs=[
        PublicDefaultAssociationMultiPost(_from=PublicObjectId(id=second.id), to=PublicObjectId(id=company.id))]))
    batch = v4.batch_api.get_page("companies", "contacts", BatchInputPublicFetchAssociationsBatchRequest(
        inputs=[PublicFetchAssociationsBatchRequest(id=company.id)]))
    assert sorted(str(t.to_object_id) for t in batch.results[0].to) == sorted([contact.id, second.id])

    v4.basic_api.archive("contacts", contact.id, "companies", company.id)
    assert v4.basic_api.get_page("contacts", contact.id, "companies").results == []


def test_rate_limit_surfaces_as_429_with_hubspots_policy(start_simulator):
    limited = start_simulator("--burst-limit", "3", "--burst-interval-ms", "60000")
    client = limited.client()
    for _ in range(3):
        client.crm.contacts.basic_api.get_page(limit=1)
    with pytest.raises(ApiException) as refused:
        client.crm.contacts.basic_api.get_page(limit=1)
    assert refused.value.status == 429
    body = json.loads(refused.value.body)
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert refused.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    stats = limited.admin("GET", "/_sim/stats")
    assert stats["rateLimited"] == 1 and stats["slidingWindow"]["maxAdmitted"] == 3


def test_search_secondly_limit(start_simulator):
    limited = start_simulator("--search-per-second", "1", "--search-interval-ms", "30000")
    client = limited.client()
    client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=1))
    with pytest.raises(ApiException) as refused:
        client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=1))
    assert refused.value.status == 429
    assert json.loads(refused.value.body)["policyName"] == "SECONDLY"


def test_outage_surfaces_as_service_exception(sim, client):
    sim.admin("PUT", "/_sim/faults", {"outage": True})
    try:
        with pytest.raises(ServiceException) as down:
            client.crm.contacts.basic_api.get_page()
        assert down.value.status == 503
    finally:
        sim.admin("DELETE", "/_sim/faults")
    assert client.crm.contacts.basic_api.get_page().results == []
