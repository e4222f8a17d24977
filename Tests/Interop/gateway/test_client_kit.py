"""The Python client kit (clients/python), installed as a calling service would install it
(`pip install ./clients/python`), the three example callers (examples/) and the README tour's
grpcurl calls, against the sandbox gateway with Redis. The kit and the examples run in processes
of their own, as callers do (and because this process already holds stubs compiled by gateway_fleet)."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

import pytest

from gateway_fleet import Fleet, Gateway, start_redis_server

ROOT = pathlib.Path(__file__).resolve().parents[3]
VENV_BIN = pathlib.Path(sys.executable).parent


@pytest.fixture(scope="module")
def kit():
    """The kit built from this checkout and installed into a folder of its own."""
    target = tempfile.mkdtemp(prefix="gateway-kit-")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "--target", target,
                             str(ROOT / "clients" / "python")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    yield target
    shutil.rmtree(target, ignore_errors=True)


@pytest.fixture(scope="module")
def sandbox_with_redis():
    directory = tempfile.mkdtemp(prefix="gateway-sandbox-redis-")
    redis, port = start_redis_server(lambda port: ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                                   "--appendonly", "no", "--dir", directory])
    gateway = Gateway("--sandbox", "--redis-url", f"redis://127.0.0.1:{port}")
    yield gateway
    gateway.stop()
    redis.terminate()
    redis.wait(timeout=10)
    shutil.rmtree(directory, ignore_errors=True)


def run_python(kit, code_or_script, *args, env=None, timeout=180):
    """Runs a script (path) or code (text) with the kit (and examples/) importable."""
    command = [sys.executable, str(code_or_script)] if isinstance(code_or_script, pathlib.Path) else [sys.executable, "-c", code_or_script]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([kit, str(ROOT / "examples")]), **(env or {})}
    result = subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout, env=environment)
    assert result.returncode == 0, f"{code_or_script}: {result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_kit_sends_the_key_and_decodes_the_gateways_errors(kit, sandbox_with_redis):
    out = run_python(kit, f"""
import grpc, json
from hubspot_gateway_client import GatewayClient, GatewayError
from hubspot_gateway_client.v1 import contacts_pb2
found = {{}}
with GatewayClient("{sandbox_with_redis.address}", caller_key="{sandbox_with_redis.key}") as client:
    first = client.contacts.CreateContact(contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(email="kit@example.com"))).contact
    found["read"] = client.contacts.GetContact(contacts_pb2.GetContactRequest(id=first.id)).contact.email
    try:
        client.contacts.CreateContact(contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(email="kit@example.com")))
    except GatewayError as error:
        found["duplicate"] = [error.code().name, error.reason, error.existing_id == first.id, bool(error.request_id), error.retry_after]
    try:
        client.contacts.GetContact(contacts_pb2.GetContactRequest(email="not-an-email"))
    except GatewayError as error:
        found["invalid"] = [error.code().name, error.reason, error.field_violations]
    streamed = client.changes.Subscribe  # streams are wrapped too
with GatewayClient("{sandbox_with_redis.address}", caller_key="wrong") as stranger:
    try:
        stranger.contacts.GetContact(contacts_pb2.GetContactRequest(id="1"))
    except grpc.RpcError as error:  # GatewayError is still a grpc.RpcError
        found["stranger"] = [type(error).__name__, error.code().name, error.reason]
print(json.dumps(found))
""")
    found = json.loads(out.strip().splitlines()[-1])
    assert found["read"] == "kit@example.com"
    assert found["duplicate"] == ["ALREADY_EXISTS", "DUPLICATE_RECORD", True, True, None]
    code, reason, violations = found["invalid"]
    assert code == "INVALID_ARGUMENT" and reason == "INVALID_REQUEST" and violations and violations[0][0] == "email"
    assert found["stranger"] == ["GatewayError", "UNAUTHENTICATED", "CALLER_NOT_AUTHENTICATED"]


def test_reads_are_retried_creates_are_not_and_calls_spread_over_the_replicas(kit):
    fleet = Fleet(replicas=2, sim_args=("--seed", "20"))
    try:
        target = "ipv4:" + ",".join(g.address for g in fleet.gateways)
        key = Fleet.KEYS["orders"][0]
        # Round-robin: plain reads land on both replicas.
        run_python(kit, f"""
from hubspot_gateway_client import GatewayClient
from hubspot_gateway_client.v1 import contacts_pb2
with GatewayClient("{target}", caller_key="{key}") as client:
    for _ in range(20):
        client.contacts.ListContacts(contacts_pb2.ListContactsRequest())
""")
        served = [_count(g, "ListContacts", "ok") for g in fleet.gateways]
        assert all(n >= 5 for n in served), f"ListContacts per replica: {served}"
        # HubSpot down: an uncached read is tried three times (the gateway's UNAVAILABLE with its
        # pushback), a create once (it might have landed).
        fleet.sim_admin("PUT", "/_sim/faults", {"outage": True})
        out = run_python(kit, f"""
