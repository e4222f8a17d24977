"""Fifty HubSpot SDK clients against three gateway replicas' REST endpoint: HubSpot (the
simulator) never sees more than the fleet's budget, hot reads are cache hits, and nothing fails."""
import collections
import concurrent.futures
import random
import threading

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.contacts.exceptions import ApiException

from conftest import Fleet


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
