"""Time from a signed webhook reaching one replica to the moment no replica serves the old
value: a contact is cached by every replica (near and Redis tiers), changed in the simulator
(as in HubSpot's UI, with no webhook of its own), then the webhook for that change is posted to
one replica, and every replica is read until all answer the new value."""
import base64
import hashlib
import hmac
import json
import pathlib
import sys
import time
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "Tests" / "Interop" / "gateway"))
import gateway_fleet  # noqa: E402,F401  (compiles Protos/hubspot into importable stubs)
import grpc  # noqa: E402
from hubspot.gateway.v1 import contacts_pb2, contacts_pb2_grpc  # noqa: E402

sim_url, key, secret, public_url = sys.argv[1:5]
replicas = [(int(g), int(h)) for g, h in (pair.split(":") for pair in sys.argv[5].split(","))]
rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 50
metadata = (("authorization", f"Bearer {key}"),)
stubs = [contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(f"127.0.0.1:{grpc_port}")) for grpc_port, _ in replicas]


def sim(method, path, body=None):
    request = urllib.request.Request(sim_url + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer pat-sim-token"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def post_webhook(http_port, events):
    body = json.dumps(events).encode()
    timestamp = str(int(time.time() * 1000))
    mac = hmac.new(secret.encode(), b"POST" + public_url.encode() + body + timestamp.encode(), hashlib.sha256)
    request = urllib.request.Request(f"http://127.0.0.1:{http_port}/webhooks/hubspot", data=body, method="POST", headers={
        "Content-Type": "application/json", "X-HubSpot-Signature-v3": base64.b64encode(mac.digest()).decode(),
        "X-HubSpot-Request-Timestamp": timestamp})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


contact = sim("GET", "/crm/v3/objects/contacts?limit=1")["results"][0]["id"]
read = contacts_pb2.GetContactRequest(id=contact, properties=["jobtitle"])
took = []
for n in range(rounds):
    value = f"title {n} {time.time()}"
    for stub in stubs:  # cached everywhere (the second read is a near-cache hit)
        for _ in range(2):
            stub.GetContact(read, metadata=metadata, timeout=5)
    sim("PATCH", f"/_sim/ui/objects/contacts/{contact}", {"properties": {"jobtitle": value}})
    started = time.monotonic()
    post_webhook(replicas[n % len(replicas)][1], [{
        "eventId": f"inv-{n}-{time.time()}", "subscriptionId": 1, "portalId": 62515, "appId": 1, "occurredAt": int(time.time() * 1000),
        "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": int(contact), "propertyName": "jobtitle",
        "propertyValue": value, "changeSource": "CRM_UI"}])
    pending = set(range(len(stubs)))
    while pending:
        for index in list(pending):
            if stubs[index].GetContact(read, metadata=metadata, timeout=5).contact.properties.get("jobtitle") == value:
                pending.discard(index)
        if time.monotonic() - started > 10:
            sys.exit(f"round {n}: replicas {sorted(pending)} still served the old value after 10 s")
    took.append((time.monotonic() - started) * 1000)
took.sort()
print(f"rounds={len(took)} replicas={len(stubs)} p50_ms={took[len(took) // 2]:.1f} p99_ms={took[int(len(took) * 0.99)]:.1f} max_ms={took[-1]:.1f}")
