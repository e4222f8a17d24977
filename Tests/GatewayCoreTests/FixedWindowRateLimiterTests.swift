import Foundation
@testable import GatewayCore
import HubSpotAPI
import Logging
import RedisClient
import Synchronization
import Testing
import TestSupport
import Time

/// Three replicas' limiters sharing one real redis-server, on a clock the test moves (`clock`;
/// nil: the system's), which Redis's scripts use too: windows fill the same way on any machine.
struct Fleet {
    let redis: RedisServerProcess
    let clients: [RedisClient]
    let limiters: [FixedWindowRateLimiter]
    let clock: ManualClock?

    var time: TimeSource { clock.map { .manual($0) } ?? .system }
    var now: ContinuousClock.Instant { time.now }

    static func start(
        replicas: Int = 3, persistent: Bool = false, clock: ManualClock? = ManualClock(),
        configure: (inout RateLimiterConfiguration) -> Void = { _ in }
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
                    redis: client, configuration: configuration, replicaID: "replica-\(index)",
                    time: clock.map { .manual($0) } ?? .system, logger: quietLogger()))
        }
        // A fleet that has been running on this Redis: the first call would otherwise find it
        // new and hold the current window (see `redisRestartedEmpty…`), which measurements of
        // whole windows do not want.
        try await clients[0].send("SET", [.init(configuration.keyPrefix + ":incarnation"), "0"])
        return Fleet(redis: redis, clients: clients, limiters: limiters, clock: clock)
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

    /// One call of `limiter` that may wait, the fleet's manual clock moved for it; nil when refused.
    func acquireMovingTheClock(_ limiter: FixedWindowRateLimiter, deadline: ContinuousClock.Instant) async
        -> RateLimitGrant?
    {
        let granted = Mutex<RateLimitGrant?>(nil)
        await runMovingClock(
            clock!,
            [
                {
                    let grant = try? await limiter.acquire(.general, deadline: deadline)
                    granted.withLock { $0 = grant }
                }
            ])
        return granted.withLock { $0 }
    }

    /// As `hammer`, counting into `counts` (which also keeps when in each window grants came).
    /// On a manual clock, time moves only when every caller (and `alsoSleeping` other tasks)
    /// waits on it.
    @discardableResult
    func hammer(
        _ kind: UpstreamCallKind, priority: CallPriority = .interactive, callersPerReplica: Int = 10,
        for duration: Duration, into counts: GrantCounts, alsoSleeping: Int = 0
    ) async -> GrantCounts {
        let time = self.time
        let end = time.now + duration
        var callers: [@Sendable () async -> Void] = []
        for limiter in limiters {
            for _ in 0..<callersPerReplica {
                callers.append {
                    while time.now < end {
                        guard let grant = try? await limiter.acquire(kind, priority: priority, deadline: end) else {
                            return
                        }
                        let now = time.wallMilliseconds
                        counts.add(grant.window ?? Int(now / 1000), atMillisecond: Int(now % 1000))
                    }
                }
            }
        }
        if let clock {
            await runMovingClock(clock, alsoSleeping: alsoSleeping, callers)
        } else {
            await withTaskGroup(of: Void.self) { group in
                for caller in callers { group.addTask(operation: caller) }
            }
        }
        return counts
    }
}

/// Grants counted per window by many tasks.
final class GrantCounts: Sendable {
    private let counts = Mutex<[Int: Int]>([:])
    /// Per window, how far into it (ms, by the fleet's clock) each grant came.
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
    @Test func threeReplicasNeverExceedTheBudgetAndUseAllOfItUnderExcessDemand() async throws {
        let fleet = try await Fleet.start()
        let counts = await fleet.hammer(.general, for: .seconds(4))
        await fleet.shutdown()
        #expect(counts.values.allSatisfy { $0 <= 8 }, "per-window grants: \(counts.sorted { $0.key < $1.key })")
        let full = fullWindows(counts)
        #expect(full.count >= 2)
        // Time moves only when every caller waits: no slot is lost to a late caller.
        #expect(full.allSatisfy { $0 == 8 }, "per-window grants: \(counts.sorted { $0.key < $1.key })")
    }

