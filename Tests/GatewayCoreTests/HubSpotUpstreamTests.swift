import Foundation
@testable import GatewayCore
import HubSpotAPI
import HubSpotSimulator
import RedisClient
import Testing
import TestSupport

/// The whole door against a real redis-server and an in-process hubspot-sim.
@Suite struct HubSpotUpstreamTests {
    func withUpstream(contacts: Int, configureBreaker: (inout CircuitBreaker.Configuration) -> Void = { _ in },
                      _ body: (HubSpotUpstream, _ ids: [String], _ admin: @escaping @Sendable (String) async throws -> Void) async throws -> Void) async throws {
        let redis = try RedisServerProcess()
        var redisConfiguration = try RedisConfiguration(url: redis.url)
        redisConfiguration.commandTimeout = .milliseconds(500)
        let redisClient = RedisClient(configuration: redisConfiguration, logger: quietLogger())
        try await redisClient.waitUntilConnected()
        defer { Task { await redisClient.shutdown() } }
        var simulator = SimulatorConfiguration()
        simulator.seedContacts = contacts
        simulator.dailyLimit = 0
        try await HubSpotSimulator.withRunning(simulator, logger: quietLogger()) { _, baseURL in
            var limits = RateLimiterConfiguration()
            limits.keyPrefix = "test:\(UUID().uuidString)"
            limits.redisTimeout = .milliseconds(500)
            let limiter = FixedWindowRateLimiter(redis: redisClient, configuration: limits, logger: quietLogger())
            var breakerConfiguration = CircuitBreaker.Configuration()
            configureBreaker(&breakerConfiguration)
            let transport = CurlTransport()
            defer { transport.shutdown() }
            var clientConfiguration = HubSpotClientConfiguration(baseURL: baseURL)
            clientConfiguration.retryPolicy.maxAttempts = 1
            let client = HubSpotClient(transport: transport, credentials: .privateAppToken(Secret(simulator.token)), configuration: clientConfiguration,
                                       observer: HubSpotUpstream.observer(for: limiter))
            var cacheConfiguration = ObjectCache.Configuration()
            cacheConfiguration.keyPrefix = limits.keyPrefix
            cacheConfiguration.redisTimeout = .milliseconds(500)
            let upstream = HubSpotUpstream(client: client, limiter: limiter, breaker: CircuitBreaker(configuration: breakerConfiguration, logger: quietLogger()),
                                           cache: ObjectCache(redis: redisClient, configuration: cacheConfiguration, logger: quietLogger()), logger: quietLogger())
            let page = try await client.listObjects("contacts", limit: 100)
            let admin: @Sendable (String) async throws -> Void = { faults in
                let response = try await transport.send(HTTPRequest(method: .put, url: baseURL + "/_sim/faults", headers: [("Content-Type", "application/json")], body: Array(faults.utf8)), timeout: .seconds(5))
                #expect(response.status == 200)
            }
            try await body(upstream, page.results.map(\.id), admin)
        }
    }

    @Test func readsComeFromHubSpotOnceThenFromTheCache() async throws {
        try await withUpstream(contacts: 3) { upstream, ids, _ in
            let first = try await upstream.readObject(type: "contacts", id: ids[0], properties: ["email"], deadline: .now + .seconds(5))
            #expect(first.source == .upstream && first.object?.id == ids[0])
            let second = try await upstream.readObject(type: "contacts", id: ids[0], properties: ["email"], deadline: .now + .seconds(5))
            #expect(second.source == .cache)
        }
    }

    @Test func anOutageOpensTheBreakerFailsFastAndServesStaleReads() async throws {
        try await withUpstream(contacts: 3, configureBreaker: { $0.minimumFailures = 3; $0.openInterval = .seconds(2); $0.halfOpenProbes = 1 }) { upstream, ids, admin in
            // Cache one object, then let it go stale (maxStaleness zero forces HubSpot).
            _ = try await upstream.readObject(type: "contacts", id: ids[0], properties: [], deadline: .now + .seconds(5))
            try await admin(#"{"outage": true}"#)
            for _ in 0..<3 {
                await #expect(throws: HubSpotError.self) {
                    _ = try await upstream.call(deadline: .now + .seconds(5)) { client, options in try await client.getObject("contacts", id: ids[1], options: options) }
                }
            }
            #expect(upstream.breaker.currentState == .open)
            await #expect(throws: CircuitOpen.self) {
                _ = try await upstream.call(deadline: .now + .seconds(5)) { client, options in try await client.getObject("contacts", id: ids[1], options: options) }
            }
            let stale = try await upstream.readObject(type: "contacts", id: ids[0], properties: [], maxStaleness: .zero, deadline: .now + .seconds(5))
            #expect(stale.source == .stale && stale.object?.id == ids[0])
            // HubSpot recovers: after the open interval a probe closes the breaker.
            try await admin(#"{"outage": false}"#)
            try await Task.sleep(for: .milliseconds(2200))
            let fresh = try await upstream.readObject(type: "contacts", id: ids[0], properties: [], maxStaleness: .zero, deadline: .now + .seconds(5))
            #expect(fresh.source == .upstream)
            #expect(upstream.breaker.currentState == .closed)
        }
    }

    @Test func aWriteThroughTheDoorInvalidatesTheCachedObject() async throws {
        try await withUpstream(contacts: 2) { upstream, ids, _ in
            _ = try await upstream.readObject(type: "contacts", id: ids[0], properties: ["firstname"], deadline: .now + .seconds(5))
            let id = ids[0]
            _ = try await upstream.call(deadline: .now + .seconds(5), invalidating: [("contacts", id)]) { client, options in
                try await client.updateObject("contacts", id: id, properties: ["firstname": "Renamed"], options: options)
            }
            try await Task.sleep(for: .milliseconds(100))  // invalidation runs right after the call
            let read = try await upstream.readObject(type: "contacts", id: ids[0], properties: ["firstname"], deadline: .now + .seconds(5))
            #expect(read.source == .upstream)
            #expect(read.object?.properties["firstname"] == "Renamed")
        }
    }
}
