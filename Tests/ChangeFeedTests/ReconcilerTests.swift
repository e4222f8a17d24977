import ChangeFeed
import Foundation
import GatewayCore
import HubSpotAPI
import HubSpotSimulator
import Logging
import RedisClient
import Testing
import TestSupport

/// The reconciler against hubspot-sim (webhooks off) and a real redis-server, through the door.
@Suite struct ReconcilerTests {
    struct Rig {
        let feed: FeedRig
        let reconciler: Reconciler
        let lease: FeedLease
        let admin: CurlTransport
        let baseURL: String

        /// Changes a record as a person in HubSpot's UI would (no webhook: none configured).
        func ui(_ method: HTTPRequest.Method, _ path: String, _ body: String) async throws -> [String: Any] {
            let response = try await admin.send(
                HTTPRequest(
                    method: method, url: baseURL + "/_sim/ui/objects/" + path,
                    headers: [("Content-Type", "application/json")], body: Array(body.utf8)), timeout: .seconds(5))
            #expect((200..<300).contains(response.status), "\(String(decoding: response.body, as: UTF8.self))")
            return (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        }

        /// Creates `count` contacts in the simulator's UI; their ids, in creation order.
        func createContacts(_ count: Int, prefix: String) async throws -> [String] {
            var ids: [String] = []
            for n in 0..<count {
                let created = try await ui(
                    .post, "contacts", #"{"properties": {"email": "\#(prefix)\#(n)@example.com"}}"#)
                ids.append(created["id"] as? String ?? "")
            }
            return ids
        }
    }

    static func with(
        configure: (inout ReconcilerConfiguration) -> Void = { _ in }, _ body: (Rig) async throws -> Void
    ) async throws {
        try await FeedRig.with { feed in
            var simulator = SimulatorConfiguration()
            simulator.dailyLimit = 0
            try await HubSpotSimulator.withRunning(simulator, logger: quietLogger()) { _, baseURL in
                let transport = CurlTransport()
                let admin = CurlTransport()
                defer {
                    transport.shutdown()
                    admin.shutdown()
                }
                var limits = RateLimiterConfiguration()
                limits.keyPrefix = feed.feed.configuration.keyPrefix + ":limits"
                limits.redisTimeout = .seconds(2)
                let limiter = FixedWindowRateLimiter(redis: feed.client, configuration: limits, logger: quietLogger())
                var cacheConfiguration = ObjectCache.Configuration()
                cacheConfiguration.keyPrefix = feed.feed.configuration.keyPrefix + ":cache"
                cacheConfiguration.redisTimeout = .seconds(2)
                let upstream = HubSpotUpstream(
                    client: HubSpotClient(
                        transport: transport, credentials: .privateAppToken(Secret(simulator.token)),
                        configuration: HubSpotClientConfiguration(baseURL: baseURL)),
                    limiter: limiter, breaker: CircuitBreaker(logger: quietLogger()),
                    cache: ObjectCache(redis: feed.client, configuration: cacheConfiguration, logger: quietLogger()),
                    logger: quietLogger())
                var configuration = ReconcilerConfiguration()
                configuration.objectTypes = ["contacts"]
                configuration.keyPrefix = feed.feed.configuration.keyPrefix + ":reconciler"
                configure(&configuration)
                let lease = FeedLease(
                    name: "reconciler", redis: feed.client, keyPrefix: feed.feed.configuration.keyPrefix)
                let reconciler = Reconciler(
                    crm: CRM(upstream: upstream), feed: feed.feed, lease: lease, replica: "replica-1",
                    configuration: configuration, logger: quietLogger())
                try await body(
                    Rig(feed: feed, reconciler: reconciler, lease: lease, admin: admin, baseURL: baseURL))
            }
        }
    }

    @Test func changesNoWebhookReportedAreFoundOncePublishedAndNotRepublished() async throws {
        try await Self.with { rig in
            let ids = try await rig.createContacts(30, prefix: "r")
            let token = try #require(try await rig.lease.take(as: "replica-1"))
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 30)
            let first = try await rig.feed.stored()
            #expect(Set(first.map(\.objectId)) == Set(ids))
            #expect(first.allSatisfy { $0.source == .reconciler && $0.kind == .created && $0.objectType == "contacts" })
            // The lookback is read again: nothing twice.
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 0)
            for id in ids.prefix(5) {
                _ = try await rig.ui(.patch, "contacts/\(id)", #"{"properties": {"firstname": "Changed"}}"#)
            }
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 5)
            let updates = try await rig.feed.stored().filter { $0.kind == .updated }
            #expect(Set(updates.map(\.objectId)) == Set(ids.prefix(5)))
        }
    }

    @Test func aWindowNearTheSearchCapRestartsFromTheLastTimestampAndLosesNothing() async throws {
        try await Self.with(configure: {
            $0.pageSize = 7
            $0.searchWindow = 20
        }) { rig in
            let ids = Set(try await rig.createContacts(60, prefix: "w"))
            let token = try #require(try await rig.lease.take(as: "replica-1"))
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 60)
            let stored = try await rig.feed.stored()
            #expect(Set(stored.map(\.objectId)) == ids)
            #expect(stored.count == 60, "each record once")
        }
    }

    @Test func aReplicaThatLostTheLeaseCannotMoveTheWatermark() async throws {
        try await Self.with { rig in
            let old = try #require(try await rig.lease.take(as: "replica-1"))
            try await rig.lease.release(as: "replica-1", token: old)
            _ = try #require(try await rig.lease.take(as: "replica-2"))
            await #expect(throws: LeaseLost.self) {
                _ = try await rig.reconciler.reconcile("contacts", token: old)
            }
        }
    }
}
