"""Fifty HubSpot SDK clients against three gateway replicas' REST endpoint: HubSpot (the
simulator) never sees more than the fleet's budget, hot reads are cache hits, and nothing fails."""
import collections
import concurrent.futures
import random
import threading
import time

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.contacts.exceptions import ApiException

from gateway_fleet import Fleet


@pytest.fixture(scope="module")
def rest_fleet3():
    fleet = Fleet(replicas=3)
    yield fleet
    fleet.stop()


def test_fifty_sdk_clients_on_three_replicas_stay_within_the_budget_and_hit_the_cache(rest_fleet3):
    fleet = rest_fleet3
    urls = [f"http://127.0.0.1:{g.http_port}" for g in fleet.gateways]
    key = fleet.KEYS["orders"][0]
    first = HubSpot(access_token=key, host=urls[0], base_url=urls[0])
    hot = [c.id for c in first.crm.contacts.basic_api.get_page(limit=20).results]
    fleet.sim_admin("POST", "/_sim/stats/reset")
    outcomes = collections.Counter()
    lock = threading.Lock()

    def client_run(n):
        url = urls[n % 3]
        client = HubSpot(access_token=key, host=url, base_url=url)
        rng = random.Random(n)
        for step in range(12):
            contact = rng.choice(hot)
            try:
                if step % 6 == 5:
                    client.crm.contacts.basic_api.update(contact, SimplePublicObjectInput(properties={"jobtitle": f"Load {n}-{step}"}))
                    kind = "write"
                else:
                    client.crm.contacts.basic_api.get_by_id(contact, properties=["email"])
                    kind = "read"
                with lock:
                    outcomes[kind] += 1
            except ApiException as error:
                with lock:
                    outcomes[f"error {error.status}"] += 1

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        list(pool.map(client_run, range(50)))
    stats = fleet.sim_admin("GET", "/_sim/stats?windowMs=10000")
    calls = sum(stats["byEndpoint"].values())
    print(f"50 SDK clients, {sum(outcomes.values())} calls through REST ({dict(outcomes)}): "
          f"{calls} reached HubSpot, busiest 10 s {stats['slidingWindow']['maxAdmittedOthers']}")
    assert [k for k in outcomes if k.startswith("error")] == [], outcomes
    assert stats["rateLimited"] == 0
    assert stats["slidingWindow"]["maxAdmittedOthers"] <= 8 * 11
    # 500 reads of 20 hot contacts (and 100 writes that drop them): most reads are cache hits.
    assert calls < (outcomes["read"] + outcomes["write"]) / 2, stats["byEndpoint"]


def test_sdk_retries_on_the_gateways_429s_wait_retry_after_and_all_succeed(rest_fleet3):
    """More list calls than the budget serves within a short deadline: the gateway answers 429
    with Retry-After, the SDKs' own urllib3 retries wait it out, and every call succeeds —
    with HubSpot still never over budget and the retries paced, not a storm."""
    from urllib3.util.retry import Retry

    fleet = rest_fleet3
    urls = [f"http://127.0.0.1:{g.http_port}" for g in fleet.gateways]
    key = fleet.KEYS["orders"][0]
    retries = collections.Counter()
    lock = threading.Lock()

    class CountingRetry(Retry):
        def increment(self, *args, **kwargs):
            response = kwargs.get("response")
            with lock:
                retries[response.status if response is not None else "error"] += 1
            return super().increment(*args, **kwargs)

    fleet.sim_admin("POST", "/_sim/stats/reset")
    clients, pages = 20, 4
    failures = []

    def client_run(n):
        url = urls[n % 3]
        # What HubSpot's SDK documentation recommends for 429s; GETs are retried by default.
        client = HubSpot(access_token=key, host=url, base_url=url,
                         retry=CountingRetry(total=40, status_forcelist=(429,), backoff_factor=0, respect_retry_after_header=True))
        # Each access of `basic_api` makes a new API object: keep one to keep its header.
        contacts = client.crm.contacts.basic_api
        contacts.api_client.default_headers["X-Gateway-Timeout-Ms"] = "300"
        for page in range(pages):
            try:
                contacts.get_page(limit=5, properties=[f"p{n}x{page}"])
            except ApiException as error:
                with lock:
                    failures.append(error.status)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(client_run, range(clients)))
    elapsed = time.monotonic() - started
    stats = fleet.sim_admin("GET", "/_sim/stats?windowMs=10000")
    print(f"{clients * pages} list calls in {elapsed:.1f} s: retries {dict(retries)}, "
          f"HubSpot calls {sum(stats['byEndpoint'].values())}, busiest 10 s {stats['slidingWindow']['maxAdmittedOthers']}")
    assert failures == []
    assert retries[429] > 0, "the load must exceed what the budget serves within 300 ms"
    assert set(retries) == {429}
    assert stats["rateLimited"] == 0
    assert stats["slidingWindow"]["maxAdmittedOthers"] <= 8 * 11
    # Each client waits Retry-After (≥ 1 s) before trying again: at most one retry per client
    # per second, however long the queue.
    assert retries[429] <= clients * (elapsed + 1)
