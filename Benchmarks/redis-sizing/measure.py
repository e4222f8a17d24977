"""Bytes Redis holds per unit of the gateway's state and cache: the INFO used_memory growth
(the allocator's own figure, keys and their overhead included) over N units, divided by N."""
import json
import subprocess
import sys
import time
import uuid
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "Tests" / "Interop" / "gateway"))
import grpc  # noqa: E402
from gateway_fleet import Fleet, post_signed_webhook  # noqa: E402
from hubspot.gateway.v1 import contacts_pb2, contacts_pb2_grpc, jobs_pb2, jobs_pb2_grpc  # noqa: E402

SECRET, PUBLIC_URL = "sizing-secret", "https://hubspot-gateway.example.com/webhooks/hubspot"


def used(port):
    info = subprocess.run(["redis-cli", "-p", str(port), "INFO", "memory"], capture_output=True, text=True).stdout
    return int(next(line.split(":")[1] for line in info.splitlines() if line.startswith("used_memory:")))


def measure(port, count, action):
    before = used(port)
    action()
    return (used(port) - before) / count


fleet = Fleet(replicas=1, sim_args=("--seed", "2000"),
              args=("--webhook-secrets", SECRET, "--webhook-public-url", PUBLIC_URL, "--job-workers", "0"))
try:
    port = fleet.redis_port
    channel = grpc.insecure_channel(fleet.gateways[0].address)
    contacts = contacts_pb2_grpc.ContactsServiceStub(channel)
    jobs = jobs_pb2_grpc.JobsServiceStub(channel)
    rows = []

    n = 5000
    def feed():
        for start in range(0, n, 100):
            batch = [{"eventId": start + i + 10**9, "subscriptionId": 1, "portalId": 62515, "appId": 1,
                      "occurredAt": int(time.time() * 1000), "subscriptionType": "contact.propertyChange",
                      "attemptNumber": 0, "objectId": 100000 + start + i, "propertyName": "jobtitle",
                      "propertyValue": f"Title {start + i}", "changeSource": "CRM_UI"} for i in range(100)]
            assert post_signed_webhook(fleet.gateways[0], batch, SECRET, PUBLIC_URL) == 200
    rows.append(("change-feed event (a propertyChange, dedupe id included)", measure(port, n, feed), 200))

    def job():
        records = (jobs_pb2.JobInput(object_type="contacts", operation=jobs_pb2.JobInput.OPERATION_UPSERT,
                                     id_property="email", record_key=str(i),
                                     properties={"email": f"sizing{i}@example.com", "firstname": f"F{i}",
                                                 "lastname": f"L{i}", "city": "Lisbon"}) for i in range(n))
        jobs.SubmitWrites(records, metadata=fleet.metadata(), timeout=120)
    rows.append(("write-job record (4 properties, queued)", measure(port, n, job), 120))

    m = 500
    def idempotent():
        for i in range(m):
            contacts.CreateContact(contacts_pb2.CreateContactRequest(
                contact=contacts_pb2.Contact(email=f"idem{i}@example.com", first_name="I"), idempotency_key=uuid.uuid4().hex),
                metadata=fleet.metadata(), timeout=30)
    rows.append(("idempotency record (a create's answer kept 24 h)", measure(port, m, idempotent), 600))

    ids = []
    after = ""
    while len(ids) < 1000:
        page = contacts.ListContacts(contacts_pb2.ListContactsRequest(page={"page_size": 100, "cursor": after}),
                                     metadata=fleet.metadata(), timeout=30)
        ids += [c.id for c in page.contacts]
        after = page.page.next_cursor
        if not after:
            break
    def cache():
        for contact_id in ids:
            contacts.GetContact(contacts_pb2.GetContactRequest(id=contact_id), metadata=fleet.metadata("analytics"), timeout=30)
    rows.append(("cached contact (default properties)", measure(port, len(ids), cache), 400))

    print("redis-sizing: bytes of Redis memory per unit (INFO used_memory growth ÷ units); reference: the unit's payload")
    print(f"{'unit':58} {'bytes':>8} {'payload':>8}")
    for name, per, payload in rows:
        print(f"{name:58} {per:8.0f} {payload:8d}")
finally:
    fleet.stop()
