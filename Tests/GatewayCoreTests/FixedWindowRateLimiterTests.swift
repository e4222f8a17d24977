import Foundation
@testable import GatewayCore
import Logging
import RedisClient
import Synchronization
import Testing
import TestSupport

/// Three replicas' limiters sharing one real redis-server.
struct Fleet {
    let redis: RedisServerProcess
    let clients: [RedisClient]
    let limiters: [FixedWindowRateLimiter]

    static func start(
        replicas: Int = 3, persistent: Bool = false, configure: (inout RateLimiterConfiguration) -> Void = { _ in }
    ) async throws -> Fleet {
        let redis = try await RedisServerProcess.start(persistent: persistent)
        var configuration = RateLimiterConfiguration()
        configuration.keyPrefix = "test:\(UUID().uuidString)"
        configuration.redisTimeout = .seconds(2)  // shared CI machines run many tests at once on 2 cores
        configure(&configuration)
        var clients: [RedisClient] = []
        var limiters: [FixedWindowRateLimiter] = []
        for index in 0..<replicas {
            var redisConfiguration = try RedisConfiguration(url: redis.url)
            redisConfiguration.commandTimeout = .seconds(2)
            let client = RedisClient(configuration: redisConfiguration, logger: quietLogger())
            try await client.waitUntilConnected()
            clients.append(client)
            limiters.append(
                FixedWindowRateLimiter(
                    redis: client, configuration: configuration, replicaID: "replica-\(index)", logger: quietLogger()))
        }
        // A fleet that has been running on this Redis: the first call would otherwise find it
        // new and hold the current window (see `redisRestartedEmpty…`), which measurements of
        // whole windows do not want.
        try await clients[0].send("SET", [.init(configuration.keyPrefix + ":incarnation"), "0"])
        return Fleet(redis: redis, clients: clients, limiters: limiters)
    }

    /// Closes the clients, keeping the server alive until then (see `CacheRig.finish`).
    func shutdown() async {
        for client in clients { await client.shutdown() }
        withExtendedLifetime(redis) {}
    }

    /// Every limiter is asked by `callersPerReplica` callers in a loop for `duration`; returns the
    /// grants per Redis window.
    func hammer(
        _ kind: UpstreamCallKind, priority: CallPriority = .interactive, callersPerReplica: Int = 10,
        for duration: Duration
    ) async -> [Int: Int] {
        await hammer(kind, priority: priority, callersPerReplica: callersPerReplica, for: duration, into: GrantCounts())
            .snapshot
    }

    /// As `hammer`, counting into `counts` (which also keeps when in each window grants came).
    @discardableResult
    func hammer(
        _ kind: UpstreamCallKind, priority: CallPriority = .interactive, callersPerReplica: Int = 10,
        for duration: Duration, into counts: GrantCounts
    ) async -> GrantCounts {
        let end = ContinuousClock.now + duration
        await withTaskGroup(of: Void.self) { group in
            for limiter in limiters {
                for _ in 0..<callersPerReplica {
                    group.addTask {
                        while ContinuousClock.now < end {
                            guard let grant = try? await limiter.acquire(kind, priority: priority, deadline: end) else {
                                return
                            }
                            let now = Date()
                            let window = grant.window ?? Int(now.timeIntervalSince1970)
                            counts.add(window, atMillisecond: Int(now.timeIntervalSince1970 * 1000) % 1000)
                        }
                    }
                }
            }
        }
        return counts
    }
}

/// Grants counted per window by many tasks.
final class GrantCounts: Sendable {
    private let counts = Mutex<[Int: Int]>([:])
    /// Per window, how far into it (ms, by this machine's clock) each grant came.
    private let moments = Mutex<[Int: [Int]]>([:])
    func add(_ window: Int, atMillisecond offset: Int = 0) {
        counts.withLock { $0[window, default: 0] += 1 }
        moments.withLock { $0[window, default: []].append(offset) }
    }
    var snapshot: [Int: Int] { counts.withLock { $0 } }
    var offsets: [Int: [Int]] { moments.withLock { $0 } }
}

/// The windows entirely inside the run (the first and last are partial).
func fullWindows(_ counts: [Int: Int]) -> [Int] {
    let windows = counts.keys.sorted()
    guard windows.count > 2 else { return [] }
    return windows.dropFirst().dropLast().map { counts[$0]! }
}

