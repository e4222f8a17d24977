"""The marketing service's import and its follow-up (against `hubspot-gateway --sandbox` with
Redis: `python examples/marketing_service.py --key <key> [--records 2000]`):

1. a list of contacts is handed to the gateway as one durable write job (upserts by email, at
   bulk priority, so interactive callers keep their share of HubSpot's budget), and its
   progress is followed until every record has an outcome;
2. the service listens for lifecycle-stage changes, and sees the one a salesperson makes
   (played here by an update through the gateway);
3. before a campaign goes out, consent is checked: the subscription statuses of every
   recipient in one call, and only those subscribed to the marketing type are sent to; a lead
   who opts in (with the lawful basis HubSpot records) is seen at once, as is one who opts out."""
import threading
import time
import uuid

from _common import connect
from hubspot_gateway_client.v1 import changes_pb2, contacts_pb2, jobs_pb2, preferences_pb2

client, arguments = connect(__doc__)
campaign = uuid.uuid4().hex[:8]
emails = [f"lead-{campaign}-{n}@example.com" for n in range(arguments.records)]


def inputs():
    for n, email in enumerate(emails):
        yield jobs_pb2.JobInput(object_type="contacts", operation=jobs_pb2.JobInput.OPERATION_UPSERT, id_property="email",
                                properties={"email": email, "firstname": f"Lead {n}", "lifecyclestage": "subscriber"},
                                record_key=email)


started = time.monotonic()
job = client.jobs.SubmitWrites(inputs())
print(f"job {job.id}: {job.records} records stored durably in {time.monotonic() - started:.1f} s")
for progress in client.jobs.WatchJob(jobs_pb2.WatchJobRequest(job_id=job.id)):
    print(f"  done {progress.done}, failed {progress.failed}, queued {progress.queued}, in flight {progress.in_flight}")
    if progress.state in (jobs_pb2.Job.STATE_DONE, jobs_pb2.Job.STATE_CANCELLED):
        break
assert progress.state == jobs_pb2.Job.STATE_DONE and progress.done == arguments.records, progress
print(f"imported {progress.done} contacts in {time.monotonic() - started:.1f} s")

# Lifecycle-stage changes, as they happen (from the feed's oldest event, so none is missed
# between subscribing and the change below).
lead = client.contacts.GetContact(contacts_pb2.GetContactRequest(email=emails[0])).contact
seen = threading.Event()
stream = client.changes.Subscribe(changes_pb2.SubscribeRequest(
    object_types=["contacts"], property_names=["lifecyclestage"], position=changes_pb2.START_POSITION_OLDEST))


def listen():
    for event in stream:
        if event.object_id == lead.id and event.property_value == "marketingqualifiedlead":
            print(f"lifecycle stage of {lead.id} is now {event.property_value} ({event.change_source or 'unknown source'})")
            seen.set()
            return


listener = threading.Thread(target=listen, daemon=True)
listener.start()
client.contacts.UpdateContact(contacts_pb2.UpdateContactRequest(
    contact=contacts_pb2.Contact(id=lead.id, lifecycle_stage="marketingqualifiedlead")))
assert seen.wait(60), "the lifecycle-stage change did not arrive"
stream.cancel()

# The consent check before sending.
marketing = next(t for t in client.communication_preferences.ListSubscriptionTypes(
    preferences_pb2.ListSubscriptionTypesRequest()).types if t.purpose == "Marketing")
client.communication_preferences.SubscribeEmail(preferences_pb2.SubscribeEmailRequest(
    email=emails[0], subscription_id=marketing.id, legal_basis=preferences_pb2.LEGAL_BASIS_CONSENT_WITH_NOTICE,
    legal_basis_explanation="Ticked 'send me offers' on the sign-up form"))


def may_send(recipients):
    statuses = client.communication_preferences.BatchGetSubscriptionStatuses(
        preferences_pb2.BatchGetSubscriptionStatusesRequest(emails=recipients))
    return [r.email for r in statuses.recipients
            if any(s.subscription_id == marketing.id and s.state == preferences_pb2.SUBSCRIPTION_STATE_SUBSCRIBED
                   for s in r.statuses)]


audience = emails[:100]
allowed = may_send(audience)
assert allowed == [emails[0]], allowed
print(f"campaign: {len(allowed)} of {len(audience)} leads consented to '{marketing.name}'")
client.communication_preferences.UnsubscribeEmail(preferences_pb2.UnsubscribeEmailRequest(
    email=emails[0], subscription_id=marketing.id))
assert may_send(audience) == [], "an opt-out is seen by the next check"
print(f"{emails[0]} opted out: the next check leaves them out")
client.close()
