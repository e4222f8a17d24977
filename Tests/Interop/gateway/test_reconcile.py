"""The reconciler end to end: hubspot-sim with its webhooks off (or on), gateway replicas
sharing one redis-server, the feed read with grpcio. Each change once, deletions and merges
included; a killed lease holder's walk continued by another replica."""
import collections
import subprocess
import time
import urllib.request

import grpc
import pytest

from gateway_fleet import Fleet
from hubspot.gateway.v1 import admin_pb2, admin_pb2_grpc, changes_pb2, changes_pb2_grpc, common_pb2, objects_pb2, objects_pb2_grpc

LOOKBACK, INTERVAL = 20, 1
RECONCILING = ("--reconcile-types", "contacts", "--reconcile-interval-seconds", str(INTERVAL),
               "--reconcile-lookback-seconds", str(LOOKBACK), "--reconcile-deletions-interval-seconds", "1",
               "--reconcile-lease-seconds", "3")


def feed(fleet, index=0, seconds=3.0):
    """Every contact event in the feed: a subscription from the oldest, read for `seconds`."""
    stub = changes_pb2_grpc.ChangesServiceStub(grpc.insecure_channel(fleet.gateways[index].address))
    events = []
    try:
        for event in stub.Subscribe(changes_pb2.SubscribeRequest(object_types=["contacts"], position=changes_pb2.START_POSITION_OLDEST),
                                    metadata=fleet.metadata("feeds"), timeout=seconds):
            events.append(event)
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error
    return events


def ms(timestamp):
    return timestamp.seconds * 1000 + timestamp.nanos // 1_000_000


def live_contacts(fleet):
    """{id: lastmodifieddate in ms} of every live contact, listed through the gateway."""
    stub = objects_pb2_grpc.ObjectsServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
    found, cursor = {}, ""
    while True:
        page = stub.ListObjects(objects_pb2.ListObjectsRequest(object_type="contacts", properties=["lastmodifieddate"],
                                                               page=common_pb2.PageRequest(page_size=100, cursor=cursor)),
                                metadata=fleet.metadata("analytics"), timeout=60)
        for record in page.objects:
            found[record.id] = ms(record.times.updated_at)
        cursor = page.page.next_cursor
        if not cursor:
            return found


def ui_batch(fleet, operation, inputs):
    answers = []
    for start in range(0, len(inputs), 100):
        answers += fleet.sim_admin("POST", f"/_sim/ui/objects/contacts/batch/{operation}", {"inputs": inputs[start:start + 100]}).get("results", []) \
            if operation != "archive" else [fleet.sim_admin("POST", "/_sim/ui/objects/contacts/batch/archive", {"inputs": inputs[start:start + 100]})]
    return answers


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture
def quiet_fleet():
    """Two reconciling replicas; the simulator delivers no webhooks."""
    fleet = Fleet(replicas=2, args=RECONCILING)
    yield fleet
    fleet.stop()


def test_without_webhooks_every_ui_change_reaches_the_feed_once_deletions_and_merges_included(quiet_fleet):
    fleet = quiet_fleet
    created = ui_batch(fleet, "create", [{"properties": {"email": f"quiet{n}@example.com"}} for n in range(2000)])
    ids = [record["id"] for record in created]
    assert len(ids) == 2000
    ui_batch(fleet, "update", [{"id": id, "properties": {"firstname": "Updated"}} for id in ids[:300]])
    merges = [(ids[300 + 2 * n], ids[301 + 2 * n]) for n in range(20)]
    for primary, merged in merges:
        fleet.sim_admin("POST", "/_sim/ui/objects/contacts/merge", {"primaryObjectId": primary, "objectIdToMerge": merged})
    deleted = ids[400:500]
    ui_batch(fleet, "archive", [{"id": id} for id in deleted])
    changed = time.monotonic()

    live = {id: modified for id, modified in live_contacts(fleet).items() if id in set(ids)}
    assert len(live) == 2000 - 20 - 100

    def complete():
        events = feed(fleet, seconds=1.5)
        seen = {(e.object_id, ms(e.occurred_at)) for e in events if e.kind != changes_pb2.CHANGE_KIND_DELETED}
        deletions = {e.object_id for e in events if e.kind == changes_pb2.CHANGE_KIND_DELETED}
        return all((id, modified) in seen for id, modified in live.items()) and set(deleted) <= deletions

    done = wait_for(complete, LOOKBACK + INTERVAL + 60, "every change in the feed")
    print(f"every change was in the feed {done - changed:.1f} s after the last one (lookback {LOOKBACK} s, interval {INTERVAL} s)")
    events = feed(fleet)
    assert all(e.source == "RECONCILER" for e in events)
    per_change = collections.Counter((e.object_id, e.kind == changes_pb2.CHANGE_KIND_DELETED, ms(e.occurred_at)) for e in events)
    assert [change for change, count in per_change.items() if count > 1] == [], "each change once"
    merged_events = [e for e in events if e.kind == changes_pb2.CHANGE_KIND_MERGED]
    assert {(e.object_id, tuple(sorted(set(e.merged_object_ids) - {e.object_id}))) for e in merged_events} == \
        {(primary, (merged,)) for primary, merged in merges}
    # Passes go on (one a second): their re-reads of the lookback publish nothing.
    assert len(feed(fleet, seconds=2 * INTERVAL + 2)) == len(events)


