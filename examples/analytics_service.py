"""The analytics service's sync (against `hubspot-gateway --sandbox` with Redis:
`python examples/analytics_service.py --key <key>`):

1. a full load of every contact: HubSpot builds an export file (a few HubSpot calls for the
   whole type, downloaded outside the budget), then the changes made meanwhile follow in the
   same resumable stream;
2. every deal changed since a moment is exported in one resumable stream, at bulk priority
   (the trailer's cursor is where the next incremental run starts);
3. from then on the service follows the change feed as a consumer group: each event is handed
   to one member of the group and acknowledged once processed, so a member that dies leaves its
   unacknowledged events to the others."""
import datetime
import threading
import uuid

from google.protobuf import timestamp_pb2

from _common import connect
from hubspot_gateway_client.v1 import changes_pb2, deals_pb2, objects_pb2

client, _ = connect(__doc__)

full = client.objects.ExportChanged(objects_pb2.ExportChangedRequest(object_type="contacts", properties=["email", "lifecyclestage"]))
loaded = sum(1 for _ in full)
trailers = dict(full.trailing_metadata())
print(f"full load: {loaded} contacts read from {trailers['export-full-load']} in {trailers['export-hubspot-calls']} HubSpot calls")

since = timestamp_pb2.Timestamp()
since.FromDatetime(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=365))
export = client.objects.ExportChanged(objects_pb2.ExportChangedRequest(object_type="deals", since_time=since,
                                                                       properties=["dealname", "amount", "dealstage"]))
exported = sum(1 for _ in export)
trailers = dict(export.trailing_metadata())
assert exported > 0 and trailers.get("export-resume-cursor"), trailers
print(f"exported {exported} deals changed in the last year ({trailers['export-hubspot-calls']} HubSpot calls); "
      f"the next run resumes from {trailers['export-resume-cursor'][:16]}…")

group = f"analytics-{uuid.uuid4().hex[:6]}"
deal = client.deals.CreateDeal(deals_pb2.CreateDealRequest(deal=deals_pb2.Deal(name="Renewal", amount="500"))).deal
seen = threading.Event()
stream = client.changes.Subscribe(changes_pb2.SubscribeRequest(
    object_types=["deals"], group=group, member="worker-1", position=changes_pb2.START_POSITION_OLDEST))


def consume():
    for event in stream:
        # … the analytics store would be updated here …
        client.changes.AckChanges(changes_pb2.AckChangesRequest(group=group, cursors=[event.cursor]))
        if event.object_id == deal.id and event.property_name == "amount" and event.property_value == "750":
            print(f"deal {deal.id}: amount is now {event.property_value} (acknowledged for group {group})")
            seen.set()
            return


consumer = threading.Thread(target=consume, daemon=True)
consumer.start()
client.deals.UpdateDeal(deals_pb2.UpdateDealRequest(deal=deals_pb2.Deal(id=deal.id, amount="750")))
assert seen.wait(60), "the deal's change did not arrive"
stream.cancel()
client.close()
