"""The budget shared with callers the gateway cannot see (services not migrated yet): a direct
client on the gateway's own token, another private app spending the account's day, and the
per-service daily quotas. Real processes: three gateways, redis-server, hubspot-sim."""
import concurrent.futures
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway_fleet import Fleet, contact_ids
from hubspot.gateway.v1 import admin_pb2, admin_pb2_grpc, common_pb2, contacts_pb2, contacts_pb2_grpc

FRESH = common_pb2.ReadOptions(max_staleness={"seconds": 0})


def reason_and_retry(error: grpc.RpcError):
    status = rpc_status.from_call(error)
    reason, retry = None, None
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            retry = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return reason, retry


def direct_call(sim_url: str, token: str, path: str = "/crm/v3/objects/companies?limit=1") -> int:
    """One call straight to HubSpot (the simulator), as a service not behind the gateway makes it."""
    request = urllib.request.Request(sim_url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class Load:
    """Callers that keep every replica saturated with reads HubSpot must answer (no cache)."""

    def __init__(self, fleet, ids, callers_per_replica=20, caller="analytics"):
        self.stop = threading.Event()
        self.outcomes = {"ok": 0}
        self.lock = threading.Lock()
        channels = [grpc.insecure_channel(g.address) for g in fleet.gateways]
        self.channels = channels
        stubs = [contacts_pb2_grpc.ContactsServiceStub(c) for c in channels]

        def run(index):
            stub = stubs[index % len(stubs)]
            n = index
            while not self.stop.is_set():
                n += 97
                try:
                    stub.GetContact(contacts_pb2.GetContactRequest(id=ids[n % len(ids)], read_options=FRESH),
                                    metadata=fleet.metadata(caller), timeout=5)
                    key = "ok"
                except grpc.RpcError as error:
                    key = reason_and_retry(error)[0] or str(error.code())
                with self.lock:
                    self.outcomes[key] = self.outcomes.get(key, 0) + 1

        self.pool = concurrent.futures.ThreadPoolExecutor(callers_per_replica * len(stubs))
        self.futures = [self.pool.submit(run, i) for i in range(callers_per_replica * len(stubs))]

    def finish(self):
        self.stop.set()
        for future in self.futures:
            future.result()
        self.pool.shutdown()
        for channel in self.channels:
            channel.close()
        return self.outcomes


def paced(rate: float, until: float, call):
    """Calls `call` `rate` times a second until the monotonic time `until` (a load generator's
    clock, not the ordering of events)."""
    tick = threading.Event()
    next_at = time.monotonic()
    while next_at < until:
        call()
        next_at += 1 / rate
        tick.wait(max(0.0, next_at - time.monotonic()))


def per_second(stats, endpoint):
    """{second: (requests, 429s)} of one endpoint at the simulator."""
    out = {}
    for second in stats["perSecond"]:
        counts = second.get("byEndpoint", {}).get(endpoint)
        if counts:
            out[second["second"]] = (counts["requests"], counts["rateLimited"])
    return out


@pytest.fixture(scope="module")
def co_tenant_fleet():
    fleet = Fleet(sim_args=("--seed", "1000"))
    yield fleet
    fleet.stop()


def test_a_direct_client_on_the_gateways_token_and_a_saturated_fleet_share_the_window_without_429s(co_tenant_fleet):
    fleet = co_tenant_fleet
    ids = contact_ids(fleet, 1000)
    # The scenario starts on an empty window: the setup's list calls (HubSpot counts them too)
    # must have left it, or they push the first interval into 429s whose echo the second sees.
    deadline = time.monotonic() + 15
    while fleet.sim_admin("GET", "/_sim/limits")["burstUsed"] > 0:
        assert time.monotonic() < deadline, "the setup's calls never left HubSpot's window"
        threading.Event().wait(0.1)
    fleet.sim_admin("POST", "/_sim/stats/reset")
    started = time.time()
    load = Load(fleet, ids)
    direct = []
    # The direct client spends 5 calls a second of HubSpot's 100 per 10 s for 30 s, then stops.
    paced(5, time.monotonic() + 30, lambda: direct.append(direct_call(fleet.sim_url, "pat-sim-token")))
    # The fleet alone again for 12 s, its own view sampled twice a second: the rate it allows
    # itself climbs back to the whole budget within one interval.
    admin = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
    stopped = time.monotonic()
    rates = []
    paced(2, stopped + 12, lambda: rates.append((time.monotonic() - stopped, admin.GetStatus(
        admin_pb2.GetStatusRequest(), metadata=fleet.metadata("ops"), timeout=10).hubspot.fleet_rate)))
    outcomes = load.finish()
    assert rates[0][1] < 7, rates
    assert any(rate == 8 for at, rate in rates if at <= 10.5), rates
    stats = fleet.sim_admin("GET", "/_sim/stats")
    first = int(started)
    fleet_calls = per_second(stats, "objects.batch.read")
    direct_calls = per_second(stats, "objects.list")
    report = " ".join(f"{s - first}s:{fleet_calls.get(s, (0, 0))}+{direct_calls.get(s, (0, 0))}"
                      for s in range(first, first + 43))
    steady = range(first + 11, first + 30)
    taken = sum(fleet_calls.get(s, (0, 0))[0] for s in steady)
    print(f"the fleet took {taken} calls in {len(steady)} s: {report}")  # shown with -s, or on a failure
    # After the first interval: no 429 to anyone, and no second without a call of the fleet …
    refused = sum(fleet_calls.get(s, (0, 0))[1] + direct_calls.get(s, (0, 0))[1] for s in steady)
    assert refused == 0, report
    assert all(fleet_calls.get(s, (0, 0))[0] > 0 for s in steady), report
    # … and the fleet takes at least 90 % of what the direct client leaves (5 a second).
    assert taken >= 4.5 * len(steady), (taken, report)
    # The direct client stopped at 30 s: within one interval (10 s) the fleet is back at 8 a second.
    back = [fleet_calls.get(s, (0, 0))[0] for s in range(first + 40, first + 42)]
    assert sum(back) >= 15, report
    assert outcomes["ok"] > 0, outcomes
    # What the fleet knows: HubSpot's figures and no one else spending any more.
    with grpc.insecure_channel(fleet.gateways[1].address) as channel:
        status = admin_pb2_grpc.AdminServiceStub(channel).GetStatus(admin_pb2.GetStatusRequest(),
                                                                  metadata=fleet.metadata("ops"), timeout=10)
    assert status.hubspot.max == 100 and status.hubspot.fleet_rate == 8, status.hubspot
    spend = {day.service: day.spent for day in status.service_days}
    assert spend.get("analytics", 0) > 100, spend


QUOTA_KEY = "quota-key-0001"


@pytest.fixture(scope="module")
def day_fleet():
    line = f"capped sha256:{hashlib.sha256(QUOTA_KEY.encode()).hexdigest()} crm.read daily=5"
    fleet = Fleet(replicas=2, sim_args=("--seed", "500", "--daily-reset-utc-offset-hours=-5",
                                        "--account-time-zone", "US/Eastern", "--other-private-app-token", "pat-other-app"),
                  args=("--account-refresh-seconds", "1"), extra_keys=(line,))
    yield fleet
    fleet.stop()


def test_a_service_past_its_daily_quota_is_refused_while_another_is_served(day_fleet):
    fleet = day_fleet
    ids = contact_ids(fleet, 20)
    capped = (("authorization", f"Bearer {QUOTA_KEY}"),)
    stubs = [contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(g.address)) for g in fleet.gateways]
    # Five reads HubSpot must answer, one call each, through both replicas: the quota is the fleet's.
    for n in range(5):
        stubs[n % 2].GetContact(contacts_pb2.GetContactRequest(id=ids[n], read_options=FRESH), metadata=capped, timeout=10)
    for stub in stubs:
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetContact(contacts_pb2.GetContactRequest(id=ids[10], read_options=FRESH), metadata=capped, timeout=10)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        reason, retry = reason_and_retry(refused.value)
        assert reason == "SERVICE_DAILY_QUOTA_EXHAUSTED" and retry > 0, (reason, retry)
        assert "daily quota" in refused.value.details()
    # Another service is still served.
    reply = stubs[0].GetContact(contacts_pb2.GetContactRequest(id=ids[11], read_options=FRESH),
                                metadata=fleet.metadata("analytics"), timeout=10)
    assert reply.contact.id == ids[11]
    with grpc.insecure_channel(fleet.gateways[1].address) as channel:
        status = admin_pb2_grpc.AdminServiceStub(channel).GetStatus(admin_pb2.GetStatusRequest(),
                                                                  metadata=fleet.metadata("ops"), timeout=10)
    days = {day.service: (day.spent, day.quota) for day in status.service_days}
    assert days["capped"] == (5, 5), days
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{fleet.gateways[0].http_port}/metrics", timeout=5).read().decode()
    assert 'gateway_budget_service_spend_today{service="capped"} 5' in metrics, \
        [line for line in metrics.splitlines() if "spend_today" in line]


