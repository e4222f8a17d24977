"""Lists, whole (issue 35): static and filter-based lists created, renamed, refiltered and
deleted through grpcio, a filter-based list's members following its filter and the records'
values, members paged. Real processes: a gateway, redis-server, hubspot-sim (Lists v3)."""
import uuid

import grpc
import pytest

from gateway_fleet import Fleet
from hubspot.gateway.v1 import common_pb2, contacts_pb2, contacts_pb2_grpc, lists_pb2, lists_pb2_grpc

L = lists_pb2


@pytest.fixture(scope="module")
def fleet():
    fleet = Fleet(replicas=1, sim_args=("--seed", "0"))
    yield fleet
    fleet.stop()


def members(stub, fleet, list_id, page_size=2):
    """Every member, paged."""
    ids, cursor = [], ""
    while True:
        page = stub.ListMemberships(L.ListMembershipsRequest(list_id=list_id, page=common_pb2.PageRequest(page_size=page_size, cursor=cursor)),
                                    metadata=fleet.metadata("analytics"), timeout=30)
        ids += page.record_ids
        cursor = page.page.next_cursor
        if not cursor:
            return ids


def condition(prop, op, *values):
    return L.ListCondition(property=prop, operator=op, values=list(values))


def test_a_filter_based_list_follows_its_filter_and_a_static_one_its_adds(fleet):
    channel = grpc.insecure_channel(fleet.gateways[0].address)
    lists = lists_pb2_grpc.ListsServiceStub(channel)
    contacts = contacts_pb2_grpc.ContactsServiceStub(channel)
    tag = uuid.uuid4().hex[:8]
    made = {}
    for name, stage, city in (("a", "lead", "Berlin"), ("b", "lead", "Dublin"), ("c", "customer", "Berlin"), ("d", "lead", "")):
        made[name] = contacts.CreateContact(contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(
            email=f"{name}-{tag}@example.com", lifecycle_stage=stage, properties={"city": city} if city else {})),
            metadata=fleet.metadata(), timeout=30).contact.id

    # Leads in Berlin, or customers: a, c.
    leads = lists.CreateList(L.CreateListRequest(name=f"Berlin leads {tag}", filter=L.ListFilter(any_of=[
        L.ListConditionGroup(all_of=[condition("lifecyclestage", L.LIST_FILTER_OPERATOR_EQUALS, "lead"),
                                     condition("city", L.LIST_FILTER_OPERATOR_EQUALS, "berlin")]),
        L.ListConditionGroup(all_of=[condition("lifecyclestage", L.LIST_FILTER_OPERATOR_EQUALS, "customer")]),
    ])), metadata=fleet.metadata(), timeout=30).list
    assert leads.processing_type == "DYNAMIC" and leads.object_type_id == "0-1"
    assert sorted(members(lists, fleet, leads.id)) == sorted([made["a"], made["c"]])

    # A contact that starts to match joins; the filter changed: leads with no city known.
    contacts.UpdateContact(contacts_pb2.UpdateContactRequest(contact=contacts_pb2.Contact(id=made["b"], properties={"city": "Berlin"})),
                           metadata=fleet.metadata(), timeout=30)
    assert sorted(members(lists, fleet, leads.id)) == sorted([made["a"], made["b"], made["c"]])
    refiltered = lists.UpdateListFilter(L.UpdateListFilterRequest(list_id=leads.id, filter=L.ListFilter(any_of=[
        L.ListConditionGroup(all_of=[condition("lifecyclestage", L.LIST_FILTER_OPERATOR_EQUALS, "lead"),
                                     condition("city", L.LIST_FILTER_OPERATOR_IS_UNKNOWN)])])), metadata=fleet.metadata(), timeout=30).list
    assert refiltered.size == 1 and members(lists, fleet, leads.id) == [made["d"]]

    renamed = lists.RenameList(L.RenameListRequest(list_id=leads.id, name=f"Leads without a city {tag}"), metadata=fleet.metadata(), timeout=30).list
    assert lists.GetList(L.GetListRequest(list_id=leads.id), metadata=fleet.metadata(), timeout=30).list.name == renamed.name == f"Leads without a city {tag}"

    # A static list: members by hand.
    vip = lists.CreateList(L.CreateListRequest(name=f"VIP {tag}"), metadata=fleet.metadata(), timeout=30).list
    assert vip.processing_type == "MANUAL"
    lists.AddListMembers(L.ChangeListMembersRequest(list_id=vip.id, record_ids=[made["a"], made["d"]]), metadata=fleet.metadata(), timeout=30)
    assert members(lists, fleet, vip.id, page_size=1) == [made["a"], made["d"]]

    lists.DeleteList(L.DeleteListRequest(list_id=leads.id), metadata=fleet.metadata(), timeout=30)
    with pytest.raises(grpc.RpcError) as gone:
        lists.GetList(L.GetListRequest(list_id=leads.id), metadata=fleet.metadata(), timeout=30)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


def test_bad_lists_are_refused_clearly(fleet):
    lists = lists_pb2_grpc.ListsServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
    tag = uuid.uuid4().hex[:8]
    bad = [
        (L.CreateListRequest(name=""), "name is required"),
        (L.CreateListRequest(name=f"x {tag}", filter=L.ListFilter()), "filter.any_of must hold"),
        (L.CreateListRequest(name=f"x {tag}", filter=L.ListFilter(any_of=[L.ListConditionGroup(all_of=[
            condition("city", L.LIST_FILTER_OPERATOR_EQUALS)])])), "values must hold at least one value"),
        (L.CreateListRequest(name=f"x {tag}", filter=L.ListFilter(any_of=[L.ListConditionGroup(all_of=[
            condition("city", L.LIST_FILTER_OPERATOR_IS_KNOWN, "Berlin")])])), "values must be empty"),
    ]
    for request, message in bad:
        with pytest.raises(grpc.RpcError) as refused:
            lists.CreateList(request, metadata=fleet.metadata(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and message in refused.value.details(), refused.value.details()
    # HubSpot's own refusals come back as HubSpot said them: a name taken, a property it has not.
    lists.CreateList(L.CreateListRequest(name=f"taken {tag}"), metadata=fleet.metadata(), timeout=10)
    with pytest.raises(grpc.RpcError) as taken:
        lists.CreateList(L.CreateListRequest(name=f"taken {tag}"), metadata=fleet.metadata(), timeout=10)
    assert taken.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "already exists" in taken.value.details()
    with pytest.raises(grpc.RpcError) as unknown:
        lists.CreateList(L.CreateListRequest(name=f"y {tag}", filter=L.ListFilter(any_of=[L.ListConditionGroup(all_of=[
            condition("no_such_property", L.LIST_FILTER_OPERATOR_IS_KNOWN)])])), metadata=fleet.metadata(), timeout=10)
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "no_such_property" in unknown.value.details()
    # A reader may not create lists.
    with pytest.raises(grpc.RpcError) as reader:
        lists.CreateList(L.CreateListRequest(name=f"z {tag}"), metadata=fleet.metadata("analytics"), timeout=10)
    assert reader.value.code() == grpc.StatusCode.PERMISSION_DENIED
