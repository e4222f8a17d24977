"""The change feed end to end: hubspot-sim's webhooks (signed, balanced over three gateway
replicas), one redis-server, grpcio subscribers."""
import hashlib
import threading
import time
import urllib.error
import urllib.request
import uuid

import grpc
import pytest

from conftest import Fleet, Gateway
from hubspot.gateway.v1 import changes_pb2, changes_pb2_grpc, common_pb2, contacts_pb2, contacts_pb2_grpc

PUBLIC_URL = "https://hubspot-gateway.example.com/webhooks/hubspot"
SECRET = "app-client-secret-for-tests"


@pytest.fixture(scope="module")
def feed_fleet():
    fleet = Fleet(args=("--webhook-secrets", SECRET, "--webhook-public-url", PUBLIC_URL,
                        "--changes-visibility-timeout-seconds", "2", "--feed-invalidation-claim-seconds", "1"))
    targets = ",".join(f"http://127.0.0.1:{gateway.http_port}/webhooks/hubspot" for gateway in fleet.gateways)
    fleet.sim_admin("PUT", "/_sim/webhooks", {"targetURL": targets, "clientSecret": SECRET, "signedURL": PUBLIC_URL,
                                               "batchIntervalMs": 50, "retryBaseDelayMs": 200})
    yield fleet
    assert fleet.stop() == [0, 0, 0], "every replica drains and exits 0 on SIGTERM, subscriptions or not"


def contacts(fleet, index=0):
    return contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(fleet.gateways[index].address))


def changes(fleet, index=0):
    return changes_pb2_grpc.ChangesServiceStub(grpc.insecure_channel(fleet.gateways[index].address))


def ui_edit(fleet, contact_id, **properties):
    fleet.sim_admin("PATCH", f"/_sim/ui/objects/contacts/{contact_id}", {"properties": properties})


def first_contact(fleet):
    page = contacts(fleet).ListContacts(contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=5)),
                                        metadata=fleet.metadata(), timeout=30)
    return page.contacts[0].id


def test_a_ui_edit_reaches_every_replicas_readers_within_a_second(feed_fleet):
    contact_id = first_contact(feed_fleet)
    request = contacts_pb2.GetContactRequest(id=contact_id, properties=["jobtitle"])
    for index in range(3):  # cached in every replica (near and Redis tiers)
        for _ in range(2):
            contacts(feed_fleet, index).GetContact(request, metadata=feed_fleet.metadata("analytics"), timeout=10)
    ui_edit(feed_fleet, contact_id, jobtitle="Edited in the UI")
    started = time.monotonic()
    seen = set()
    while len(seen) < 3:
        assert time.monotonic() - started < 5, f"replicas {set(range(3)) - seen} still serve the old value"
        for index in range(3):
            reply = contacts(feed_fleet, index).GetContact(request, metadata=feed_fleet.metadata("analytics"), timeout=10)
            if reply.contact.properties.get("jobtitle") == "Edited in the UI":
                seen.add(index)
        time.sleep(0.02)
    # HubSpot batches webhooks (the simulator every 50 ms), so the bound is the delivery plus ours.
    assert time.monotonic() - started < 1.5


def ours(stream, token, count, timeout=20.0):
    """The first `count` events of `stream` whose property value carries `token` (the module's
    fleet keeps the other tests' events in its feed)."""
    found, done = [], threading.Event()

    def run():
        try:
            for event in stream:
                if token in event.property_value:
                    found.append(event)
                    if len(found) >= count:
                        break
        except grpc.RpcError:
            pass
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(timeout), f"only {len(found)} of {count} events within {timeout} s"
    stream.cancel()
    return found


def test_a_subscriber_sees_ui_edits_and_gateway_writes_with_their_source(feed_fleet):
    contact_id, token = first_contact(feed_fleet), uuid.uuid4().hex
    ui_edit(feed_fleet, contact_id, lastname=f"UI {token}")
    contacts(feed_fleet, 2).UpdateContact(
        contacts_pb2.UpdateContactRequest(contact=contacts_pb2.Contact(id=contact_id, last_name=f"API {token}")),
        metadata=feed_fleet.metadata(), timeout=10)
    stream = changes(feed_fleet, 1).Subscribe(
        changes_pb2.SubscribeRequest(object_types=["contacts"], kinds=[changes_pb2.CHANGE_KIND_UPDATED], property_names=["lastname"],
                                     position=changes_pb2.START_POSITION_OLDEST),
        metadata=feed_fleet.metadata("feeds"), timeout=30)
    events = ours(stream, token, 2)
    assert [(e.object_id, e.property_value, e.change_source) for e in events] == [
        (contact_id, f"UI {token}", "CRM_UI"), (contact_id, f"API {token}", "API")]
    assert all(e.cursor and e.event_id and e.occurred_at.seconds > 0 for e in events)


