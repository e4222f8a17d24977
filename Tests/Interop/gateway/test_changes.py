"""The change feed end to end: hubspot-sim's webhooks (signed, balanced over three gateway
replicas), one redis-server, grpcio subscribers."""
import hashlib
import pathlib
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import grpc
import pytest

from gateway_fleet import Fleet, Gateway, post_signed_webhook
from hubspot.gateway.v1 import changes_pb2, changes_pb2_grpc, common_pb2, contacts_pb2, contacts_pb2_grpc

PUBLIC_URL = "https://hubspot-gateway.example.com/webhooks/hubspot"
SECRET = "app-client-secret-for-tests"


@pytest.fixture(scope="module")
def feed_fleet():
    fleet = Fleet(args=("--webhook-secrets", SECRET, "--webhook-public-url", PUBLIC_URL,
                        "--changes-visibility-timeout-seconds", "2", "--feed-invalidation-claim-seconds", "1",
                        "--changes-stall-timeout-seconds", "2"))
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
    readers = [contacts(feed_fleet, index) for index in range(3)]
    for reader in readers:  # cached in every replica (the second read is a near-cache hit)
        for _ in range(2):
            reader.GetContact(request, metadata=feed_fleet.metadata("analytics"), timeout=10)
    ui_edit(feed_fleet, contact_id, jobtitle="Edited in the UI")
    edited = time.monotonic()
    stale = set(range(3))
    while stale:
        assert time.monotonic() - edited < 5, f"replicas {stale} still serve the old value"
        for index in list(stale):
            reply = readers[index].GetContact(request, metadata=feed_fleet.metadata("analytics"), timeout=10)
            if reply.contact.properties.get("jobtitle") == "Edited in the UI":
                stale.discard(index)
    took = time.monotonic() - edited
    # From the edit: the simulator's webhook batching (50 ms here; HubSpot's own is outside the
    # gateway), the intake, the fleet's invalidation, and the refetch's paced budget slot.
    print(f"every replica served the new value after {took:.3f} s")
    assert took < 1.0, f"{took:.2f} s until every replica served the new value"


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


def post_signed(gateway, events: list[dict]) -> int:
    return post_signed_webhook(gateway, events, SECRET, PUBLIC_URL)


def synthetic_events(token: str, count: int, objects: int = 50) -> list[dict]:
    """`count` property changes spread over `objects` records, each value naming its order."""
    return [{"eventId": f"{token}-{n}", "subscriptionId": 1, "portalId": 62515, "appId": 1, "occurredAt": int(time.time() * 1000),
             "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": 900000 + n % objects,
             "propertyName": "dealname", "propertyValue": f"{token} {n}", "changeSource": "INTEGRATION"} for n in range(count)]


# A group member as a process of its own: subscribes and prints each event's cursor, never
# acknowledging (argv: address, key, group, member).
MEMBER_PROCESS = """
import sys
import gateway_fleet  # noqa: F401 (compiles the stubs and puts them on sys.path)
import grpc
from hubspot.gateway.v1 import changes_pb2, changes_pb2_grpc
address, key, group, member = sys.argv[1:5]
request = changes_pb2.SubscribeRequest(object_types=["deals"], property_names=["dealname"], group=group, member=member,
                                       position=changes_pb2.START_POSITION_OLDEST)
for event in changes_pb2_grpc.ChangesServiceStub(grpc.insecure_channel(address)).Subscribe(
        request, metadata=(("authorization", f"Bearer {key}"),), timeout=120):
    print(event.cursor, flush=True)
"""


