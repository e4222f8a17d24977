"""Communication preferences (issue 35): the consent a marketing sender checks before it sends.
Subscription types and statuses through grpcio, many addresses in one HubSpot call, statuses
cached for a short TTL across the fleet and forgotten fleet-wide when the gateway changes them,
never served stale when HubSpot cannot be asked, subscriptions refused without a lawful basis.
Real processes: two gateways, redis-server, hubspot-sim."""
import grpc
import pytest

from gateway_fleet import Fleet
from hubspot.gateway.v1 import common_pb2, preferences_pb2, preferences_pb2_grpc

S = preferences_pb2


@pytest.fixture(scope="module")
def fleet():
    fleet = Fleet(replicas=2, args=("--preferences-ttl-seconds", "300"))
    yield fleet
    fleet.stop()


def stubs(fleet):
    return [preferences_pb2_grpc.CommunicationPreferencesServiceStub(grpc.insecure_channel(g.address)) for g in fleet.gateways]


def state(statuses, subscription_id):
    return next(s.state for s in statuses if s.subscription_id == subscription_id)


def calls(fleet, endpoint):
    return fleet.sim_admin("GET", "/_sim/stats")["byEndpoint"].get(endpoint, 0)


def test_a_consent_check_reads_many_addresses_in_one_call_and_sees_a_change_made_through_any_replica(fleet):
    first, second = stubs(fleet)
    types = first.ListSubscriptionTypes(S.ListSubscriptionTypesRequest(), metadata=fleet.metadata("analytics"), timeout=30).types
    marketing = next(t for t in types if t.purpose == "Marketing")
    assert marketing.name == "Marketing Information" and marketing.is_active

    audience = [f"reader-{n}@example.com" for n in range(50)]
    before = calls(fleet, "preferences.statuses.batch.read")
    answer = first.BatchGetSubscriptionStatuses(S.BatchGetSubscriptionStatusesRequest(emails=audience),
                                                metadata=fleet.metadata("analytics"), timeout=30)
    assert [r.email for r in answer.recipients] == audience
    assert all(state(r.statuses, marketing.id) == S.SUBSCRIPTION_STATE_NOT_SPECIFIED for r in answer.recipients)
    assert calls(fleet, "preferences.statuses.batch.read") == before + 1, "50 addresses, one HubSpot call"

    # Cached for the fleet: the other replica answers without HubSpot.
    second.GetSubscriptionStatuses(S.GetSubscriptionStatusesRequest(email=audience[0]), metadata=fleet.metadata("analytics"), timeout=30)
    assert calls(fleet, "preferences.statuses.batch.read") == before + 1

    # A subscription through one replica is seen at once by the other (forgotten fleet-wide).
    subscribed = first.SubscribeEmail(S.SubscribeEmailRequest(
        email=audience[0], subscription_id=marketing.id, legal_basis=S.LEGAL_BASIS_CONSENT_WITH_NOTICE,
        legal_basis_explanation="Signed up at the fair"), metadata=fleet.metadata("orders"), timeout=30).status
    assert subscribed.state == S.SUBSCRIPTION_STATE_SUBSCRIBED and subscribed.legal_basis == "CONSENT_WITH_NOTICE"
    seen = second.GetSubscriptionStatuses(S.GetSubscriptionStatusesRequest(email=audience[0]), metadata=fleet.metadata("analytics"), timeout=30)
    assert state(seen.statuses, marketing.id) == S.SUBSCRIPTION_STATE_SUBSCRIBED

    first.UnsubscribeEmail(S.UnsubscribeEmailRequest(email=audience[0], subscription_id=marketing.id),
                           metadata=fleet.metadata("orders"), timeout=30)
    seen = second.GetSubscriptionStatuses(S.GetSubscriptionStatusesRequest(email=audience[0]), metadata=fleet.metadata("analytics"), timeout=30)
    assert state(seen.statuses, marketing.id) == S.SUBSCRIPTION_STATE_UNSUBSCRIBED

    # Opted out: HubSpot will not take the address back through this API, and says why.
    with pytest.raises(grpc.RpcError) as refused:
        first.SubscribeEmail(S.SubscribeEmailRequest(
            email=audience[0], subscription_id=marketing.id, legal_basis=S.LEGAL_BASIS_CONSENT_WITH_NOTICE,
            legal_basis_explanation="Again"), metadata=fleet.metadata("orders"), timeout=30)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "opted out" in refused.value.details()