@Suite(.serialized) struct FixedWindowRateLimiterTests {
    @Test func threeReplicasNeverExceedTheBudgetAndUseAlmostAllOfIt() async throws {
        let fleet = try await Fleet.start()
        let counts = await fleet.hammer(.general, for: .seconds(4))
        await fleet.shutdown()
        #expect(counts.values.allSatisfy { $0 <= 8 }, "per-window grants: \(counts.sorted { $0.key < $1.key })")
        let full = fullWindows(counts)
        #expect(full.count >= 2)
        let used = Double(full.reduce(0, +)) / Double(full.count * 8)
        #expect(used >= 0.95, "utilization \(used) of the budget under excess demand")
    }

    @Test func searchHasItsOwnSmallerBucket() async throws {
        let fleet = try await Fleet.start()
        let counts = await fleet.hammer(.search, for: .seconds(3))
        await fleet.shutdown()
        #expect(counts.values.allSatisfy { $0 <= 4 })
        #expect(fullWindows(counts).allSatisfy { $0 >= 3 })
    }

    @Test func bulkWorkLeavesTheInteractiveReserveUntilItIsReleased() async throws {
        let fleet = try await Fleet.start()
        let grants = await fleet.hammer(.general, priority: .bulk, for: .seconds(4), into: GrantCounts())
        await fleet.shutdown()
        let counts = grants.snapshot
        #expect(counts.values.allSatisfy { $0 <= 8 })
        // Alone on the fleet, bulk work gets the whole budget …
        #expect(fullWindows(counts).allSatisfy { $0 == 8 }, "\(counts.sorted { $0.key < $1.key })")
        // … but no more than 8 − 2 before the reserve is released 800 ms into the window
        // (20 ms allowed between Redis's clock and this test's reading of its own).
        for (window, offsets) in grants.offsets {
            #expect(offsets.count { $0 < 780 } <= 6, "window \(window): \(offsets.sorted())")
        }
    }

    @Test func aReserveNeverReleasedIsNeverTakenByBulkWork() async throws {
        let fleet = try await Fleet.start { $0.reserveHeldFor = .seconds(1) }
        let counts = await fleet.hammer(.general, priority: .bulk, for: .seconds(3))
        await fleet.shutdown()
        #expect(counts.values.allSatisfy { $0 <= 6 }, "bulk may use 8 − 2 per second")
    }

    @Test func aCallerWhoseDeadlineComesFirstIsToldHowLongToWait() async throws {
        let fleet = try await Fleet.start(replicas: 1) { $0.generalPerSecond = 1 }
        let limiter = fleet.limiters[0]
        try await limiter.acquire(.general, deadline: .now + .seconds(5))
        do {
            try await limiter.acquire(.general, deadline: .now + .milliseconds(1))
            Issue.record("a second call in a 1/s window passed with a 1 ms deadline")
        } catch let error as RateLimitExceeded {
            #expect(error.retryAfter > .zero && error.retryAfter <= .seconds(1))
        }
        // Waiting is what happens when the deadline allows it.
        try await limiter.acquire(.general, deadline: .now + .seconds(3))
        await fleet.shutdown()
    }

    @Test func aCallThatWaitedIsGrantedOnlyWithItsReserveLeftForHubSpot() async throws {
        let fleet = try await Fleet.start(replicas: 1) {
            $0.generalPerSecond = 1; $0.callReserve = .seconds(5)
        }
        let limiter = fleet.limiters[0]
        try await limiter.acquire(.general, deadline: .now + .seconds(1))
        // The next slot is at most a second away, but its grant would leave under 5 s.
        do {
            try await limiter.acquire(.general, deadline: .now + .seconds(4))
            Issue.record("granted a slot with less than the call's reserve left")
        } catch let error as RateLimitExceeded {
            #expect(error.retryAfter > .zero && error.cause == .budget)
        }
        // With room for the wait and the reserve, it waits and is granted.
        try await limiter.acquire(.general, deadline: .now + .seconds(7))
        await fleet.shutdown()
    }

    @Test func aRefusedAttemptDoesNotConsumeBudget() async throws {
        let fleet = try await Fleet.start(replicas: 1) {
            $0.generalPerSecond = 2; $0.dailyLimit = 10
        }
        let limiter = fleet.limiters[0]
        for _ in 0..<20 { _ = try? await limiter.acquire(.general, deadline: .now) }
        // Only granted calls counted towards the day: 2 per window, not 20.
        let day = Int(Date().timeIntervalSince1970) / 86_400 * 86_400
        let counted = try await fleet.clients[0].get(.init(limiter.configuration.keyPrefix + ":daily:\(day * 1000)"))
        let value = counted.map { Int(String(decoding: $0, as: UTF8.self)) ?? -1 } ?? 0
        #expect((1...4).contains(value), "daily count \(value)")
        await fleet.shutdown()
    }