def test_ten_thousand_events_reach_each_of_two_groups_once_in_per_object_order_across_a_dead_member(feed_fleet):
    token = uuid.uuid4().hex[:12]
    events = synthetic_events(token, 10_000)
    # Delivered in batches of 100, balanced over the three replicas; a retried batch adds nothing.
    for index in range(0, len(events), 100):
        assert post_signed(feed_fleet.gateways[(index // 100) % 3], events[index:index + 100]) == 200
    assert post_signed(feed_fleet.gateways[0], events[:100]) == 200  # HubSpot's retry of the first batch

    # Per group: every event received (at least once; a member slower to acknowledge than the
    # visibility timeout has its events given to another), and how many acknowledgements took.
    received: dict[str, dict[str, object]] = {}
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()

    def member(group: str, name: str, replica: int):
        """Reads and acknowledges (in batches of 20) until the group has received everything."""
        stub = changes(feed_fleet, replica)
        request = changes_pb2.SubscribeRequest(object_types=["deals"], property_names=["dealname"], group=group, member=name,
                                               position=changes_pb2.START_POSITION_OLDEST)
        stream = stub.Subscribe(request, metadata=feed_fleet.metadata("feeds"), timeout=120)
        held = []
        try:
            for event in stream:
                held.append(event)
                if len(held) >= 20:
                    reply = stub.AckChanges(changes_pb2.AckChangesRequest(group=group, cursors=[e.cursor for e in held]),
                                            metadata=feed_fleet.metadata("feeds"), timeout=10)
                    with lock:
                        for e in held:
                            if token in e.property_value:
                                received.setdefault(group, {})[e.cursor] = e
                        acknowledged[group] = acknowledged.get(group, 0) + reply.acknowledged
                        done = len(received.get(group, {})) >= 10_000
                    held = []
                    if done:
                        stream.cancel()
                        return
        except grpc.RpcError:
            pass

    groups = (f"billing-{token}", f"search-{token}")
    # billing's m2 is a process of its own, killed with -9 once it holds 1,000 events it never
    # acknowledged; its group mates get them after the visibility timeout.
    doomed = subprocess.Popen([sys.executable, "-c", MEMBER_PROCESS, feed_fleet.gateways[1].address, Fleet.KEYS["feeds"][0], groups[0], "m2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=pathlib.Path(__file__).parent)

    def doomed_event():
        line = doomed.stdout.readline()
        assert line, f"the member process ended early: {doomed.stderr.read()[-2000:]}"

    # Its group mates join once it holds its first event: on a loaded machine the process may
    # take seconds to start, and mates already there would have taken every event.
    doomed_event()
    threads = []
    for group in groups:
        for index, name in enumerate(("m1", "m2", "m3")):
            if group == groups[0] and name == "m2":
                continue
            threads.append(threading.Thread(target=member, args=(group, name, index), daemon=True))
    for thread in threads:
        thread.start()
    held = 1
    while held < 1_000:
        doomed_event()
        held += 1
    doomed.kill()
    doomed.wait(timeout=10)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with lock:
            if all(len(received.get(g, {})) >= 10_000 for g in groups):
                break
        time.sleep(0.1)
    for thread in threads:
        thread.join(10)
    for group in groups:
        got = received.get(group, {})
        values = {e.property_value for e in got.values()}
        assert len(got) == 10_000 and len(values) == 10_000, f"{group}: {len(got)} events received, {len(values)} distinct"
        # XACK counts an event once per group, whichever member acknowledged it (the group's
        # other events, before this test's, count too).
        assert acknowledged[group] >= 10_000
        by_object: dict[str, list[int]] = {}
        for event in sorted(got.values(), key=lambda e: tuple(int(p) for p in e.cursor.split("-"))):
            by_object.setdefault(event.object_id, []).append(int(event.property_value.split()[1]))
        assert all(order == sorted(order) for order in by_object.values()), "per-object order follows the feed"


def stalled_subscriber(gateway, key: str, request: bytes) -> socket.socket:
    """An HTTP/2 client written by hand that opens a Subscribe call and then never reads: it
    grants the server no more than the initial 64 KiB flow-control window (grpcio would keep
    taking bytes into its own buffers)."""
    def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
        return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload

    def literal(name: str, value: str) -> bytes:  # HPACK literal without indexing, short strings
        return bytes([0, len(name)]) + name.encode() + bytes([len(value)]) + value.encode()

    headers = b"".join(literal(n, v) for n, v in [
        (":method", "POST"), (":scheme", "http"), (":path", "/hubspot.gateway.v1.ChangesService/Subscribe"),
        (":authority", "localhost"), ("content-type", "application/grpc"), ("te", "trailers"),
        ("authorization", f"Bearer {key}")])
    message = b"\0" + len(request).to_bytes(4, "big") + request
    connection = socket.create_connection(("127.0.0.1", gateway.grpc_port), timeout=10)
    connection.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 4, 1, headers) + frame(0, 1, 1, message))
    return connection


def test_a_subscriber_that_stops_reading_is_ended_with_resource_exhausted(feed_fleet):
    token = uuid.uuid4().hex[:12]
    backlog = synthetic_events(token, 5_000)  # far more than one flow-control window
    for index in range(0, len(backlog), 100):
        assert post_signed(feed_fleet.gateways[0], backlog[index:index + 100]) == 200
    gateway = feed_fleet.gateways[0]

    def exhausted() -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in metrics_text(gateway).splitlines()
                   if line.startswith("gateway_grpc_requests_total") and "ChangesService/Subscribe" in line
                   and 'code="resource_exhausted"' in line)

    before = exhausted()
    request = changes_pb2.SubscribeRequest(position=changes_pb2.START_POSITION_OLDEST).SerializeToString()
    connection = stalled_subscriber(gateway, Fleet.KEYS["feeds"][0], request)
    try:
        deadline = time.monotonic() + 20  # the fleet's stall timeout is 2 s
        while exhausted() <= before:
            assert time.monotonic() < deadline, "the stalled subscription was not ended"
            time.sleep(0.1)
    finally:
        connection.close()



def test_a_cursor_subscriber_resumes_after_its_replica_is_killed_without_gap_or_duplicate(feed_fleet):
    keys = ";".join(f"{name} sha256:{hashlib.sha256(key.encode()).hexdigest()} {scopes}" for name, (key, scopes) in Fleet.KEYS.items())
    doomed = Gateway("--hubspot-base-url", feed_fleet.sim_url, "--redis-url", f"redis://127.0.0.1:{feed_fleet.redis_port}",
                     "--webhook-secrets", SECRET, "--webhook-public-url", PUBLIC_URL,
                     env={"HUBSPOT_GATEWAY_HUBSPOT_TOKEN": "pat-sim-token", "HUBSPOT_GATEWAY_CALLER_KEYS": keys})
    token = uuid.uuid4().hex[:12]
    events = synthetic_events(token, 2_000)
    for index in range(0, 1_000, 100):  # the first half, before the replica dies
        assert post_signed(feed_fleet.gateways[index // 100 % 3], events[index:index + 100]) == 200
    request = dict(object_types=["deals"], property_names=["dealname"])
    stream = changes_pb2_grpc.ChangesServiceStub(grpc.insecure_channel(doomed.address)).Subscribe(
        changes_pb2.SubscribeRequest(position=changes_pb2.START_POSITION_OLDEST, **request), metadata=feed_fleet.metadata("feeds"), timeout=60)
    before = ours(stream, token, 500)
    doomed.process.kill()  # kill -9, mid-stream
    doomed.process.wait(timeout=10)
    for index in range(1_000, 2_000, 100):  # the rest, while the subscriber reconnects elsewhere
        assert post_signed(feed_fleet.gateways[index // 100 % 3], events[index:index + 100]) == 200
    after = ours(changes(feed_fleet, 1).Subscribe(changes_pb2.SubscribeRequest(from_cursor=before[-1].cursor, **request),
                                                  metadata=feed_fleet.metadata("feeds"), timeout=60), token, 1_500)
    assert [e.property_value for e in before + after] == [f"{token} {n}" for n in range(2_000)]