def test_a_cursor_resumes_on_another_replica_without_gap_or_duplicate(feed_fleet):
    contact_id, token = first_contact(feed_fleet), uuid.uuid4().hex
    for n in range(6):
        ui_edit(feed_fleet, contact_id, city=f"{token} {n}")
    request = dict(object_types=["contacts"], property_names=["city"], kinds=[changes_pb2.CHANGE_KIND_UPDATED])
    head = ours(changes(feed_fleet, 0).Subscribe(changes_pb2.SubscribeRequest(position=changes_pb2.START_POSITION_OLDEST, **request),
                                                 metadata=feed_fleet.metadata("feeds"), timeout=30), token, 3)
    rest = ours(changes(feed_fleet, 2).Subscribe(changes_pb2.SubscribeRequest(from_cursor=head[-1].cursor, **request),
                                                 metadata=feed_fleet.metadata("feeds"), timeout=30), token, 3)
    assert [e.property_value for e in head + rest] == [f"{token} {n}" for n in range(6)]


def test_group_members_share_events_and_a_dead_members_events_go_to_another(feed_fleet):
    contact_id, token = first_contact(feed_fleet), uuid.uuid4().hex
    group = f"analytics-{token[:8]}"
    for n in range(4):
        ui_edit(feed_fleet, contact_id, zip=f"{token} {n}")
    request = lambda member: changes_pb2.SubscribeRequest(object_types=["contacts"], property_names=["zip"], group=group, member=member,
                                                          position=changes_pb2.START_POSITION_OLDEST)
    taken_by_a = ours(changes(feed_fleet, 0).Subscribe(request("a"), metadata=feed_fleet.metadata("feeds"), timeout=60), token, 4)
    # a is gone without acknowledging: after the visibility timeout (2 s here) b gets them.
    b_stub = changes(feed_fleet, 1)
    redelivered = ours(b_stub.Subscribe(request("b"), metadata=feed_fleet.metadata("feeds"), timeout=60), token, 4, timeout=15)
    assert [e.property_value for e in redelivered] == [e.property_value for e in taken_by_a]
    acked = b_stub.AckChanges(changes_pb2.AckChangesRequest(group=group, cursors=[e.cursor for e in redelivered]),
                              metadata=feed_fleet.metadata("feeds"), timeout=10)
    assert acked.acknowledged == 4


def test_bad_requests_and_missing_scopes_are_refused(feed_fleet):
    stub = changes(feed_fleet)
    with pytest.raises(grpc.RpcError) as scope:
        list(stub.Subscribe(changes_pb2.SubscribeRequest(), metadata=feed_fleet.metadata("analytics"), timeout=5))
    assert scope.value.code() == grpc.StatusCode.PERMISSION_DENIED and "changes.read" in scope.value.details()
    with pytest.raises(grpc.RpcError) as cursor:
        list(stub.Subscribe(changes_pb2.SubscribeRequest(from_cursor="yesterday"), metadata=feed_fleet.metadata("feeds"), timeout=5))
    assert cursor.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "from_cursor" in cursor.value.details()
    with pytest.raises(grpc.RpcError) as group:
        list(stub.Subscribe(changes_pb2.SubscribeRequest(group="no spaces allowed"), metadata=feed_fleet.metadata("feeds"), timeout=5))
    assert group.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "group" in group.value.details()


def test_unsigned_webhooks_are_refused_with_401(feed_fleet):
    gateway = feed_fleet.gateways[0]
    request = urllib.request.Request(f"http://127.0.0.1:{gateway.http_port}/webhooks/hubspot", data=b"[]", method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401


def test_sigterm_ends_open_subscriptions_with_unavailable_at_once(feed_fleet):
    keys = ";".join(f"{name} sha256:{hashlib.sha256(key.encode()).hexdigest()} {scopes}" for name, (key, scopes) in Fleet.KEYS.items())
    replica = Gateway("--hubspot-base-url", feed_fleet.sim_url, "--redis-url", f"redis://127.0.0.1:{feed_fleet.redis_port}",
                      env={"HUBSPOT_GATEWAY_HUBSPOT_TOKEN": "pat-sim-token", "HUBSPOT_GATEWAY_CALLER_KEYS": keys})
    stream = changes_pb2_grpc.ChangesServiceStub(grpc.insecure_channel(replica.address)).Subscribe(
        changes_pb2.SubscribeRequest(), metadata=feed_fleet.metadata("feeds"), timeout=60)
    ended = {}

    def run():
        try:
            for _ in stream:
                pass
        except grpc.RpcError as error:
            ended["code"], ended["at"] = error.code(), time.monotonic()

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    # The subscription is open once the server counts it.
    deadline = time.monotonic() + 10
    while "gateway_feed_subscribers{group=\"none\"} 1" not in metrics_text(replica):
        assert time.monotonic() < deadline, "the subscription never opened"
        time.sleep(0.05)
    signalled = time.monotonic()
    assert replica.stop() == 0
    reader.join(10)
    assert ended.get("code") == grpc.StatusCode.UNAVAILABLE
    assert ended["at"] - signalled < 3, "ended at once, not after the drain's grace period"


def metrics_text(gateway) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{gateway.http_port}/metrics", timeout=5).read().decode()
