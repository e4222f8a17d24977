"""Every failed RPC carries the standard rich error model: Python's grpcio-status decodes a
google.rpc.Status from it, with ErrorInfo (a reason from errors.proto, domain hubspot-gateway),
RetryInfo when waiting helps (and grpc-retry-pushback-ms), BadRequest for invalid input and
RequestInfo with the request id. Each reason is produced here against real processes."""
import collections
import concurrent.futures
import time
import urllib.error
import urllib.request

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway_fleet import Fleet
from hubspot.gateway.v1 import (common_pb2, contacts_pb2, contacts_pb2_grpc, deals_pb2, deals_pb2_grpc, errors_pb2,
                                metadata_pb2, metadata_pb2_grpc)

DOMAIN = "hubspot-gateway"


@pytest.fixture(scope="module")
def errors_fleet():
    fleet = Fleet(replicas=1, args=("--breaker-minimum-failures", "3", "--breaker-open-seconds", "30"),
                  sim_args=("--seed", "20"))
    yield fleet
    fleet.stop()


def failure(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(*args, **kwargs)
    return raised.value


def details(error: grpc.RpcError) -> dict:
    """The decoded google.rpc.Status: code, message and its details by type."""
    status = rpc_status.from_call(error)
    assert status is not None, f"{error.code()} {error.details()} carries no grpc-status-details-bin"
    assert status.code == error.code().value[0] and status.message == error.details()
    found = {}
    for detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo, error_details_pb2.BadRequest,
                     error_details_pb2.RequestInfo):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found[kind.__name__] = message
    info = found["ErrorInfo"]
    assert info.domain == DOMAIN
    assert errors_pb2.ErrorReason.Value(info.reason) > 0, f"{info.reason} is on the documented list"
    assert found["RequestInfo"].request_id, "every error names its request id"
    trailers = dict(error.trailing_metadata())
    assert trailers["x-request-id"] == found["RequestInfo"].request_id
    return found


def reason_of(error: grpc.RpcError) -> str:
    return details(error)["ErrorInfo"].reason


def stubs(fleet, caller="orders"):
    channel = grpc.insecure_channel(fleet.gateways[0].address)
    return contacts_pb2_grpc.ContactsServiceStub(channel), fleet.metadata(caller)


def test_not_found_duplicate_invalid_property_and_invalid_request(errors_fleet):
    contacts, metadata = stubs(errors_fleet)
    missing = failure(contacts.GetContact, contacts_pb2.GetContactRequest(id="999999999"), metadata=metadata, timeout=10)
    assert missing.code() == grpc.StatusCode.NOT_FOUND and reason_of(missing) == "RECORD_NOT_FOUND"

    created = contacts.CreateContact(contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(email="dup@errors.example")),
                                     metadata=metadata, timeout=10)
    duplicate = failure(contacts.CreateContact, contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(email="dup@errors.example")),
                        metadata=metadata, timeout=10)
    found = details(duplicate)
    assert duplicate.code() == grpc.StatusCode.ALREADY_EXISTS
    assert found["ErrorInfo"].reason == "DUPLICATE_RECORD" and found["ErrorInfo"].metadata["existing_id"] == created.contact.id

    invalid = failure(contacts.CreateContact, contacts_pb2.CreateContactRequest(
        contact=contacts_pb2.Contact(email="shoe@errors.example", properties={"shoe_size": "44"})), metadata=metadata, timeout=10)
    found = details(invalid)
    assert invalid.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert found["ErrorInfo"].reason == "INVALID_PROPERTY" and found["ErrorInfo"].metadata["property"] == "shoe_size"
    assert [v.field for v in found["BadRequest"].field_violations] == ["properties.shoe_size"]

    malformed = failure(contacts.GetContact, contacts_pb2.GetContactRequest(id="abc"), metadata=metadata, timeout=10)
    found = details(malformed)
    assert found["ErrorInfo"].reason == "INVALID_REQUEST" and found["BadRequest"].field_violations[0].field == "id"
    assert "RetryInfo" not in found, "waiting does not help bad input"


def test_paging_past_searchs_cap_is_out_of_range_with_advice(errors_fleet):
    contacts, metadata = stubs(errors_fleet)
    past = failure(contacts.SearchContacts, contacts_pb2.SearchContactsRequest(
        page=common_pb2.PageRequest(page_size=100, cursor="9950")), metadata=metadata, timeout=10)
    assert past.code() == grpc.StatusCode.OUT_OF_RANGE
    assert reason_of(past) == "SEARCH_RESULTS_CAP" and "narrow the query" in past.details()