def test_killing_the_lease_holder_mid_walk_hands_the_walk_over_without_a_gap():
    # One search a second and 3,000 records: a walk of about 15 s to interrupt.
    fleet = Fleet(replicas=2, args=(*RECONCILING, "--reconcile-calls-per-second", "1"))
    try:
        admin = [admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(g.address)) for g in fleet.gateways]
        replica_ids = [stub.GetStatus(admin_pb2.GetStatusRequest(), metadata=fleet.metadata("ops"), timeout=10).replica_id for stub in admin]
        redis = ["redis-cli", "-p", str(fleet.redis_port)]

        def holder():
            return subprocess.run([*redis, "GET", "hubspot-gateway:lease:reconciler:holder"], capture_output=True, text=True).stdout.strip()

        wait_for(lambda: holder() in replica_ids, 15, "a replica holds the reconciler's lease")
        ids = [r["id"] for r in ui_batch(fleet, "create", [{"properties": {"email": f"walk{n}@example.com"}} for n in range(3000)])]
        # Mid-walk: the holder has published part of them.
        wait_for(lambda: 400 <= len(feed(fleet, seconds=1)) < 2600, 30, "the walk is under way")
        first = holder()
        victim = fleet.gateways[replica_ids.index(first)]
        survivor = fleet.gateways[1 - replica_ids.index(first)]
        victim.process.kill()
        killed = time.monotonic()
        took_over = wait_for(lambda: holder() == replica_ids[1 - replica_ids.index(first)], 15, "the other replica takes the lease")
        print(f"the other replica held the lease {took_over - killed:.1f} s after kill -9")
        assert took_over - killed < 10
        survivor_index = fleet.gateways.index(survivor)
        wait_for(lambda: {e.object_id for e in feed(fleet, survivor_index, seconds=1)} >= set(ids), 60, "every record in the feed")
        events = feed(fleet, survivor_index)
        per_change = collections.Counter((e.object_id, ms(e.occurred_at)) for e in events)
        assert [change for change, count in per_change.items() if count > 1] == [], "the successor republished nothing"
    finally:
        fleet.stop()


def test_with_webhooks_and_reconciler_both_on_each_change_is_in_the_feed_once():
    secret, public = "app-client-secret-for-tests", "https://hubspot-gateway.example.com/webhooks/hubspot"
    fleet = Fleet(replicas=2, args=(*RECONCILING, "--webhook-secrets", secret, "--webhook-public-url", public))
    try:
        targets = ",".join(f"http://127.0.0.1:{g.http_port}/webhooks/hubspot" for g in fleet.gateways)
        # Deliveries late and twice, as HubSpot's can be: both intakes see most changes.
        fleet.sim_admin("PUT", "/_sim/webhooks", {"targetURL": targets, "clientSecret": secret, "signedURL": public, "batchIntervalMs": 50,
                                                   "duplicateRate": 0.3, "delayMs": 1500})
        ids = [r["id"] for r in ui_batch(fleet, "create", [{"properties": {"email": f"both{n}@example.com"}} for n in range(300)])]
        ui_batch(fleet, "update", [{"id": id, "properties": {"lastname": "Both"}} for id in ids[:100]])
        live = live_contacts(fleet)
        wait_for(lambda: {(e.object_id, ms(e.occurred_at)) for e in feed(fleet, seconds=1.5)} >= {(id, live[id]) for id in ids}, 60,
                 "every change in the feed")
        events = feed(fleet)
        sources = collections.defaultdict(set)
        for e in events:
            sources[(e.object_id, ms(e.occurred_at))].add(e.source)
        both = {change: s for change, s in sources.items() if len(s) > 1}
        assert both == {}, f"changes published by both intakes: {list(both.items())[:5]}"
        by_source = collections.Counter(next(iter(s)) for s in sources.values())
        print(f"changes first seen by each intake: {dict(by_source)}")
        # Every webhook event id once, though the simulator delivered some twice.
        ids_seen = collections.Counter(e.event_id for e in events)
        assert [i for i, n in ids_seen.items() if n > 1] == []
    finally:
        fleet.stop()