    @Test func hubSpotSayingTheBudgetIsSpentPausesTheWholeFleet() async throws {
        let fleet = try await Fleet.start(replicas: 2)
        await fleet.limiters[0].observe(kind: .general, status: 429, remaining: 0, interval: .milliseconds(1500))
        // The other replica waits out the pause too.
        do {
            try await fleet.limiters[1].acquire(.general, deadline: .now + .milliseconds(500))
            Issue.record("a paused bucket granted a call")
        } catch let error as RateLimitExceeded {
            #expect(error.retryAfter > .milliseconds(500))
        }
        await fleet.shutdown()
    }

    @Test func withoutRedisEachReplicaKeepsToItsShareAndReturnsByItself() async throws {
        let fleet = try await Fleet.start {
            $0.redisRetryInterval = .milliseconds(200)
            $0.replicaHeartbeatInterval = .milliseconds(100)
            $0.replicaTimeToLive = .seconds(1)
            $0.assumedReplicaCount = 5
        }
        // Learn the replica count while Redis is up (5 assumed until every replica announced itself).
        let heartbeats = fleet.limiters.map { limiter in Task { await limiter.runHeartbeats() } }
        defer { heartbeats.forEach { $0.cancel() } }
        try await eventually("every replica knows the fleet's size") {
            fleet.limiters.allSatisfy { $0.knownReplicaCount == 3 }
        }
        fleet.redis.kill()
        // How soon a replica notices depends on how soon its connection reports the loss (a
        // loaded machine can take a second): wait for that while the load runs.
        async let hammered = fleet.hammer(.general, for: .seconds(4))
        try await eventually("every replica falls back to its local share") {
            fleet.limiters.allSatisfy { $0.mode == .local(replicas: 3) }
        }
        let counts = await hammered
        #expect(
            counts.values.allSatisfy { $0 <= 8 },
            "fleet-wide grants per second without Redis: \(counts.sorted { $0.key < $1.key })")
        #expect(fullWindows(counts).allSatisfy { $0 >= 3 }, "the fallback still serves its share (2 per replica)")
        try await fleet.redis.restart()
        for client in fleet.clients {
            try await eventually("a replica's Redis client reconnects") { (try? await client.send("PING")) != nil }
        }
        _ = await fleet.hammer(.general, callersPerReplica: 1, for: .seconds(1))
        #expect(fleet.limiters.allSatisfy { $0.mode == .redis })
        await fleet.shutdown()
    }

    /// Spends a whole window, kills Redis and starts it again (empty or with its data) within
    /// that window, then asks every replica for more: no window may have granted more than the
    /// budget. Tried until the restart fits in one window (it takes tens of milliseconds).
    private func restartWithinAWindowKeepsTheBudget(persistent: Bool) async throws {
        let fleet = try await Fleet.start(persistent: persistent)
        let counts = GrantCounts()
        var exercised = false
        for _ in 0..<5 where !exercised {
            // Start at the beginning of a window nothing was granted in yet, spend it, restart Redis.
            let window = FixedWindowRateLimiter.wallMilliseconds() / 1000 + 1
            while FixedWindowRateLimiter.wallMilliseconds() < window * 1000 {
                try await Task.sleep(for: .milliseconds(2))
            }
            for _ in 0..<8 {
                let grant = try await fleet.limiters[0].acquire(.general, deadline: .now + .seconds(3))
                counts.add(grant.window ?? -1)
            }
            fleet.redis.kill()
            try await fleet.redis.startAgain()
            for client in fleet.clients {
                try await eventually("a replica's Redis client reconnects") { (try? await client.send("PING")) != nil }
            }
            exercised = FixedWindowRateLimiter.wallMilliseconds() / 1000 == window
            // Every replica asks again, as callers do: on this window, if it still had room.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for limiter in fleet.limiters {
                    group.addTask {
                        for _ in 0..<4 {
                            counts.add(try await limiter.acquire(.general, deadline: .now + .seconds(3)).window ?? -1)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        await fleet.shutdown()
        #expect(exercised, "Redis never restarted within one window")
        #expect(
            counts.snapshot.values.allSatisfy { $0 <= 8 },
            "grants per window across a Redis restart: \(counts.snapshot.sorted { $0.key < $1.key })")
    }

    @Test func redisRestartedEmptyWithinAWindowDoesNotRestartItsCount() async throws {
        try await restartWithinAWindowKeepsTheBudget(persistent: false)
    }

    @Test func redisRestartedWithItsDataWithinAWindowKeepsItsCount() async throws {
        try await restartWithinAWindowKeepsTheBudget(persistent: true)
    }
}
