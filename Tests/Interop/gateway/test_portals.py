"""Two fleets of two HubSpot portals (a production account and a sandbox, say) on one Redis:
each keeps only its own portal's change events, its own cache and budget under its own key
prefix, and a fleet that finds another portal's state under its prefix reports not ready.
Real processes: gateways, one redis-server, two hubspot-sims (one per portal)."""
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import grpc
import pytest

from gateway_fleet import Fleet, Gateway, post_signed_webhook
from hubspot.gateway.v1 import changes_pb2, changes_pb2_grpc, contacts_pb2, contacts_pb2_grpc

PUBLIC_URL = "https://hubspot-gateway.example.com/webhooks/hubspot"
SECRET = "app-client-secret-for-tests"
PORTAL_A, PORTAL_B = 62515, 777


@pytest.fixture(scope="module")
def fleets():
    webhooks = ("--webhook-secrets", SECRET, "--webhook-public-url", PUBLIC_URL)
    # A learns its portal from its HubSpot (the simulator's account-info); B is told its own.
    a = Fleet(replicas=1, sim_args=("--seed", "20"), args=(*webhooks, "--redis-key-prefix", f"hubspot-gateway:{PORTAL_A}"))
    b = Fleet(replicas=1, sim_args=("--seed", "20", "--portal-id", str(PORTAL_B)),
              args=(*webhooks, "--redis-key-prefix", f"hubspot-gateway:{PORTAL_B}", "--hubspot-portal-id", str(PORTAL_B)),
              redis_url=f"redis://127.0.0.1:{a.redis_port}")
    yield a, b
    b.stop()
    a.stop()


def event(portal, contact_id, value):
    return {"eventId": int(uuid.uuid4().int % 10**12), "subscriptionId": 1, "portalId": portal, "appId": 1,
            "occurredAt": int(time.time() * 1000), "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
            "objectId": int(contact_id), "propertyName": "jobtitle", "propertyValue": value, "changeSource": "CRM_UI"}


def feed_until(fleet, marker, timeout=20.0):
    """The jobtitle changes of the fleet's feed from the oldest, up to the event whose value is
    `marker` (delivered last: everything delivered before it is in the feed by then)."""
    stream = changes_pb2_grpc.ChangesServiceStub(grpc.insecure_channel(fleet.gateways[0].address)).Subscribe(
        changes_pb2.SubscribeRequest(object_types=["contacts"], property_names=["jobtitle"],
                                     position=changes_pb2.START_POSITION_OLDEST),
        metadata=fleet.metadata("feeds"), timeout=timeout)
    values, done = [], threading.Event()

    def run():
        try:
            for change in stream:
                values.append(change.property_value)
                if change.property_value == marker:
                    break
        except grpc.RpcError:
            pass
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(timeout + 5) and values and values[-1] == marker, values
    stream.cancel()
    return values


def contact_reads(fleet):
    stats = fleet.sim_admin("GET", "/_sim/stats")
    return sum(stats["byEndpoint"].get(name, 0) for name in ("objects.batch.read", "objects.get"))


def redis_get(fleet, key):
    return subprocess.run(["redis-cli", "-p", str(fleet.redis_port), "GET", key], capture_output=True, text=True,
                          timeout=10).stdout.strip()


def metric(gateway, prefix):
    text = urllib.request.urlopen(f"http://127.0.0.1:{gateway.http_port}/metrics", timeout=5).read().decode()
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_each_fleet_keeps_its_own_portals_changes_cache_and_budget(fleets):
    a, b = fleets
    page = contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(a.gateways[0].address)).ListContacts(
        contacts_pb2.ListContactsRequest(), metadata=a.metadata(), timeout=30)
    shared_id = page.contacts[0].id  # the same seed: the same ids in both portals
    readers = {fleet: contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
               for fleet in (a, b)}
    request = contacts_pb2.GetContactRequest(id=shared_id, properties=["jobtitle"])
    for fleet in (a, b):  # cached in both fleets
        readers[fleet].GetContact(request, metadata=fleet.metadata("analytics"), timeout=10)
    # A learns its portal from its HubSpot at start (and keeps every event until then): wait for
    # it to have claimed its prefix for that portal.
    deadline = time.monotonic() + 20
    while redis_get(a, f"hubspot-gateway:{PORTAL_A}:portal") != str(PORTAL_A):
        assert time.monotonic() < deadline, "fleet A never learned its portal"
    token = uuid.uuid4().hex[:8]
    # One source delivers both portals' changes of the same record id to both intakes.
    for fleet in (a, b):
        batch = [event(PORTAL_A, shared_id, f"A {token}"), event(PORTAL_B, shared_id, f"B {token}")]
        assert post_signed_webhook(fleet.gateways[0], batch, SECRET, PUBLIC_URL) == 200
    for fleet, portal in ((a, PORTAL_A), (b, PORTAL_B)):
        assert post_signed_webhook(fleet.gateways[0], [event(portal, shared_id, f"end {token}")], SECRET, PUBLIC_URL) == 200
    a_feed = [v for v in feed_until(a, f"end {token}") if token in v]
    b_feed = [v for v in feed_until(b, f"end {token}") if token in v]
    assert a_feed == [f"A {token}", f"end {token}"], a_feed
    assert b_feed == [f"B {token}", f"end {token}"], b_feed
    for fleet, other in ((a, PORTAL_B), (b, PORTAL_A)):
        assert any(f'portal="{other}"' in line and 'intake="webhook"' in line and line.endswith(" 1")
                   for line in metric(fleet.gateways[0], "gateway_changes_foreign_portal_total")), metric(
            fleet.gateways[0], "gateway_changes_foreign_portal_total")

    # B's cache: another portal's change to a record B caches leaves it cached; B's own change
    # to another record, delivered after it, is what shows the delivery was processed.
    foreign_id, own_id = page.contacts[1].id, page.contacts[2].id
    for contact_id in (foreign_id, own_id):
        readers[b].GetContact(contacts_pb2.GetContactRequest(id=contact_id), metadata=b.metadata("analytics"), timeout=10)
    assert post_signed_webhook(b.gateways[0], [event(PORTAL_A, foreign_id, f"foreign {token}"),
                                               event(PORTAL_B, own_id, f"own {token}")], SECRET, PUBLIC_URL) == 200
    deadline = time.monotonic() + 10
    while True:  # until B refetches its own changed record: its invalidation has run
        before = contact_reads(b)
        readers[b].GetContact(contacts_pb2.GetContactRequest(id=own_id), metadata=b.metadata("analytics"), timeout=10)
        if contact_reads(b) > before:
            break
        assert time.monotonic() < deadline, "B's own change never invalidated its cached copy"
    before = contact_reads(b)
    readers[b].GetContact(contacts_pb2.GetContactRequest(id=foreign_id), metadata=b.metadata("analytics"), timeout=10)
    assert contact_reads(b) == before, "another portal's change invalidated B's cached record"

    # Every key of each fleet lives under its own prefix: cache, feed, budget, leases, …
    keys = subprocess.run(["redis-cli", "-p", str(a.redis_port), "--scan"], capture_output=True, text=True,
                          timeout=30).stdout.split()
    assert keys and all(k.startswith((f"hubspot-gateway:{PORTAL_A}:", f"hubspot-gateway:{PORTAL_B}:")) for k in keys), [
        k for k in keys if not k.startswith(("hubspot-gateway:6", "hubspot-gateway:7"))]
    for portal in (PORTAL_A, PORTAL_B):
        mine = {k.split(":")[2] for k in keys if k.startswith(f"hubspot-gateway:{portal}:")}
        assert {"ratelimit", "feed", "cache", "portal"} <= mine, (portal, sorted(mine))
    assert redis_get(a, f"hubspot-gateway:{PORTAL_B}:portal") == str(PORTAL_B)