def test_a_change_made_outside_the_gateway_is_read_fresh_when_asked_and_statuses_are_never_served_stale(fleet):
    first, _ = stubs(fleet)
    email = "elsewhere@example.com"
    first.GetSubscriptionStatuses(S.GetSubscriptionStatusesRequest(email=email), metadata=fleet.metadata("analytics"), timeout=30)
    # The person subscribes on a HubSpot form (straight at HubSpot, not through the gateway).
    import json
    import urllib.request
    request = urllib.request.Request(fleet.sim_url + "/communication-preferences/v3/subscribe", method="POST",
                                     data=json.dumps({"emailAddress": email, "subscriptionId": "1", "legalBasis": "CONSENT_WITH_NOTICE",
                                                      "legalBasisExplanation": "Form"}).encode(),
                                     headers={"Authorization": "Bearer pat-sim-token", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()
    cached = first.GetSubscriptionStatuses(S.GetSubscriptionStatusesRequest(email=email), metadata=fleet.metadata("analytics"), timeout=30)
    assert state(cached.statuses, "1") == S.SUBSCRIPTION_STATE_NOT_SPECIFIED, "within the TTL: the cached status"
    fresh = first.GetSubscriptionStatuses(S.GetSubscriptionStatusesRequest(
        email=email, read_options=common_pb2.ReadOptions(max_staleness={"seconds": 0})), metadata=fleet.metadata("analytics"), timeout=30)
    assert state(fresh.statuses, "1") == S.SUBSCRIPTION_STATE_SUBSCRIBED

    # HubSpot down: a status not cached is an error, never a guess.
    fleet.sim_admin("PUT", "/_sim/faults", {"outage": True})
    try:
        with pytest.raises(grpc.RpcError) as down:
            first.GetSubscriptionStatuses(S.GetSubscriptionStatusesRequest(email="unknown-yet@example.com"),
                                          metadata=fleet.metadata("analytics"), timeout=10)
        assert down.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED), down.value
    finally:
        fleet.sim_admin("DELETE", "/_sim/faults")


def test_bad_input_and_a_missing_legal_basis_are_refused_before_hubspot(fleet):
    first, _ = stubs(fleet)
    before = calls(fleet, "preferences.subscribe")
    cases = [
        (S.SubscribeEmailRequest(email="not-an-address", subscription_id="1", legal_basis=S.LEGAL_BASIS_NON_GDPR,
                                 legal_basis_explanation="x"), "email must be an email address"),
        (S.SubscribeEmailRequest(email="a@example.com", subscription_id="1"), "legal_basis is required"),
        (S.SubscribeEmailRequest(email="a@example.com", subscription_id="one", legal_basis=S.LEGAL_BASIS_NON_GDPR,
                                 legal_basis_explanation="x"), "subscription_id must be"),
    ]
    for request, message in cases:
        with pytest.raises(grpc.RpcError) as refused:
            first.SubscribeEmail(request, metadata=fleet.metadata("orders"), timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and message in refused.value.details(), refused.value
    with pytest.raises(grpc.RpcError) as too_many:
        first.BatchGetSubscriptionStatuses(S.BatchGetSubscriptionStatusesRequest(emails=[f"x{n}@example.com" for n in range(101)]),
                                           metadata=fleet.metadata("analytics"), timeout=10)
    assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # A reader may not change consent.
    with pytest.raises(grpc.RpcError) as reader:
        first.UnsubscribeEmail(S.UnsubscribeEmailRequest(email="a@example.com", subscription_id="1"),
                               metadata=fleet.metadata("analytics"), timeout=10)
    assert reader.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert calls(fleet, "preferences.subscribe") == before