def test_callers_without_a_key_or_the_scope_are_told_which(errors_fleet):
    channel = grpc.insecure_channel(errors_fleet.gateways[0].address)
    contacts = contacts_pb2_grpc.ContactsServiceStub(channel)
    anonymous = failure(contacts.GetContact, contacts_pb2.GetContactRequest(id="1"), timeout=10)
    assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED and reason_of(anonymous) == "CALLER_NOT_AUTHENTICATED"
    reader = failure(contacts.CreateContact, contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(email="r@errors.example")),
                     metadata=errors_fleet.metadata("analytics"), timeout=10)
    found = details(reader)
    assert reader.code() == grpc.StatusCode.PERMISSION_DENIED and found["ErrorInfo"].reason == "CALLER_NOT_ALLOWED"
    assert dict(found["ErrorInfo"].metadata) == {"caller": "analytics", "scope": "crm.write"}


def test_metadata_not_found_and_a_reused_idempotency_key(errors_fleet):
    channel = grpc.insecure_channel(errors_fleet.gateways[0].address)
    pipelines = metadata_pb2_grpc.MetadataServiceStub(channel)
    unknown = failure(pipelines.GetPipeline, metadata_pb2.GetPipelineRequest(object_type="deals", pipeline_id="nope"),
                      metadata=errors_fleet.metadata(), timeout=10)
    assert unknown.code() == grpc.StatusCode.NOT_FOUND and reason_of(unknown) == "METADATA_NOT_FOUND"
    contacts, metadata = stubs(errors_fleet)
    contacts.CreateContact(contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(email="k1@errors.example"),
                                                             idempotency_key="key-1"), metadata=metadata, timeout=10)
    reused = failure(contacts.CreateContact, contacts_pb2.CreateContactRequest(
        contact=contacts_pb2.Contact(email="k2@errors.example"), idempotency_key="key-1"), metadata=metadata, timeout=10)
    assert reused.code() == grpc.StatusCode.FAILED_PRECONDITION and reason_of(reused) == "IDEMPOTENCY_KEY_REUSED"


def metric(fleet, name) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{fleet.gateways[0].http_port}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def ready(fleet) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{fleet.gateways[0].http_port}/readyz", timeout=5).status == 200
    except urllib.error.HTTPError:
        return False


def test_a_missing_hubspot_scope_is_permission_denied_naming_it_and_not_an_outage(errors_fleet):
    fleet = errors_fleet
    deals = deals_pb2_grpc.DealsServiceStub(grpc.insecure_channel(fleet.gateways[0].address))
    contacts, metadata = stubs(fleet)
    fleet.sim_admin("PUT", "/_sim/scopes", {"granted": ["crm.objects.contacts.read", "crm.objects.contacts.write"]})
    try:
        refused = failure(deals.GetDeal, deals_pb2.GetDealRequest(id="1", read_options=common_pb2.ReadOptions(
            max_staleness={"seconds": 0})), metadata=metadata, timeout=10)
        found = details(refused)
        assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
        assert found["ErrorInfo"].reason == "MISSING_SCOPES"
        assert found["ErrorInfo"].metadata["required_scopes"] == "crm.objects.deals.read"
        assert "crm.objects.deals.read" in refused.details()
        # Not an outage: readiness holds, contacts keep working, no credentials alert.
        assert ready(fleet)
        contacts.ListContacts(contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=1)), metadata=metadata, timeout=10)
        assert metric(fleet, "gateway_hubspot_missing_scopes_total") >= 1
        assert metric(fleet, "gateway_hubspot_credentials_rejected_total") == 0
    finally:
        fleet.sim_admin("DELETE", "/_sim/scopes")


def test_budget_exhaustion_tells_how_long_to_wait_in_retry_info_and_pushback(errors_fleet):
    """Orders floods search (its excess is refused by its share: CALLER_SHARE_EXHAUSTED);
    analytics' searches with a 60 ms deadline, one at a time, find the windows full
    (GATEWAY_BUDGET_EXHAUSTED)."""
    contacts, orders = stubs(errors_fleet)
    analytics = errors_fleet.metadata("analytics")

    def search(n, metadata, timeout):
        try:
            contacts.SearchContacts(contacts_pb2.SearchContactsRequest(query=common_pb2.SearchQuery(query=f"x{n}")),
                                    metadata=metadata, timeout=timeout)
            return None
        except grpc.RpcError as error:
            return error

    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        flood = [pool.submit(search, n, orders, 2) for n in range(80)]
        # One probe at a time (each alone in analytics' line) while orders' admitted calls keep
        # every search window taken; a probe that lands early in a window cannot wait for the next.
        probes = []
        for n in range(12):
            probes.append(search(100 + n, analytics, 0.06))
        errors = [f.result() for f in flood] + probes
    exhausted = [e for e in errors if e is not None and e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED]
    reasons = collections.Counter(reason_of(e) for e in exhausted)
    print(f"searches refused: {dict(reasons)}")
    assert set(reasons) <= {"GATEWAY_BUDGET_EXHAUSTED", "CALLER_SHARE_EXHAUSTED"}
    for name in ("GATEWAY_BUDGET_EXHAUSTED", "CALLER_SHARE_EXHAUSTED"):
        found = details(next(e for e in exhausted if reason_of(e) == name))
        delay = found["RetryInfo"].retry_delay
        milliseconds = delay.seconds * 1000 + delay.nanos // 1_000_000
        assert milliseconds > 0
        trailers = dict(next(e for e in exhausted if reason_of(e) == name).trailing_metadata())
        assert int(trailers["grpc-retry-pushback-ms"]) == milliseconds


