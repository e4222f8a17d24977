"""The order service at checkout and payment (run against `hubspot-gateway --sandbox` with
Redis: `scripts/run`, then `python examples/order_service.py --key <the printed key>`):

1. the buyer is upserted by email (one call whether or not HubSpot knows them);
2. the order becomes a deal with its line items, created with an idempotency key so that a
   retry after a timeout (done here on purpose) answers the first deal instead of a second;
3. the order is read back as the fulfilment step needs it: the deal with its lines and each
   line's product, in one call;
4. on payment the deal moves to the pipeline's closed-won stage, found by its metadata rather
   than a hard-coded id, and a note and a follow-up task are logged on the deal and the buyer
   (one call each); support reads the buyer's timeline, newest first."""
import uuid

from _common import connect
from hubspot_gateway_client.v1 import common_pb2, contacts_pb2, deals_pb2, engagements_pb2, metadata_pb2, objects_pb2

client, _ = connect(__doc__)
order = uuid.uuid4().hex[:12]
email = f"buyer-{order}@example.com"

buyer = client.contacts.UpsertContact(contacts_pb2.UpsertContactRequest(
    contact=contacts_pb2.Contact(email=email, first_name="Ada", last_name="Buyer"))).contact
print(f"buyer {buyer.id} ({email})")

pipeline = client.metadata.ListPipelines(metadata_pb2.ListPipelinesRequest(object_type="deals")).pipelines[0]
first_stage = min(pipeline.stages, key=lambda stage: stage.display_order)
won = next(stage for stage in pipeline.stages if stage.is_closed and stage.probability == 1.0)

keyboard = client.objects.CreateObject(objects_pb2.CreateObjectRequest(
    object_type="products", properties={"name": "Keyboard", "price": "99.90", "hs_sku": f"KB-{order}"})).object
checkout = deals_pb2.CreateDealRequest(
    deal=deals_pb2.Deal(name=f"Order {order}", amount="129.90", pipeline=pipeline.id, stage=first_stage.id),
    contact_ids=[buyer.id], idempotency_key=f"order-{order}",
    line_items=[deals_pb2.LineItemInput(product_id=keyboard.id, quantity="1", properties={"hs_position_on_quote": "0"}),
                deals_pb2.LineItemInput(name="Cable", price="15.00", quantity="2", properties={"hs_position_on_quote": "1"})])
created = client.deals.CreateDeal(checkout)
retried = client.deals.CreateDeal(checkout)  # the same order sent again: the same deal
assert retried.deal.id == created.deal.id, "an idempotent create must not make a second deal"
print(f"deal {created.deal.id} with {len(created.line_items)} line items (a retry answered the same deal)")

# Fulfilment reads the order whole: the deal, its lines in order, each line's product.
order_read = client.deals.GetDeal(deals_pb2.GetDealRequest(id=created.deal.id, include_line_items=True))
assert [line.name for line in order_read.line_items] == ["Keyboard", "Cable"], order_read.line_items
for line in order_read.line_items:
    sku = f", SKU {line.product.sku}" if line.HasField("product") else ""
    print(f"  {line.quantity} × {line.name} at {line.price} = {line.amount}{sku}")

paid = client.deals.MoveDealStage(deals_pb2.MoveDealStageRequest(id=created.deal.id, stage=won.id, pipeline=pipeline.id)).deal
assert paid.stage == won.id
print(f"deal {paid.id} moved to {won.label}")

on_order = [common_pb2.AssociationTarget(object_type="deals", object_id=paid.id),
            common_pb2.AssociationTarget(object_type="contacts", object_id=buyer.id)]
client.engagements.CreateNote(engagements_pb2.CreateNoteRequest(
    body=f"Paid order {order}", associations=on_order, idempotency_key=f"paid-{order}"))
client.engagements.CreateTask(engagements_pb2.CreateTaskRequest(
    subject=f"Ship order {order}", priority=engagements_pb2.TASK_PRIORITY_HIGH, associations=on_order,
    idempotency_key=f"ship-{order}"))
history = client.engagements.Timeline(engagements_pb2.TimelineRequest(object_type="contacts", object_id=buyer.id))
kinds = {engagements_pb2.ENGAGEMENT_TYPE_NOTE: "note", engagements_pb2.ENGAGEMENT_TYPE_TASK: "task"}
print(f"buyer's timeline: {', '.join(kinds.get(e.type, 'other') for e in history.engagements)}")
client.close()
