"""A deal with its lines in one answer (issue 35): GetDeal with include_line_items returns the
deal's line items in their order, each with its product, the lines and products read through
the shared cache and batch reads. Real processes: a gateway, redis-server, hubspot-sim; grpcio."""
import concurrent.futures

import grpc
import pytest

from gateway_fleet import Fleet
from hubspot.gateway.v1 import deals_pb2, deals_pb2_grpc, objects_pb2, objects_pb2_grpc


@pytest.fixture(scope="module")
def fleet():
    fleet = Fleet(replicas=1, sim_args=("--seed", "10"))
    yield fleet
    fleet.stop()


def test_getdeal_answers_its_lines_with_their_products_and_later_reads_come_from_the_cache(fleet):
    channel = grpc.insecure_channel(fleet.gateways[0].address)
    objects = objects_pb2_grpc.ObjectsServiceStub(channel)
    deals = deals_pb2_grpc.DealsServiceStub(channel)
    widget = objects.CreateObject(objects_pb2.CreateObjectRequest(
        object_type="products", properties={"name": "Widget", "price": "19.99", "hs_sku": "W-1"}),
        metadata=fleet.metadata(), timeout=30).object
    created = deals.CreateDeal(deals_pb2.CreateDealRequest(
        deal=deals_pb2.Deal(name="Order 1001", stage="appointmentscheduled"),
        line_items=[deals_pb2.LineItemInput(product_id=widget.id, quantity="3", properties={"hs_position_on_quote": "0"}),
                    deals_pb2.LineItemInput(name="Shipping", price="5.00", properties={"hs_position_on_quote": "1"})]),
        metadata=fleet.metadata(), timeout=30)
    deal_id = created.deal.id

    answer = deals.GetDeal(deals_pb2.GetDealRequest(id=deal_id, include_line_items=True), metadata=fleet.metadata(), timeout=30)
    assert answer.deal.name == "Order 1001"
    assert [line.name for line in answer.line_items] == ["Widget", "Shipping"]
    first, shipping = answer.line_items
    assert first.product.id == widget.id and first.product.sku == "W-1" and first.product.name == "Widget"
    assert first.quantity == "3" and first.price == "19.99"
    assert not shipping.HasField("product") and shipping.price == "5.00"
    # Without the flag: the deal alone.
    assert not deals.GetDeal(deals_pb2.GetDealRequest(id=deal_id), metadata=fleet.metadata(), timeout=30).line_items

    # Many callers at once: each asks HubSpot only for the deal's associations; lines and
    # products come from the cache the first read filled.
    before = fleet.sim_admin("GET", "/_sim/stats")["byEndpoint"]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: deals.GetDeal(deals_pb2.GetDealRequest(id=deal_id, include_line_items=True),
                                                      metadata=fleet.metadata(), timeout=30), range(8)))
    assert all([line.id for line in a.line_items] == [line.id for line in answer.line_items] for a in answers)
    after = fleet.sim_admin("GET", "/_sim/stats")["byEndpoint"]
    assert after.get("objects.batch.read", 0) == before.get("objects.batch.read", 0), (before, after)
    assert after["associations.batch.read"] - before.get("associations.batch.read", 0) == 8


def test_a_caller_without_the_line_items_scope_is_refused_clearly(fleet):
    deals = deals_pb2_grpc.DealsServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
    deal_id = deals.ListDeals(deals_pb2.ListDealsRequest(), metadata=fleet.metadata(), timeout=30).deals[0].id
    with pytest.raises(grpc.RpcError) as refused:
        deals.GetDeal(deals_pb2.GetDealRequest(id=deal_id, include_line_items=True, line_item_properties=["bad name!"]),
                      metadata=fleet.metadata(), timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "line_item_properties" in refused.value.details()