import json
from hubspot_gateway_client import GatewayClient, GatewayError
from hubspot_gateway_client.v1 import contacts_pb2
codes = []
with GatewayClient("{fleet.gateways[0].address}", caller_key="{key}", deadlines={{"read": 20, "write": 20}}) as client:
    for call in (lambda: client.contacts.GetContact(contacts_pb2.GetContactRequest(id="987654321")),
                 lambda: client.contacts.CreateContact(contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(email="down@example.com")))):
        try:
            call()
            codes.append("OK")
        except GatewayError as error:
            codes.append(error.code().name)
print(json.dumps(codes))
""", timeout=120)
        # The create is UNAVAILABLE when the read's failures opened the breaker, else UNKNOWN
        # (HubSpot answered 5xx to a create that may have landed: WRITE_OUTCOME_UNKNOWN). Which one
        # depends on the breaker's window (the gateway's own calls at start, such as the
        # account-info reads, count in it); either way it is tried once.
        codes = json.loads(out.strip().splitlines()[-1])
        assert codes[0] == "UNAVAILABLE" and codes[1] in ("UNAVAILABLE", "UNKNOWN"), codes
        attempts = {method: sum(_count(g, method, code) for g in fleet.gateways for code in ("unavailable", "unknown"))
                    for method in ("GetContact", "CreateContact")}
        assert attempts == {"GetContact": 3, "CreateContact": 1}, attempts
    finally:
        fleet.stop()


def _count(gateway, method, code):
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{gateway.http_port}/metrics", timeout=5).read().decode()
    total = 0
    for line in metrics.splitlines():
        if line.startswith("gateway_grpc_requests_total{") and f'/{method}"' in line and f'code="{code}"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


@pytest.mark.parametrize("example, expected", [
    ("order_service.py", [r"^buyer \d+", r"line items \(a retry answered the same deal\)",
                          r"^  1 × Keyboard at 99\.90 = 99\.9, SKU KB-", r"^  2 × Cable at 15\.00 = 30", r"moved to Closed Won",
                          r"^buyer's timeline: (task, note|note, task)$"]),
    ("marketing_service.py", [r"^job .*: 2000 records stored durably", r"^imported 2000 contacts", r"lifecycle stage of \d+ is now marketingqualifiedlead",
                              r"^campaign: 1 of 100 leads consented to 'Marketing Information'", r"opted out: the next check leaves them out"]),
    ("analytics_service.py", [r"^full load: \d+ contacts read from export-file in \d HubSpot calls", r"^exported \d+ deals changed",
                              r"amount is now 750 \(acknowledged for group"]),
])
def test_the_example_callers_run_against_the_sandbox(kit, sandbox_with_redis, example, expected):
    out = run_python(kit, ROOT / "examples" / example, env={"HUBSPOT_GATEWAY_TARGET": sandbox_with_redis.address,
                                                             "HUBSPOT_GATEWAY_KEY": sandbox_with_redis.key})
    print(out)
    for pattern in expected:
        assert re.search(pattern, out, re.M), f"{example}: no line matching {pattern!r} in:\n{out}"


def test_the_readmes_grpcurl_calls_work(sandbox_with_redis):
    """The tour's first commands, exactly as README.md writes them (address and key filled in)."""
    grpcurl = str(VENV_BIN / "grpcurl")
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^grpcurl .*$", readme, re.M)
    assert len(commands) >= 3, "README.md's tour has its grpcurl lines"
    outputs = []
    for command in commands:
        line = command.replace("127.0.0.1:50051", sandbox_with_redis.address).replace("$KEY", sandbox_with_redis.key)
        result = subprocess.run(line.replace("grpcurl", grpcurl, 1), shell=True, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)
    joined = "\n".join(outputs)
    # Every service of the contract is listed by reflection and serving by the health service.
    contract = {f"hubspot.gateway.v1.{name}" for name in
                re.findall(r"^service (\w+)", "\n".join(p.read_text() for p in (ROOT / "Protos/hubspot/gateway/v1").glob("*.proto")), re.M)}
    assert "hubspot.gateway.v1.JobsService" in contract
    listed = set(re.findall(r"^(hubspot\.gateway\.v1\.\w+)$", outputs[0], re.M))
    assert listed == contract, f"reflection lists {sorted(listed)}; the contract has {sorted(contract)}"
    for service in sorted(contract):
        result = subprocess.run([grpcurl, "-plaintext", "-d", json.dumps({"service": service}), sandbox_with_redis.address,
                                 "grpc.health.v1.Health/Check"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and "SERVING" in result.stdout, f"{service}: {result.stdout}{result.stderr}"
    assert "rpc ListContacts" in joined, "describe shows the method"
    assert '"contacts"' in joined, "ListContacts answered with contacts"