    @Test func searchHasItsOwnSmallerBucket() async throws {
        let fleet = try await Fleet.start()
        let counts = await fleet.hammer(.search, for: .seconds(3))
        await fleet.shutdown()
        #expect(counts.values.allSatisfy { $0 <= 4 })
        #expect(fullWindows(counts).allSatisfy { $0 >= 3 }, "\(counts.sorted { $0.key < $1.key })")
    }

    @Test func bulkWorkLeavesTheInteractiveReserveUntilItIsReleased() async throws {
        let fleet = try await Fleet.start()
        let grants = await fleet.hammer(.general, priority: .bulk, for: .seconds(4), into: GrantCounts())
        await fleet.shutdown()
        let counts = grants.snapshot
        #expect(counts.values.allSatisfy { $0 <= 8 })
        // Alone on the fleet, bulk work gets the whole budget …
        #expect(fullWindows(counts).allSatisfy { $0 == 8 }, "\(counts.sorted { $0.key < $1.key })")
        // … but no more than 8 − 2 before the reserve is released 800 ms into the window.
        for (window, offsets) in grants.offsets {
            #expect(offsets.count { $0 < 800 } <= 6, "window \(window): \(offsets.sorted())")
        }
    }

    @Test func aReserveNeverReleasedIsNeverTakenByBulkWork() async throws {
        let fleet = try await Fleet.start { $0.reserveHeldFor = .seconds(1) }
        let counts = await fleet.hammer(.general, priority: .bulk, for: .seconds(3))
        await fleet.shutdown()
        #expect(counts.values.allSatisfy { $0 <= 6 }, "bulk may use 8 − 2 per second")
        #expect(fullWindows(counts).allSatisfy { $0 == 6 }, "and does under excess demand")
    }

    @Test func aCallerWhoseDeadlineComesFirstIsToldHowLongToWait() async throws {
        let fleet = try await Fleet.start(replicas: 1) { $0.generalPerSecond = 1 }
        let limiter = fleet.limiters[0]
        try await limiter.acquire(.general, deadline: fleet.now + .seconds(5))
        do {
            try await limiter.acquire(.general, deadline: fleet.now + .milliseconds(1))
            Issue.record("a second call in a 1/s window passed with a 1 ms deadline")
        } catch let error as RateLimitExceeded {
            #expect(error.retryAfter > .zero && error.retryAfter <= .seconds(1))
        }
        // Waiting is what happens when the deadline allows it.
        let start = fleet.now
        #expect(await fleet.acquireMovingTheClock(limiter, deadline: fleet.now + .seconds(3)) != nil)
        #expect(fleet.now - start <= .seconds(1) + limiter.configuration.waitJitter, "waited for the next window only")
        await fleet.shutdown()
    }

    @Test func aCallThatWaitedIsGrantedOnlyWithItsReserveLeftForHubSpot() async throws {
        let fleet = try await Fleet.start(replicas: 1) {
            $0.generalPerSecond = 1; $0.callReserve = .seconds(5)
        }
        let limiter = fleet.limiters[0]
        try await limiter.acquire(.general, deadline: fleet.now + .seconds(1))
        // The next slot is at most a second away, but its grant would leave under 5 s.
        do {
            try await limiter.acquire(.general, deadline: fleet.now + .seconds(4))
            Issue.record("granted a slot with less than the call's reserve left")
        } catch let error as RateLimitExceeded {
            #expect(error.retryAfter > .zero && error.cause == .budget)
        }
        // With room for the wait and the reserve, it waits and is granted.
        #expect(await fleet.acquireMovingTheClock(limiter, deadline: fleet.now + .seconds(7)) != nil)
        await fleet.shutdown()
    }

    @Test func aRefusedAttemptDoesNotConsumeBudget() async throws {
        let fleet = try await Fleet.start(replicas: 1) {
            $0.generalPerSecond = 2; $0.dailyLimit = 10
        }
        let limiter = fleet.limiters[0]
        for _ in 0..<20 { _ = try? await limiter.acquire(.general, deadline: fleet.now) }
        // Only granted calls counted towards the day: 2 in the window, not 20.
        let day = fleet.time.wallMilliseconds / 86_400_000 * 86_400_000
        let counted = try await fleet.clients[0].get(.init(limiter.configuration.keyPrefix + ":daily:\(day)"))
        let value = counted.map { Int(String(decoding: $0, as: UTF8.self)) ?? -1 } ?? 0
        #expect(value == 2, "daily count \(value)")
        await fleet.shutdown()
    }

