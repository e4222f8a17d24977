import ChangeFeed
import GatewayCore
import MetricsTestKit
import Foundation
import Testing
import TestSupport
import Digests

/// The intake against a real redis-server: only signed deliveries reach the feed, each event
/// once, and nothing is answered 200 that was not stored.
@Suite struct WebhookIntakeTests {
    static let three = SignedDelivery.batch([
        SignedDelivery.event(1, "contact.creation", objectId: 101),
        SignedDelivery.event(2, "contact.propertyChange", objectId: 101, property: ("firstname", "Ada")),
        SignedDelivery.event(3, "deal.deletion", objectId: 7),
    ])

    @Test func aSignedDeliveryIsStoredInOrderAndARetriedOneAddsNothing() async throws {
        try await FeedRig.with { rig in
            let intake = rig.intake()
            let first = await SignedDelivery(Self.three).send(to: intake)
            #expect(first.status == 200 && first.outcome == .accepted)
            #expect(first.body == #"{"accepted":3,"duplicates":0}"#)
            let events = try await rig.stored()
            #expect(events.map(\.kind) == [.created, .updated, .deleted])
            #expect(events.map(\.objectType) == ["contacts", "contacts", "deals"])
            #expect(events[1].propertyName == "firstname" && events[1].propertyValue == "Ada")
            #expect(events[1].changeSource == "CRM_UI" && events[1].eventId == "2")
            #expect(events.allSatisfy { $0.cursor != nil })
            // HubSpot's retry: the same events, newly signed a moment later.
            let retry = await SignedDelivery(Self.three, timestamp: Int64(Date().timeIntervalSince1970 * 1000) + 1)
                .send(to: intake)
            #expect(retry.status == 200 && retry.outcome == .duplicate)
            let stored = try await rig.stored()
            #expect(stored.count == 3)
        }
    }

    @Test func anotherPortalsEventsAreAcceptedButNeverStoredAndCountedByPortal() async throws {
        try await FeedRig.with { rig in
            let metrics = TestMetrics()
            let portals = PortalFilter(portal: HubSpotPortal(777), logger: quietLogger(), metrics: metrics)
            let intake = rig.intake(portals: portals)
            let mixed = SignedDelivery.batch([
                SignedDelivery.event(1, "contact.creation", objectId: 101),
                SignedDelivery.event(2, "contact.creation", objectId: 102, portal: 777),
                SignedDelivery.event(3, "deal.deletion", objectId: 7),
            ])
            let answer = await SignedDelivery(mixed).send(to: intake)
            #expect(answer.status == 200 && answer.outcome == .accepted)
            #expect(answer.body == #"{"accepted":1,"duplicates":0,"otherPortals":2}"#)
            #expect(try await rig.stored().map(\.objectId) == ["102"])
            let dropped = try metrics.expectCounter(
                PortalFilter.Name.foreign, [("portal", "62515"), ("intake", "webhook")])
            #expect(dropped.totalValue == 2)
        }
    }

    @Test func badSignaturesAreRefusedAndNothingReachesTheFeed() async throws {
        try await FeedRig.with { rig in
            let intake = rig.intake()
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let wrongSecret = await SignedDelivery(Self.three, secret: "not-the-secret").send(to: intake)
            var oneByteChanged = SignedDelivery(Self.three)
            oneByteChanged.body[oneByteChanged.body.count - 3] ^= 1
            let changed = await oneByteChanged.send(to: intake)
            let sixMinutesOld = await SignedDelivery(Self.three, timestamp: now - 6 * 60_000).send(to: intake)
            let otherURI = await SignedDelivery(Self.three, uri: "https://elsewhere.example.com/webhooks/hubspot")
                .send(to: intake)
            let unsigned = await intake.handle(method: "POST", query: "", header: { _ in nil }, body: Array("[]".utf8))
            for answer in [wrongSecret, changed, sixMinutesOld, otherURI, unsigned] {
                #expect(answer.status == 401 && answer.outcome == .badSignature, "\(answer)")
            }
            #expect(sixMinutesOld.body.contains("old"))
            let stored = try await rig.stored()
            #expect(stored.isEmpty)
        }
    }

    @Test func anExactReplayOfAnAcceptedRequestIsRefused() async throws {
        try await FeedRig.with { rig in
            let intake = rig.intake()
            let delivery = SignedDelivery(Self.three)
            #expect(await delivery.send(to: intake).status == 200)
            let replay = await delivery.send(to: intake)
            #expect(replay.status == 401 && replay.outcome == .replayed)
            let stored = try await rig.stored()
            #expect(stored.count == 3)
        }
    }