def test_without_webhooks_a_deal_moved_to_another_company_is_told_once_on_the_deal_and_both_companies():
    """Moving a deal changes no modification time in HubSpot: the reconciler's association scan
    is what finds it, and publishes it as HubSpot's webhooks would, on each record, once."""
    fleet = Fleet(replicas=2, args=("--reconcile-types", "deals", "--reconcile-interval-seconds", "1",
                                    "--reconcile-lookback-seconds", "20", "--reconcile-association-scan-seconds", "1",
                                    "--reconcile-lease-seconds", "3"))
    try:
        redis = ["redis-cli", "-p", str(fleet.redis_port)]

        def redis_get(*command):
            return subprocess.run([*redis, *command], capture_output=True, text=True).stdout.strip()

        a = fleet.sim_admin("POST", "/_sim/ui/objects/companies", {"properties": {"name": "Old owner"}})["id"]
        b = fleet.sim_admin("POST", "/_sim/ui/objects/companies", {"properties": {"name": "New owner"}})["id"]
        deal = fleet.sim_admin("POST", "/_sim/ui/objects/deals", {"properties": {"dealname": "Moving deal"}, "associations": [
            {"to": {"id": a}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}]})["id"]
        # The scan has seen the deal at A (what it compares with later).
        wait_for(lambda: redis_get("HEXISTS", f"hubspot-gateway:feed:seen:associations:deals:{deal}", f"companies:{a}") == "1", 60,
                 "the deal's associations kept by a scan")

        # Someone moves the deal in HubSpot, calling it directly (no webhook is configured).
        def hubspot(method, path):
            request = urllib.request.Request(fleet.sim_url + path, method=method, headers={"Authorization": "Bearer pat-sim-token"})
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        assert hubspot("DELETE", f"/crm/v4/objects/deals/{deal}/associations/companies/{a}") == 204
        assert hubspot("PUT", f"/crm/v4/objects/deals/{deal}/associations/default/companies/{b}") == 200
        moved_ms = int(time.time() * 1000)

        stub = changes_pb2_grpc.ChangesServiceStub(grpc.insecure_channel(fleet.gateways[1].address))

        def associations(seconds=1.5):
            found = []
            try:
                for event in stub.Subscribe(changes_pb2.SubscribeRequest(object_types=["deals", "companies"],
                                                                         position=changes_pb2.START_POSITION_OLDEST),
                                            metadata=fleet.metadata("feeds"), timeout=seconds):
                    if event.kind in (changes_pb2.CHANGE_KIND_ASSOCIATION_ADDED, changes_pb2.CHANGE_KIND_ASSOCIATION_REMOVED):
                        found.append((event.object_type, event.object_id, changes_pb2.ChangeKind.Name(event.kind),
                                      event.association_type, event.to_object_id, event.source))
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error
            return found

        expected = {("deals", deal, "CHANGE_KIND_ASSOCIATION_REMOVED", "DEAL_TO_COMPANY", a, "RECONCILER"),
                    ("companies", a, "CHANGE_KIND_ASSOCIATION_REMOVED", "COMPANY_TO_DEAL", deal, "RECONCILER"),
                    ("deals", deal, "CHANGE_KIND_ASSOCIATION_ADDED", "DEAL_TO_COMPANY", b, "RECONCILER"),
                    ("companies", b, "CHANGE_KIND_ASSOCIATION_ADDED", "COMPANY_TO_DEAL", deal, "RECONCILER")}
        wait_for(lambda: set(associations()) >= expected, 60, "the move in the feed")
        # Later scans (begun after the move, and ended) tell nothing again.
        wait_for(lambda: (lambda place: place.startswith("done ") and int(place.split()[1]) > moved_ms + 1000)(
            redis_get("GET", "hubspot-gateway:reconciler:association-scan:deals")), 60, "a full scan after the move")
        wait_for(lambda: (lambda place: place.startswith("done ") and int(place.split()[1]) > moved_ms + 3000)(
            redis_get("GET", "hubspot-gateway:reconciler:association-scan:deals")), 60, "another full scan")
        assert sorted(associations()) == sorted(expected)
    finally:
        fleet.stop()
