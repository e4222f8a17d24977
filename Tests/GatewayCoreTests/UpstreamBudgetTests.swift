import Foundation
@testable import GatewayCore
import HubSpotAPI
import RedisClient
import Testing
import TestSupport

/// Three replicas' doors on one redis-server in front of one hubspot-sim, checked by what the
/// simulator saw arrive in each wall-clock second. These run in real time (real sockets, a real
/// simulator), so they check what the mechanism promises whatever the machine's load: HubSpot
/// never answers 429, and since every call is counted in the limiter's window before it leaves,
/// k consecutive seconds at HubSpot hold at most k + 1 windows' budget (a call granted at a
/// window's end may arrive in the next second). How much of the budget is used is measured by
/// the benchmarks; here it must only be most of it.
@Suite(.serialized) struct UpstreamBudgetTests {
    /// Each door's own Redis connection, as separate replicas have.
    func doors(
        _ environment: DoorEnvironment, configureLimiter: @escaping (inout RateLimiterConfiguration) -> Void = { _ in }
    ) async throws -> ([Door], [RedisClient]) {
        var doors: [Door] = []
        var clients: [RedisClient] = []
        for index in 0..<3 {
            var configuration = try RedisConfiguration(url: environment.redis.url)
            configuration.commandTimeout = .seconds(2)
            let client = RedisClient(configuration: configuration, logger: quietLogger())
            try await client.waitUntilConnected()
            clients.append(client)
            doors.append(
                environment.door(redis: client, replicaID: "replica-\(index)", configureLimiter: configureLimiter))
        }
        // Open each door's connections to the simulator first (its admin API is neither limited
        // nor counted): otherwise the first calls wait for new connections and a busy machine can
        // deliver a second's budget granted at its end in the next second, where HubSpot counts it.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for door in doors {
                for _ in 0..<10 {
                    group.addTask {
                        _ = try await door.transport.send(
                            HTTPRequest(method: .get, url: environment.baseURL + "/_sim/limits"), timeout: .seconds(30))
                    }
                }
            }
            try await group.waitForAll()
        }
        try await environment.send(.post, "/_sim/stats/reset")
        return (doors, clients)
    }

    /// Ten callers per door call `body` in a loop for `duration` (excess demand).
    func hammer(
        _ doors: [Door], _ kind: UpstreamCallKind, for duration: Duration,
        _ body: @escaping @Sendable (HubSpotClient, CallOptions) async throws -> Void
    ) async {
        let end = ContinuousClock.now + duration
        await withTaskGroup(of: Void.self) { group in
            for door in doors {
                for _ in 0..<10 {
                    group.addTask {
                        while ContinuousClock.now < end {
                            do {
                                try await door.upstream.call(CallTerms(deadline: end), kind) { client, options in
                                    try await body(client, options)
                                }
                            } catch { return }
                        }
                    }
                }
            }
        }
    }

    /// The largest count in any k consecutive seconds, beside the k + 1 windows' budget that
    /// bounds it; the first pair that breaks the bound, if any.
    func spanBeyondBudget(_ counts: [Int: Int], perWindow limit: Int) -> (seconds: Int, calls: Int)? {
        guard let first = counts.keys.min(), let last = counts.keys.max() else { return nil }
        for start in first...last {
            var calls = 0
            for end in start...last {
                calls += counts[end] ?? 0
                if calls > limit * (end - start + 2) { return (end - start + 1, calls) }
            }
        }
        return nil
    }

    /// The seconds the run covered entirely (the first and last are partial).
    func fullSeconds(_ counts: [Int: Int]) -> [Int] {
        let seconds = counts.keys.sorted()
        guard seconds.count > 2 else { return [] }
        return seconds.dropFirst().dropLast().map { counts[$0]! }
    }

    @Test func hubSpotNeverAnswers429NorSeesMoreThanTheWindowsAllowAndMostOfTheBudgetIsUsed() async throws {
        try await DoorEnvironment.with(contacts: 3) { environment in
            let (doors, clients) = try await doors(environment)
            let id = environment.ids[0]
            await hammer(doors, .general, for: .seconds(5)) { client, options in
                _ = try await client.getObject("contacts", id: id, options: options)
            }
            let seen = try await environment.perSecond()
            #expect(seen.rateLimited == 0)
            #expect(
                spanBeyondBudget(seen.counts, perWindow: 8) == nil,
                "per second at HubSpot: \(seen.counts.sorted { $0.key < $1.key })")
            let full = fullSeconds(seen.counts)
            #expect(full.count >= 3)
            let used = Double(full.reduce(0, +)) / Double(max(1, full.count) * 8)
            #expect(used >= 0.75, "utilization \(used): \(seen.counts.sorted { $0.key < $1.key })")
            for door in doors { door.transport.shutdown() }
            for client in clients { await client.shutdown() }
        }
    }

    @Test func searchStaysWithinItsOwnLimit() async throws {
        try await DoorEnvironment.with(contacts: 3) { environment in
            let (doors, clients) = try await doors(environment)
            await hammer(doors, .search, for: .seconds(4)) { client, options in
                _ = try await client.search("contacts", SearchRequest(limit: 1), options: options)
            }
            let seen = try await environment.perSecond()
            #expect(seen.rateLimited == 0)
            #expect(
                spanBeyondBudget(seen.counts, perWindow: 4) == nil,
                "search calls per second at HubSpot: \(seen.counts.sorted { $0.key < $1.key })")
            let full = fullSeconds(seen.counts)
            #expect(
                !full.isEmpty && full.reduce(0, +) >= full.count * 3,
                "\(seen.counts.sorted { $0.key < $1.key })")
            for door in doors { door.transport.shutdown() }
            for client in clients { await client.shutdown() }
        }
    }

    @Test func withRedisKilledMidRunTheFleetStaysWithinTheBudgetAndReturnsToRedis() async throws {
        try await DoorEnvironment.with(contacts: 3) { environment in
            let (doors, clients) = try await doors(environment) {
                $0.redisRetryInterval = .milliseconds(200)
                $0.replicaHeartbeatInterval = .milliseconds(100)
                $0.replicaTimeToLive = .seconds(1)
            }
            let heartbeats = doors.map { door in Task { await door.upstream.limiter.runHeartbeats() } }
            defer { heartbeats.forEach { $0.cancel() } }
            try await eventually("every replica knows the fleet's size") {
                doors.allSatisfy { $0.upstream.limiter.knownReplicaCount == 3 }
            }
            let id = environment.ids[0]
            let call: @Sendable (HubSpotClient, CallOptions) async throws -> Void = { client, options in
                _ = try await client.getObject("contacts", id: id, options: options)
            }
            async let run: Void = hammer(doors, .general, for: .seconds(7), call)
            // Kill Redis once the fleet is spending the budget through it.
            try await eventually("HubSpot has answered a few seconds' worth of calls") {
                try await environment.perSecond().counts.values.reduce(0, +) >= 16
            }
            environment.redis.kill()
            try await eventually("every replica falls back to its local share") {
                doors.allSatisfy { $0.upstream.limiter.mode == .local(replicas: 3) }
            }
            // Keep Redis down for a few full windows of load.
            let downSince = try await environment.perSecond().counts.values.reduce(0, +)
            try await eventually("the fleet serves without Redis") {
                try await environment.perSecond().counts.values.reduce(0, +) >= downSince + 16
            }
            try await environment.redis.restart()
            await run
            let seen = try await environment.perSecond()
            #expect(seen.rateLimited == 0)
            #expect(
                spanBeyondBudget(seen.counts, perWindow: 8) == nil,
                "per second at HubSpot across the outage: \(seen.counts.sorted { $0.key < $1.key })")
            // Back on Redis once the clients reconnected.
            for client in clients {
                try await eventually("a replica's Redis client reconnects") { (try? await client.send("PING")) != nil }
            }
            await hammer(doors, .general, for: .seconds(2), call)
            #expect(doors.allSatisfy { $0.upstream.limiter.mode == .redis }, "\(doors.map(\.upstream.limiter.mode))")
            for door in doors { door.transport.shutdown() }
            for client in clients { await client.shutdown() }
        }
    }
}