    @Test func whileASecretIsRotatedBothAreAccepted() async throws {
        try await FeedRig.with { rig in
            let intake = rig.intake { $0.clientSecrets = ["old-secret", "new-secret"] }
            let old = await SignedDelivery(
                SignedDelivery.batch([SignedDelivery.event(1, "contact.creation", objectId: 1)]),
                secret: "old-secret"
            ).send(to: intake)
            let new = await SignedDelivery(
                SignedDelivery.batch([SignedDelivery.event(2, "contact.creation", objectId: 2)]),
                secret: "new-secret"
            ).send(to: intake)
            #expect(old.status == 200 && new.status == 200)
            let stored = try await rig.stored()
            #expect(stored.map(\.objectId) == ["1", "2"])
        }
    }

    @Test func v1AndV2SignaturesAreAcceptedOnlyWhenConfigured() async throws {
        try await FeedRig.with { rig in
            let body = Array(SignedDelivery.batch([SignedDelivery.event(1, "company.creation", objectId: 5)]).utf8)
            let v1 = HubSpotWebhookSignature.v1(clientSecret: FeedRig.secret, body: body)
            let v2 = HubSpotWebhookSignature.v2(
                clientSecret: FeedRig.secret, method: "POST", uri: FeedRig.publicURL, body: body)
            func send(_ intake: WebhookIntake, _ version: String, _ signature: String) async -> WebhookIntake.Answer {
                let headers = ["x-hubspot-signature": signature, "x-hubspot-signature-version": version]
                return await intake.handle(method: "POST", query: "", header: { headers[$0.lowercased()] }, body: body)
            }
            let v3Only = rig.intake()
            #expect(await send(v3Only, "v1", v1).status == 401)
            #expect(await send(v3Only, "v2", v2).status == 401)
            let legacy = rig.intake { $0.signatureVersions = [.v1, .v2, .v3] }
            #expect(await send(legacy, "v2", v2.uppercased()).status == 200)
            #expect(await send(legacy, "v1", v1).outcome == .duplicate)
            #expect(await send(legacy, "v1", String(v1.dropLast()) + "0").status == 401)
            let stored = try await rig.stored()
            #expect(stored.map(\.objectType) == ["companies"])
        }
    }

    @Test func malformedBodiesGetAClear400() async throws {
        try await FeedRig.with { rig in
            let intake = rig.intake()
            let notJSON = await SignedDelivery("{not json").send(to: intake)
            let object = await SignedDelivery(#"{"eventId": 1}"#).send(to: intake)
            let tooMany = await SignedDelivery(
                SignedDelivery.batch((1...101).map { SignedDelivery.event($0, "contact.creation", objectId: $0) })
            ).send(to: intake)
            let missing = await SignedDelivery(#"[{"eventId": 1, "subscriptionType": "contact.creation"}]"#)
                .send(to: intake)
            for answer in [notJSON, object, tooMany, missing] {
                #expect(answer.status == 400 && answer.outcome == .malformed, "\(answer)")
            }
            #expect(object.body.contains("array"))
            #expect(tooMany.body.contains("101"))
            #expect(missing.body.contains("events[0].objectId"))
            let large = await intake.handle(
                method: "POST", query: "", header: { _ in nil }, body: Array(repeating: 0x20, count: (1 << 20) + 1))
            #expect(large.status == 413)
            let stored = try await rig.stored()
            #expect(stored.isEmpty)
        }
    }

    @Test func anUnknownEventTypeIsKeptAsUnknownAndObjectsByTheNameTheCacheUses() async throws {
        try await FeedRig.with { rig in
            let answer = await SignedDelivery(
                SignedDelivery.batch([
                    SignedDelivery.event(1, "contact.somethingNew", objectId: 3),
                    SignedDelivery.event(2, "object.propertyChange", objectId: 9, extra: #""objectTypeId":"2-123""#),
                    // Generic events about standard objects name them by id: invalidating "0-1"
                    // would leave the cached contact stale.
                    SignedDelivery.event(3, "object.propertyChange", objectId: 10, extra: #""objectTypeId":"0-1""#),
                ])
            ).send(to: rig.intake())
            #expect(answer.status == 200)
            let events = try await rig.stored()
            #expect(events.map(\.kind) == [.unknown, .updated, .updated])
            #expect(events[0].subscriptionType == "contact.somethingNew")
            #expect(events[1].objectType == "2-123")
            #expect(events[2].objectType == "contacts")
        }
    }

    @Test func withRedisDownDeliveriesGet503SoHubSpotRetries() async throws {
        try await FeedRig.with { rig in
            rig.redis.kill()
            let answer = await SignedDelivery(Self.three).send(to: rig.intake())
            #expect(answer.status == 503 && answer.outcome == .unavailable)
        }
    }
}