def sim_usage(fleet, token="pat-sim-token"):
    request = urllib.request.Request(fleet.sim_url + "/account-info/2026-03/api-usage/daily/private-apps",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["results"][0]


def iso_seconds(text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_two_private_apps_spend_the_accounts_day_and_the_fleet_resumes_at_the_accounts_midnight(day_fleet):
    fleet = day_fleet
    ids = contact_ids(fleet, 400)
    fleet.sim_admin("PUT", "/_sim/limits", {"dailyLimit": 2000, "burstLimit": 0})
    # The account (UTC-5) is 40 s from its midnight.
    usage = sim_usage(fleet)
    to_midnight = iso_seconds(usage["resetsAt"]) - iso_seconds(usage["collectedAt"])
    fleet.sim_admin("POST", "/_sim/clock", {"advanceMilliseconds": int((to_midnight - 40) * 1000)})
    usage = sim_usage(fleet)
    assert usage["resetsAt"].startswith(usage["resetsAt"][:11]) and "T05:00:00" in usage["resetsAt"], usage
    midnight_in = iso_seconds(usage["resetsAt"]) - iso_seconds(usage["collectedAt"])
    midnight = time.monotonic() + midnight_in
    # The fleet learns the account's day (it reads the account-info API every second here).
    admin = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
    while True:
        hubspot = admin.GetStatus(admin_pb2.GetStatusRequest(), metadata=fleet.metadata("ops"), timeout=10).hubspot
        if hubspot.daily_max == 2000 and 0 < hubspot.day_ends_at.seconds - time.time() <= 41:
            break
        assert time.monotonic() < midnight - 25, hubspot
    # The other private app spends most of the account's day directly.
    spent = usage["currentUsage"]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: direct_call(fleet.sim_url, "pat-other-app"), range(1950 - spent)))
    assert statuses.count(200) == 1950 - spent, set(statuses)
    # The fleet serves what is left, then refuses with the reason until the account's midnight.
    stub = contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(fleet.gateways[1].address))
    refusals = []
    n = 0
    while time.monotonic() < midnight - 3:
        n += 1
        try:
            stub.GetContact(contacts_pb2.GetContactRequest(id=ids[n % len(ids)], read_options=FRESH),
                            metadata=fleet.metadata("analytics"), timeout=5)
            assert not refusals, "a read was served after the day was spent, before the midnight"
        except grpc.RpcError as error:
            reason, retry = reason_and_retry(error)
            refusals.append((reason, retry, midnight - time.monotonic()))
            if len(refusals) >= 20:
                break
    assert refusals, "the day was never spent"
    assert all(reason == "HUBSPOT_DAILY_LIMIT_REACHED" for reason, _, _ in refusals), refusals
    assert all(abs(retry - left) < 3 for _, retry, left in refusals), refusals
    # At the account's midnight the fleet resumes by itself. (Records never read: one read
    # before would be served stale from the cache while HubSpot cannot be asked.)
    # One read whose deadline reaches past the midnight waits for it in the fleet's budget and is
    # served then (after it, a call may still be told to come back for the burst: asked again).
    unread = iter(reversed(ids[n + 1:]))
    while True:
        try:
            stub.GetContact(contacts_pb2.GetContactRequest(id=next(unread), read_options=FRESH),
                            metadata=fleet.metadata("analytics"), timeout=midnight - time.monotonic() + 15)
            break
        except grpc.RpcError as error:
            assert time.monotonic() > midnight - 1.5, ("refused before the midnight", reason_and_retry(error))
            assert time.monotonic() < midnight + 15, "not served again after the account's midnight"
    assert time.monotonic() > midnight - 1.5, ("served again before the account's midnight", refusals[:3], sim_usage(fleet))
    assert sim_usage(fleet)["currentUsage"] < 100, "a new day at HubSpot"
    # HubSpot refused the fleet at most once per replica: it held its calls instead of trying.
    assert fleet.sim_admin("GET", "/_sim/stats")["byEndpointAndStatus"].get("objects.batch.read", {}).get("429", 0) <= 2