def test_hubspot_rate_limits_outages_and_the_open_breaker_each_say_so(errors_fleet):
    fleet = errors_fleet
    contacts, metadata = stubs(fleet)
    fresh = common_pb2.ReadOptions(max_staleness={"seconds": 0})
    # HubSpot's own 429 (another app spent the account's burst): HUBSPOT_RATE_LIMITED.
    # (HubSpot states the interval in its 429; the fleet pauses that long: 2 s here.)
    fleet.sim_admin("PUT", "/_sim/limits", {"burstLimit": 1, "burstIntervalMs": 2000})
    try:
        reasons = set()
        for n in range(5):
            try:
                contacts.ListContacts(contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=1)),
                                      metadata=metadata, timeout=2)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and rpc_status.from_call(error) is None:
                    continue  # the client's own deadline (a loaded machine): no answer of the gateway's
                reasons.add(reason_of(error))
                if reason_of(error) == "HUBSPOT_RATE_LIMITED":
                    assert details(error)["RetryInfo"].retry_delay.seconds >= 1
        assert "HUBSPOT_RATE_LIMITED" in reasons, reasons
    finally:
        fleet.sim_admin("PUT", "/_sim/limits", {"burstLimit": 0})
    # The pause HubSpot asked for ends: calls succeed again (waited for, not slept through).
    deadline = time.monotonic() + 30
    while True:
        try:
            contacts.ListContacts(contacts_pb2.ListContactsRequest(page=common_pb2.PageRequest(page_size=1)), metadata=metadata, timeout=5)
            break
        except grpc.RpcError:
            assert time.monotonic() < deadline, "the fleet stayed paused"
    # HubSpot down: HUBSPOT_UNAVAILABLE, then (after 3 failures) the breaker's CIRCUIT_OPEN.
    fleet.sim_admin("PUT", "/_sim/faults", {"outage": True})
    try:
        seen = []
        for n in range(10):
            error = failure(contacts.GetContact, contacts_pb2.GetContactRequest(id=str(n + 1), read_options=fresh),
                            metadata=metadata, timeout=3)
            seen.append((error.code(), reason_of(error)))
            if seen[-1][1] == "CIRCUIT_OPEN":
                assert details(error)["RetryInfo"].retry_delay.seconds > 0
                break
        assert (grpc.StatusCode.UNAVAILABLE, "HUBSPOT_UNAVAILABLE") in seen, seen
        assert seen[-1] == (grpc.StatusCode.UNAVAILABLE, "CIRCUIT_OPEN"), seen
    finally:
        fleet.sim_admin("PUT", "/_sim/faults", {"outage": False})


def test_rejected_gateway_credentials_are_unavailable_and_unready(start_gateway):
    import hashlib
    sim = Fleet(replicas=0)
    try:
        key = "orders-key-0001"
        gateway = start_gateway("--hubspot-base-url", sim.sim_url, env={
            "HUBSPOT_GATEWAY_HUBSPOT_TOKEN": "pat-wrong-token",
            "HUBSPOT_GATEWAY_CALLER_KEYS": f"orders sha256:{hashlib.sha256(key.encode()).hexdigest()} crm.read,crm.write"})
        contacts = contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(gateway.address))
        rejected = failure(contacts.ListContacts, contacts_pb2.ListContactsRequest(), metadata=(("authorization", f"Bearer {key}"),),
                           timeout=10)
        assert rejected.code() == grpc.StatusCode.UNAVAILABLE and reason_of(rejected) == "HUBSPOT_CREDENTIALS_REJECTED"
        with pytest.raises(urllib.error.HTTPError) as unready:
            urllib.request.urlopen(f"http://127.0.0.1:{gateway.http_port}/readyz", timeout=5)
        assert unready.value.code == 503
    finally:
        sim.stop()
