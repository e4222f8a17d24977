"""ObjectsService.ExportChanged end to end: grpcio against gateway replicas in front of a
seeded hubspot-sim with HubSpot's limits on. Short form in CI (10,000 contacts); the long
form (`scripts/test --long`) exports 100,000."""
import os
import statistics
import threading
import time

import grpc
import pytest

from gateway_fleet import Fleet
from hubspot.gateway.v1 import admin_pb2, admin_pb2_grpc, contacts_pb2, contacts_pb2_grpc, common_pb2, objects_pb2, objects_pb2_grpc

LONG = os.environ.get("HUBSPOT_GATEWAY_LONG_TESTS") == "1"
RECORDS = 100_000 if LONG else 10_000


@pytest.fixture(scope="module")
def seeded_fleet():
    # The reconciler runs too: both background jobs share the budget with interactive callers.
    fleet = Fleet(replicas=2, args=("--reconcile-types", "contacts,companies", "--reconcile-interval-seconds", "1"),
                  sim_args=("--seed", str(RECORDS)))
    yield fleet
    fleet.stop()


def export(fleet, index, request, stop_after=None):
    """(records, trailers) of one ExportChanged stream; disconnects after `stop_after` records."""
    stub = objects_pb2_grpc.ObjectsServiceStub(grpc.insecure_channel(fleet.gateways[index].address))
    call = stub.ExportChanged(request, metadata=fleet.metadata("analytics"), timeout=600)
    records = []
    for record in call:
        records.append(record)
        if len(records) == stop_after:
            call.cancel()
            return records, {}
    return records, dict(call.trailing_metadata())


def test_an_export_resumed_on_another_replica_is_exactly_the_type_within_the_budget_and_interactive_calls_keep_their_reserve(seeded_fleet):
    fleet = seeded_fleet
    request = objects_pb2.ExportChangedRequest(object_type="contacts", properties=["email"])
    # Interactive reads from the cache-bypassing path while the export runs: their latency.
    latencies, stop = [], threading.Event()
    reader = contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(fleet.gateways[1].address))
    first_id = reader.ListContacts(contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=1)),
                                   metadata=fleet.metadata("analytics"), timeout=30).contacts[0].id

    def read_interactively():
        while not stop.wait(0.5):
            started = time.monotonic()
            reader.GetContact(contacts_pb2.GetContactRequest(id=first_id, read_options=common_pb2.ReadOptions(max_staleness={"seconds": 0})),
                              metadata=fleet.metadata("analytics"), timeout=30)
            latencies.append(time.monotonic() - started)

    fleet.sim_admin("POST", "/_sim/stats/reset")
    interactive = threading.Thread(target=read_interactively, daemon=True)
    interactive.start()
    started = time.monotonic()
    cut = RECORDS * 3 // 10
    head, _ = export(fleet, 0, request, stop_after=cut)
    # The other replica resumes from the last cursor received (a disconnect, or a failover).
    resume = objects_pb2.ExportChangedRequest(object_type="contacts", properties=["email"], cursor=head[-1].cursor)
    rest, trailers = export(fleet, 1, resume)
    took = time.monotonic() - started
    stop.set()
    interactive.join(timeout=35)

    ids = [r.object.id for r in head + rest]
    assert len(ids) == RECORDS, f"{len(ids)} records handed out for {RECORDS}"
    assert len(set(ids)) == RECORDS, "no record twice"
    assert int(trailers["export-records"]) == RECORDS - cut
    assert trailers.get("export-resume-cursor")
    # HubSpot counts its burst limit over a rolling 10 s (100 calls on the smallest plans). The
    # fleet grants at most 8 general calls per one-second window; any 10 s span touches at most
    # 11 such windows, so at most 88 arrive in it. Searches: HubSpot's 5 in any second.
    stats = fleet.sim_admin("GET", "/_sim/stats")
    assert stats["rateLimited"] == 0, stats["byStatus"]
    assert stats["slidingWindow"]["maxAdmittedSearches"] <= 5, stats["slidingWindow"]
    assert stats["byEndpoint"].get("objects.search", 0) > 0, "the reconciler searched meanwhile"
    ten_seconds = fleet.sim_admin("GET", "/_sim/stats?windowMs=10000")["slidingWindow"]
    assert ten_seconds["maxAdmittedOthers"] <= 8 * 11, ten_seconds
    print(f"at the simulator: {ten_seconds['maxAdmittedOthers']} general calls in the busiest 10 s, "
          f"{stats['slidingWindow']['maxAdmittedSearches']} searches in the busiest second")
    p50, p99 = statistics.median(latencies), sorted(latencies)[max(0, int(len(latencies) * 0.99) - 1)]
    print(f"{RECORDS} contacts exported in {took:.1f} s ({RECORDS / took:.0f} records/s); "
          f"interactive reads meanwhile: {len(latencies)}, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    # The interactive reserve: an uncached read waits at most for the next window's reserved slot.
    assert p99 < 1.5, f"interactive p99 {p99:.2f} s during the export"


def test_an_unknown_cursor_or_type_is_refused_clearly(seeded_fleet):
    stub = objects_pb2_grpc.ObjectsServiceStub(grpc.insecure_channel(seeded_fleet.gateways[0].address))
    with pytest.raises(grpc.RpcError) as garbage:
        list(stub.ExportChanged(objects_pb2.ExportChangedRequest(object_type="contacts", cursor="garbage"),
                                metadata=seeded_fleet.metadata("analytics"), timeout=30))
    assert garbage.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "cursor" in garbage.value.details()
    with pytest.raises(grpc.RpcError) as writer_only:
        list(stub.ExportChanged(objects_pb2.ExportChangedRequest(object_type="contacts"), metadata=(("authorization", "Bearer nope"),), timeout=30))
    assert writer_only.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_caller_that_leaves_ends_its_export_with_the_hubspot_call_in_flight(seeded_fleet):
    fleet = seeded_fleet
    admin = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(fleet.gateways[0].address))

    def running():
        return list(admin.GetStatus(admin_pb2.GetStatusRequest(), metadata=fleet.metadata("ops"), timeout=10).exports)

    # The walk's second list page hangs for a minute: the export is inside that HubSpot call
    # when the caller leaves, and must not wait it out.
    fleet.sim_admin("PUT", "/_sim/faults", {"rules": [{"endpoint": "objects.list", "latency": "60000", "afterRequests": 1}]})
    try:
        stub = objects_pb2_grpc.ObjectsServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
        call = stub.ExportChanged(objects_pb2.ExportChangedRequest(object_type="contacts", full_load=objects_pb2.FULL_LOAD_LIST_WALK),
                                  metadata=fleet.metadata("analytics"), timeout=600)
        received = 0
        for _ in call:
            received += 1
            if received == 100:
                break
        assert [e.object_type for e in running()] == ["contacts"], "running while its second page hangs"
        call.cancel()
        left = time.monotonic()
        while running():
            assert time.monotonic() - left < 10, "the export outlived its caller"
            time.sleep(0.05)
    finally:
        fleet.sim_admin("PUT", "/_sim/faults", {"rules": []})
