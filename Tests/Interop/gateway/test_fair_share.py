"""Three calling services with weights 2:1:1, each asking for far more than HubSpot's budget
through three gateway replicas: HubSpot sees at most 8 calls a second and never a 429, the
services get 4:2:2 of them, and when one stops the other two share its part. Calls that cannot
be served before their deadline are refused early with a reason grpcio-status decodes.

HUBSPOT_GATEWAY_LONG_TESTS=1 (scripts/test --long) runs the 60-second form."""
import collections
import os
import threading
import time

import grpc
import pytest
from grpc_status import rpc_status
from google.rpc import error_details_pb2

from gateway_fleet import Fleet, span_beyond_budget
from hubspot.gateway.v1 import common_pb2, contacts_pb2, contacts_pb2_grpc

LONG = os.environ.get("HUBSPOT_GATEWAY_LONG_TESTS") == "1"
WEIGHTS = {"orders": 2, "analytics": 1, "feeds": 1}


@pytest.fixture(scope="module")
def weighted_fleet():
    fleet = Fleet(replicas=3, weights=WEIGHTS, sim_args=("--seed", "50"))
    yield fleet
    fleet.stop()


def reason(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return "none"


def test_weighted_services_split_the_budget_and_a_stopped_ones_share_goes_to_the_others(weighted_fleet):
    fleet = weighted_fleet
    measured = 60 if LONG else 12
    start = time.monotonic()
    warm = start + 3
    orders_stop = warm + measured
    end = orders_stop + 6
    stop_at = {"orders": orders_stop, "analytics": end, "feeds": end}
    served = collections.defaultdict(list)
    refused = collections.defaultdict(list)
    lock = threading.Lock()
    channels = [grpc.insecure_channel(g.address) for g in fleet.gateways]
    stubs = [contacts_pb2_grpc.ContactsServiceStub(c) for c in channels]
    fleet.sim_admin("POST", "/_sim/stats/reset")

    def caller(service, n):
        stub = stubs[n % 3]
        metadata = fleet.metadata(service)
        while True:
            now = time.monotonic()
            left = stop_at[service] - now
            if left <= 0:
                return
            asked = time.monotonic()
            try:
                stub.ListContacts(contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=1)),
                                  metadata=metadata, timeout=min(3, left))
                with lock:
                    served[service].append(time.monotonic())
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    with lock:
                        refused[service].append((time.monotonic() - asked, reason(error)))
                    time.sleep(0.05)  # a client backing off a little, as any would

    threads = [threading.Thread(target=caller, args=(service, n)) for service in WEIGHTS for n in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for channel in channels:
        channel.close()

    def count(service, since, until):
        return sum(1 for t in served[service] if since <= t < until)

    counts = {service: count(service, warm, orders_stop) for service in WEIGHTS}
    total = sum(counts.values())
    stats = fleet.sim_admin("GET", "/_sim/stats?windowMs=10000")
    waits = sorted(w for service in refused for w, _ in refused[service])
    reasons = collections.Counter(r for service in refused for _, r in refused[service])
    p99 = waits[int(len(waits) * 0.99)] * 1000 if waits else 0
    print(f"{measured} s: {counts} ({total / measured:.1f}/s), refused {dict(reasons)}, refusal p99 {p99:.0f} ms, "
          f"HubSpot busiest second {stats['maxAdmittedInAnyWallClockSecond']}")
    assert stats["rateLimited"] == 0
    assert span_beyond_budget(stats) is None, stats["perSecond"]
    assert total >= 8 * measured * 0.9, "the budget is used"
    for service, weight in WEIGHTS.items():
        expected = total * weight / 4
        tolerance = expected * 0.10 if LONG else max(expected * 0.10, 4)
        assert abs(counts[service] - expected) <= tolerance, (service, counts)
    assert set(reasons) <= {"GATEWAY_BUDGET_EXHAUSTED", "CALLER_SHARE_EXHAUSTED"}, reasons
    assert reasons["CALLER_SHARE_EXHAUSTED"] > 0, "a service's excess is refused by its share, decoded by grpcio-status"
    # Orders stopped: within 2 s analytics and feeds share the whole budget between them.
    since = orders_stop + 2
    after = {service: count(service, since, end) for service in ("analytics", "feeds")}
    assert sum(after.values()) >= 8 * (end - since) * 0.85, after
    assert abs(after["analytics"] - after["feeds"]) <= max(3, sum(after.values()) * 0.15), after
