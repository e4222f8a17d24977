"""Starts real `hubspot-sim` processes for HubSpot's official Python SDK to talk to."""
import json
import os
import pathlib
import subprocess
import urllib.request

import pytest
from hubspot import HubSpot

ROOT = pathlib.Path(__file__).resolve().parents[3]
TOKEN = "pat-interop-token"


def simulator_binary() -> str:
    binary = os.environ.get("HUBSPOT_SIM_BIN") or str(ROOT / ".build" / "debug" / "hubspot-sim")
    if not os.path.exists(binary):
        pytest.exit(f"hubspot-sim not built at {binary}; run `swift build --product hubspot-sim` or set HUBSPOT_SIM_BIN", 2)
    return binary


class Simulator:
    """One running simulator process and the URL it printed."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            [simulator_binary(), "--port", "0", "--token", TOKEN, "--log-level", "warning", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("hubspot-sim listening on "):
            self.process.kill()
            raise RuntimeError(f"simulator did not start: {line!r} {self.process.stderr.read()}")
        self.url = line.rsplit(" ", 1)[1]

    def client(self, token: str = TOKEN) -> HubSpot:
        # The generated API clients read `host`; `api_request` reads `base_url`: pass both.
        return HubSpot(access_token=token, host=self.url, base_url=self.url)

    def admin(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return json.loads(text) if text else None

    def stop(self):
        self.process.terminate()
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        assert code == 0, f"hubspot-sim exited with {code} on SIGTERM: {self.process.stderr.read()}"


@pytest.fixture(scope="session")
def shared_simulator():
    sim = Simulator("--burst-limit", "0", "--search-per-second", "0", "--custom-object", "cars:vin!,make,year:number")
    yield sim
    sim.stop()


@pytest.fixture
def sim(shared_simulator):
    """The shared simulator, reset to an empty portal before each test."""
    shared_simulator.admin("POST", "/_sim/reset")
    return shared_simulator


@pytest.fixture
def client(sim):
    return sim.client()


@pytest.fixture
def start_simulator():
    """Starts simulators with extra flags; stops them after the test."""
    started = []

    def start(*args: str) -> Simulator:
        simulator = Simulator(*args)
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        simulator.stop()