def test_a_fleet_of_another_portal_under_the_same_prefix_reports_not_ready(fleets):
    a, b = fleets
    # A replica of portal B pointed at A's prefix by mistake.
    stray = Gateway("--hubspot-base-url", b.sim_url,
                    "--redis-url", f"redis://127.0.0.1:{a.redis_port}", "--redis-key-prefix", f"hubspot-gateway:{PORTAL_A}",
                    "--hubspot-portal-id", str(PORTAL_B), env=b.gateway_env)
    try:
        deadline = time.monotonic() + 20
        answer = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{stray.http_port}/readyz", timeout=5) as response:
                    answer = (response.status, response.read().decode())
            except urllib.error.HTTPError as error:
                answer = (error.code, error.read().decode())
                if "--redis-key-prefix" in answer[1]:
                    break
        assert answer and answer[0] == 503 and f"portal {PORTAL_A}" in answer[1] and "--redis-key-prefix" in answer[1], answer
    finally:
        stray.stop()


def test_the_global_journal_of_another_portal_publishes_nothing_and_is_counted():
    app = ("journal-app", "journal-app-secret")
    fleet = Fleet(replicas=1, sim_args=("--seed", "20", "--oauth-client-id", app[0], "--oauth-client-secret", app[1],
                                        "--oauth-refresh-token", "unused"),
                  args=("--journal-types", "contacts", "--journal-client-id", app[0], "--journal-poll-interval-milliseconds",
                        "200", "--webhook-intake", "false", "--journal-global", "--hubspot-portal-id", str(PORTAL_B)),
                  env={"HUBSPOT_GATEWAY_JOURNAL_CLIENT_SECRET": app[1]})
    try:
        deadline = time.monotonic() + 20
        while fleet.sim_admin("GET", "/_sim/journal")["subscriptions"] < 1:
            assert time.monotonic() < deadline, "the journal reader never subscribed"
        page = contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(fleet.gateways[0].address)).ListContacts(
            contacts_pb2.ListContactsRequest(), metadata=fleet.metadata(), timeout=30)
        token = uuid.uuid4().hex[:8]
        for contact in page.contacts[:3]:  # edits in portal 62515, this fleet's is 777
            fleet.sim_admin("PATCH", f"/_sim/ui/objects/contacts/{contact.id}", {"properties": {"jobtitle": token}})
        deadline = time.monotonic() + 30
        while True:
            dropped = [line for line in metric(fleet.gateways[0], "gateway_changes_foreign_portal_total")
                       if f'portal="{PORTAL_A}"' in line and 'intake="journal"' in line]
            if dropped and float(dropped[0].rsplit(" ", 1)[1]) >= 3:
                break
            assert time.monotonic() < deadline, metric(fleet.gateways[0], "gateway_")
        # The feed has none of them: a marker webhook is off here, so read what the feed holds.
        stream = changes_pb2_grpc.ChangesServiceStub(grpc.insecure_channel(fleet.gateways[0].address)).Subscribe(
            changes_pb2.SubscribeRequest(object_types=["contacts"], position=changes_pb2.START_POSITION_OLDEST),
            metadata=fleet.metadata("feeds"), timeout=3)
        seen = []
        try:
            for change in stream:
                seen.append(change.property_value)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error
        assert token not in seen, seen
    finally:
        fleet.stop()
