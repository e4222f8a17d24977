"""Fleets for the chaos suite: three real gateways, a real redis-server (AOF on, as k8s/ runs
it) and hubspot-sim with HubSpot's limits, reusing the interop suite's Fleet."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from chaos import Fleet, ready  # noqa: E402


@pytest.fixture
def chaos_fleet():
    fleet = Fleet(replicas=3, redis_aof=True)
    for gateway in fleet.gateways:
        assert ready(gateway)
    yield fleet
    fleet.stop()