    @Test func hubSpotSayingTheBurstIsSpentHoldsTheWholeFleet() async throws {
        let fleet = try await Fleet.start(replicas: 2)
        await fleet.limiters[0].observe(
            .init(
                status: 429, policy: "TEN_SECONDLY_ROLLING",
                limits: .init(max: 100, remaining: 0, intervalMilliseconds: 10_000)),
            kind: .general)
        // The other replica waits out the pause too.
        do {
            try await fleet.limiters[1].acquire(.general, deadline: fleet.now + .milliseconds(500))
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
        let clock = fleet.clock!
        // Learn the replica count while Redis is up (5 assumed until every replica announced
        // itself): the heartbeats run on the fleet's clock, moved whenever all three sleep.
        let heartbeats = fleet.limiters.map { limiter in Task { await limiter.runHeartbeats() } }
        defer { heartbeats.forEach { $0.cancel() } }
        while !fleet.limiters.allSatisfy({ $0.knownReplicaCount == 3 }), clock.elapsed < .seconds(10) {
            await clock.waitForSleepers(3)
            clock.advanceToNextDeadline()
        }
        #expect(fleet.limiters.allSatisfy { $0.knownReplicaCount == 3 }, "every replica knows the fleet's size")
        fleet.redis.kill()
        let counts = await fleet.hammer(.general, for: .seconds(4), into: GrantCounts(), alsoSleeping: 3).snapshot
        #expect(fleet.limiters.allSatisfy { $0.mode == .local(replicas: 3) }, "every replica fell back to its share")
        #expect(
            counts.values.allSatisfy { $0 <= 8 },
            "fleet-wide grants per second without Redis: \(counts.sorted { $0.key < $1.key })")
        #expect(
            fullWindows(counts).allSatisfy { $0 == 6 }, "the fallback serves its share (2 per replica): \(counts)")
        try await fleet.redis.restart()
        for client in fleet.clients {
            try await eventually("a replica's Redis client reconnects") { (try? await client.send("PING")) != nil }
        }
        // Once the retry interval has passed, the next call asks Redis again.
        await clock.waitForSleepers(3)
        clock.advance(by: .milliseconds(200))
        _ = await fleet.hammer(.general, callersPerReplica: 1, for: .seconds(1), into: GrantCounts(), alsoSleeping: 3)
        #expect(fleet.limiters.allSatisfy { $0.mode == .redis }, "\(fleet.limiters.map(\.mode))")
        await fleet.shutdown()
    }

    /// Spends a whole window, kills Redis and starts it again (empty or with its data) within
    /// that window — the fleet's clock stands still meanwhile — then asks every replica for
    /// more: no window may have granted more than the budget.
    private func restartWithinAWindowKeepsTheBudget(persistent: Bool) async throws {
        let fleet = try await Fleet.start(persistent: persistent)
        let clock = fleet.clock!
        let counts = GrantCounts()
        let window = Int(fleet.time.wallMilliseconds / 1000)
        for _ in 0..<8 {
            let grant = try await fleet.limiters[0].acquire(.general, deadline: fleet.now + .seconds(3))
            counts.add(grant.window ?? -1)
        }
        #expect(counts.snapshot == [window: 8])
        fleet.redis.kill()
        try await fleet.redis.startAgain()
        for client in fleet.clients {
            try await eventually("a replica's Redis client reconnects") { (try? await client.send("PING")) != nil }
        }
        #expect(Int(fleet.time.wallMilliseconds / 1000) == window)
        // Every replica asks again, as callers do: on this window, if it still had room.
        let deadline = fleet.now + .seconds(3)
        await runMovingClock(
            clock,
            fleet.limiters.map { limiter in
                {
                    for _ in 0..<4 {
                        guard let grant = try? await limiter.acquire(.general, deadline: deadline) else { return }
                        counts.add(grant.window ?? -1)
                    }
                }
            })
        await fleet.shutdown()
        #expect(counts.snapshot.values.reduce(0, +) == 20, "every call was granted in time: \(counts.snapshot)")
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
