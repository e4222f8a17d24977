"""Fixtures of the gateway interop suite. The helpers they use live in gateway_fleet.py, which
test files import by that name (a module named `conftest` is ambiguous once several suites'
conftests are collected in one process, as pytest-xdist's workers do)."""
import pytest

from gateway_fleet import Fleet, Gateway, gateway_binary


@pytest.fixture(scope="module")
def sandbox():
    gateway = Gateway("--sandbox")
    yield gateway
    gateway.stop()


@pytest.fixture
def gateway_bin():
    return gateway_binary()


@pytest.fixture
def start_gateway():
    """Starts gateways with the given arguments; stops whatever is left at the end."""
    started = []

    def start(*args: str, env: dict | None = None) -> Gateway:
        gateway = Gateway(*args, env=env)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        if gateway.process.poll() is None:
            gateway.stop()


@pytest.fixture(scope="module")
def fleet():
    started = Fleet()
    yield started
    assert started.stop() == [0, 0, 0], "every replica drains and exits 0 on SIGTERM"
