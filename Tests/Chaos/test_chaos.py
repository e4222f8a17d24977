"""Chaos against a fleet of three gateways under a mixed grpcio load of reads and creates:
Redis killed and restarted, a replica SIGKILLed and restarted, a replica SIGTERMed, HubSpot
failing (5xx, timeouts, dropped connections), the network to Redis slowed, hostile input.
Each scenario records its figures (scripts/chaos prints them) and must keep every
acknowledged write at HubSpot, HubSpot's budget (≤ 8 calls in any second, no 429) and the
fleet serving once the fault is gone. Short in CI; `scripts/chaos` runs the long form."""
import signal
import time

import grpc
import pytest

from chaos import Fleet, LatencyProxy, Load, acknowledged_found_at_simulator, free_port, hostile_peers, ready, record, restart, scale, span_beyond_budget
from hubspot.gateway.v1 import common_pb2, contacts_pb2, contacts_pb2_grpc


def hot_ids(fleet, count=100):
    """The contacts the load reads, in the shared cache already (a service's working set)."""
    with grpc.insecure_channel(fleet.gateways[0].address) as channel:
        stub = contacts_pb2_grpc.ContactsServiceStub(channel)
        page = stub.ListContacts(contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=count)),
                                 metadata=fleet.metadata(), timeout=30)
        ids = [c.id for c in page.contacts]
        stub.BatchGetContacts(contacts_pb2.BatchGetContactsRequest(ids=ids), metadata=fleet.metadata(), timeout=30)
    return ids


def every_replica_serves(fleet, within=30.0) -> float:
    """Seconds until every replica answers a call that needs HubSpot (a breaker opened by the
    fault closes after its open interval and a good probe); fails after `within`."""
    started = time.monotonic()
    pending = list(fleet.gateways)
    while pending:
        gateway = pending[0]
        with grpc.insecure_channel(gateway.address) as channel:
            try:
                contacts_pb2_grpc.ContactsServiceStub(channel).ListContacts(
                    contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=1)), metadata=fleet.metadata(), timeout=10)
                pending.pop(0)
                continue
            except grpc.RpcError as error:
                assert time.monotonic() - started < within, f"{gateway.address} still failing: {error.details()}"
        time.sleep(0.1)
    return time.monotonic() - started


def scenario(name, fleet, disrupt, threads=8):
    """Load before, during and after `disrupt(fleet)`; records and checks the figures."""
    ids = hot_ids(fleet)
    fleet.sim_admin("POST", "/_sim/stats/reset")
    load = Load(fleet, ids, threads=threads)
    started = time.monotonic()
    load.start()
    time.sleep(scale(2, 10))  # steady load before the fault (a load's duration, not an ordering)
    disrupt(fleet)
    time.sleep(scale(3, 15))  # and after it, to see the recovery under load
    load.stop()
    duration = time.monotonic() - started
    stats = fleet.sim_admin("GET", "/_sim/stats?windowMs=1000")
    figures = load.figures()
    found = acknowledged_found_at_simulator(fleet, load.acknowledged)
    row = {"scenario": name, "seconds": round(duration, 1), **figures, "writes_acknowledged": len(load.acknowledged),
           "writes_found": found, "busiest_second_at_hubspot": stats["maxAdmittedInAnyWallClockSecond"],
           "hubspot_429s": stats["rateLimited"]}
    assert found == len(load.acknowledged), f"acknowledged writes lost: {row}"
    assert span_beyond_budget(stats) is None, stats["perSecond"]
    assert stats["rateLimited"] == 0
    assert all(g.process.poll() is None for g in fleet.gateways), "a replica died"
    # Seconds after the load ended until every replica answered a call that needs HubSpot.
    row["all_serving_after_s"] = round(every_replica_serves(fleet), 1)
    record(row)
    print(row)
    assert figures["outcomes"].get("read OK", 0) > 0 and figures["outcomes"].get("write OK", 0) > 0, row
    return row


def test_redis_killed_and_restarted(chaos_fleet):
    def disrupt(fleet):
        fleet.redis.kill()
        fleet.redis.wait()
        time.sleep(scale(3, 10))  # Redis down for this long
        fleet.start_redis()
    scenario("Redis SIGKILLed, restarted from its AOF", chaos_fleet, disrupt)


def test_a_replica_sigkilled_and_restarted(chaos_fleet):
    def disrupt(fleet):
        fleet.gateways[1].process.kill()
        fleet.gateways[1].process.wait()
        time.sleep(scale(2, 5))
        restart(fleet, 1)
    scenario("a replica SIGKILLed, restarted", chaos_fleet, disrupt)


def test_a_replica_sigtermed_drains_and_is_replaced(chaos_fleet):
    def disrupt(fleet):
        fleet.gateways[2].process.send_signal(signal.SIGTERM)
        assert fleet.gateways[2].process.wait(timeout=40) == 0, "a SIGTERMed replica drains and exits 0"
        restart(fleet, 2)
    scenario("a replica SIGTERMed (drained), replaced", chaos_fleet, disrupt)


@pytest.mark.parametrize("fault", ["5xx", "timeouts", "dropped connections"])
def test_hubspot_failing(chaos_fleet, fault):
    rule = {"5xx": {"errorRate": 1.0, "errorStatuses": [502, 503]},
            "timeouts": {"latency": "6000"},
            "dropped connections": {"dropRate": 1.0}}[fault]

    def disrupt(fleet):
        fleet.sim_admin("PUT", "/_sim/faults", {"outage": False, "rules": [{"endpoint": None, **rule}]})
        time.sleep(scale(4, 10))  # HubSpot failing for this long
        fleet.sim_admin("DELETE", "/_sim/faults")
    scenario(f"HubSpot {fault}", chaos_fleet, disrupt)


def test_the_network_to_redis_slowed():
    redis_port, proxy_port = free_port(), free_port()
    proxy = LatencyProxy(redis_port, proxy_port)
    fleet = Fleet(replicas=3, redis_aof=True, redis_port=redis_port, gateways_redis_port=proxy_port)
    try:
        for gateway in fleet.gateways:
            assert ready(gateway)

        def disrupt(fleet):
            proxy.delay = 0.08  # 80 ms each way per chunk: past the limiter's 50 ms Redis timeout
            time.sleep(scale(4, 10))
            proxy.delay = 0
        scenario("network to Redis +80 ms", fleet, disrupt)
    finally:
        fleet.stop()
        proxy.close()


def test_hostile_input_does_not_disturb_the_others(chaos_fleet):
    def disrupt(fleet):
        for _ in range(int(scale(3, 20))):
            hostile_peers(fleet.gateways[0].address, fleet.gateways[0].http_port)
    scenario("hostile input to one replica", chaos_fleet, disrupt)
