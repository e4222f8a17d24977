import Foundation
@testable import GatewayCore
import HubSpotAPI
import MetricsTestKit
import RedisClient
import Synchronization
import Testing
import TestSupport
import Time

/// A cache on a real redis-server, and a pretend upstream whose answers and calls the test controls.
struct CacheRig {
    let redis: RedisServerProcess
    let client: RedisClient
    let cache: ObjectCache
    /// The time every cache of the rig reads: entries age only when the test moves it.
    let clock: ManualClock
    let upstream = Upstream()

    /// Another replica's cache on the same Redis, configuration and clock.
    func replica(metrics: GatewayMetrics = GatewayMetrics()) -> ObjectCache {
        ObjectCache(
            redis: client, configuration: cache.configuration, metrics: metrics, time: .manual(clock),
            logger: quietLogger())
    }

    static func start(persistent: Bool = false, configure: (inout ObjectCache.Configuration) -> Void = { _ in })
        async throws -> CacheRig
    {
        let redis = try await RedisServerProcess.start(persistent: persistent)
        var redisConfiguration = try RedisConfiguration(url: redis.url)
        redisConfiguration.commandTimeout = .seconds(2)
        let client = RedisClient(configuration: redisConfiguration, logger: quietLogger())
        try await client.waitUntilConnected()
        var configuration = ObjectCache.Configuration()
        configuration.keyPrefix = "test:\(UUID().uuidString)"
        configuration.redisTimeout = .seconds(2)
        configure(&configuration)
        let clock = ManualClock()
        return CacheRig(
            redis: redis, client: client,
            cache: ObjectCache(
                redis: client, configuration: configuration, time: .manual(clock), logger: quietLogger()),
            clock: clock)
    }

    /// Closes the client, keeping the server alive until then: nothing else reads `redis`,
    /// and the optimizer may end a field's lifetime at its last use.
    func finish() async {
        await client.shutdown()
        withExtendedLifetime(redis) {}
    }

    func read(_ id: String, maxStaleness: Duration? = nil) async throws -> ObjectCache.Read {
        try await cache.read(type: "contacts", id: id, properties: ["email"], maxStaleness: maxStaleness) {
            try await upstream.fetch(id)
        }
    }
}

/// What HubSpot would answer, with a call count and an optional failure.
final class Upstream: Sendable {
    private let state = Mutex<(email: String, calls: Int, failing: Bool)>(("a@example.com", 0, false))
    /// When set, the next fetch reads its answer, signals `started`, and waits for the gate.
    private let hold = Mutex<(gate: Gate, started: AsyncStream<Void>.Continuation)?>(nil)

    /// Holds the next fetch after it has read HubSpot's answer; returns a stream that yields
    /// once it is held, and the gate that releases it.
    func holdNextFetch() -> (started: AsyncStream<Void>, release: Gate) {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        let gate = Gate()
        hold.withLock { $0 = (gate, continuation) }
        return (stream, gate)
    }
    var calls: Int { state.withLock { $0.calls } }
    func set(email: String) { state.withLock { $0.email = email } }
    func fail(_ failing: Bool) { state.withLock { $0.failing = failing } }

    func fetch(_ id: String) async throws -> HubSpotObject? {
        let (email, failing) = state.withLock { state in
            state.calls += 1
            return (state.email, state.failing)
        }
        if let held = hold.withLock({ held in
            defer { held = nil }; return held
        }) {
            held.started.yield()
            await held.gate.wait()
        }
        if failing { throw CircuitOpen(retryAfter: .seconds(1)) }
        if id == "missing" { return nil }
        return HubSpotObject(
            id: id, properties: ["email": email], createdAt: Date(timeIntervalSince1970: 1_700_000_000.123),
            updatedAt: Date())
    }
}

@Suite struct ObjectCacheTests {
    @Test func aSecondReadIsServedFromTheSharedCache() async throws {
        let rig = try await CacheRig.start()
        let first = try await rig.read("1")
        #expect(first.source == .upstream)
        // A second cache on the same Redis (another replica) sees the entry.
        let other = rig.replica()
        let second = try await other.read(type: "contacts", id: "1", properties: ["email"]) {
            try await rig.upstream.fetch("1")
        }
        #expect(second.source == .cache)
        #expect(second.object?.properties["email"] == "a@example.com")
        let created = second.object?.createdAt?.timeIntervalSince1970 ?? 0
        #expect(abs(created - 1_700_000_000.123) < 0.001, "timestamps survive the cache (to the millisecond)")
        #expect(rig.upstream.calls == 1)
        await rig.finish()
    }

    @Test func zeroStalenessBypassesTheCache() async throws {
        let rig = try await CacheRig.start()
        _ = try await rig.read("1")
        let fresh = try await rig.read("1", maxStaleness: .zero)
        #expect(fresh.source == .upstream)
        #expect(rig.upstream.calls == 2)
        await rig.finish()
    }

    @Test func aWriteInvalidatesEveryVariant() async throws {
        let rig = try await CacheRig.start()
        _ = try await rig.read("1")
        _ = try await rig.cache.read(type: "contacts", id: "1", properties: ["email", "firstname"]) {
            try await rig.upstream.fetch("1")
        }
        rig.upstream.set(email: "b@example.com")
        await rig.cache.invalidate(type: "contacts", id: "1")
        #expect(try await rig.read("1").object?.properties["email"] == "b@example.com")
        let other = try await rig.cache.read(type: "contacts", id: "1", properties: ["firstname", "email"]) {
            try await rig.upstream.fetch("1")
        }
        #expect(other.source == .upstream)
        await rig.finish()
    }

    @Test func aFillThatRacedWithAWriteDoesNotPutTheOldValueBack() async throws {
        let rig = try await CacheRig.start()
        let (started, release) = rig.upstream.holdNextFetch()
        async let slowFill = rig.read("1")  // has read the old value from "HubSpot" and is held
        var iterator = started.makeAsyncIterator()
        await iterator.next()
        rig.upstream.set(email: "new@example.com")
        await rig.cache.invalidate(type: "contacts", id: "1")  // the write lands meanwhile
        release.open()
        #expect(try await slowFill.object?.properties["email"] == "a@example.com")
        let after = try await rig.read("1")
        #expect(after.source == .upstream, "the raced fill must not be served")
        #expect(after.object?.properties["email"] == "new@example.com")
        await rig.finish()
    }

    @Test func staleEntriesAreServedWhenHubSpotCannotBeAsked() async throws {
        let rig = try await CacheRig.start { $0.ttl = .milliseconds(200) }
        _ = try await rig.read("1")
        rig.clock.advance(by: .milliseconds(300))
        rig.upstream.fail(true)
        let stale = try await rig.read("1")
        #expect(stale.source == .stale)
        #expect(stale.age >= .milliseconds(200))
        #expect(stale.object?.properties["email"] == "a@example.com")
        // Without an entry, the failure reaches the caller.
        await #expect(throws: CircuitOpen.self) { _ = try await rig.read("2") }
        await rig.finish()
    }

    @Test func concurrentMissesCostOneFetch() async throws {
        let rig = try await CacheRig.start()
        let (_, release) = rig.upstream.holdNextFetch()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<50 { group.addTask { _ = try await rig.read("7") } }
            // The first fetch is held until all fifty reads wait for it.
            try await eventually("fifty reads wait for one fetch") {
                rig.cache.readersWaiting(for: "contacts\u{0}7\u{0}email") == 50
            }
            release.open()
            try await group.waitForAll()
        }
        #expect(rig.upstream.calls == 1)
        await rig.finish()
    }

    @Test func notFoundIsRememberedBriefly() async throws {
        let rig = try await CacheRig.start { $0.notFoundTTL = .seconds(2) }
        #expect(try await rig.read("missing").object == nil)
        let again = try await rig.read("missing")
        #expect(again.object == nil && again.source == .cache)
        rig.clock.advance(by: .milliseconds(2200))
        #expect(try await rig.read("missing").source == .upstream)
        #expect(rig.upstream.calls == 2)
        await rig.finish()
    }

    @Test func withoutRedisReadsGoThroughAndAreKeptLocally() async throws {
        let upstream = Upstream()
        let cache = ObjectCache(redis: nil, time: .manual(ManualClock()), logger: quietLogger())
        for _ in 0..<3 {
            _ = try await cache.read(type: "contacts", id: "1", properties: []) { try await upstream.fetch("1") }
        }
        #expect(upstream.calls == 1)
    }

    // MARK: Near cache

    /// Runs the caches' invalidation listeners and waits until each hears its own probe.
    private func listening(_ caches: [ObjectCache], _ body: () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for cache in caches { group.addTask { await cache.runInvalidationListener() } }
            try await eventually("every cache hears invalidations") { caches.allSatisfy(\.isListening) }
            try await body()
            group.cancelAll()
        }
    }

    private func nearHits(_ metrics: TestMetrics) -> Int64 {
        metrics.counters(label: GatewayMetrics.Name.cacheNearHits).map(\.totalValue).reduce(0, +)
    }

    @Test func hotEntriesAreServedFromMemoryAndAnotherReplicasWriteReachesThem() async throws {
        let rig = try await CacheRig.start()
        let metrics = TestMetrics()
        let a = rig.replica(metrics: GatewayMetrics(factory: metrics))
        let b = rig.replica()
        let read = { (cache: ObjectCache, staleness: Duration?) in
            try await cache.read(type: "contacts", id: "1", properties: ["email"], maxStaleness: staleness) {
                try await rig.upstream.fetch("1")
            }
        }
        try await listening([a, b]) {
            #expect(try await read(a, nil).source == .upstream)
            let hot = try await read(a, nil)
            #expect(hot.source == .cache && hot.object?.properties["email"] == "a@example.com")
            #expect(nearHits(metrics) == 1, "the second read did not ask Redis")
            // Reads that accept less staleness than nearTTL always ask Redis.
            #expect(try await read(a, .seconds(1)).source == .cache)
            #expect(nearHits(metrics) == 1)

            // A write through replica b: a's copy goes as soon as the message arrives.
            rig.upstream.set(email: "b@example.com")
            await b.invalidate(type: "contacts", id: "1")
            try await eventually("replica a reads the write made through replica b") {
                try await read(a, nil).object?.properties["email"] == "b@example.com"
            }
            #expect(rig.upstream.calls == 2, "one fetch after the write, by whichever replica read first")
        }
        await rig.finish()
    }

    @Test func theNearCacheIsOffAndEmptiedWhileTheSubscriptionIsDown() async throws {
        let rig = try await CacheRig.start()
        let metrics = TestMetrics()
        let a = rig.replica(metrics: GatewayMetrics(factory: metrics))
        let read: @Sendable () async throws -> ObjectCache.Read = {
            try await a.read(type: "contacts", id: "1", properties: ["email"]) { try await rig.upstream.fetch("1") }
        }
        try await listening([a]) {
            _ = try await read()
            _ = try await read()
            #expect(nearHits(metrics) == 1)
            // Redis drops the subscription: messages could be missed from now on.
            _ = try await rig.client.send("CLIENT", ["KILL", "TYPE", "pubsub"])
            try await eventually("the near cache turns off") { !a.isListening }
            rig.upstream.set(email: "missed@example.com")
            // A write whose message nobody heard.
            try await rig.client.incr(.init("\(rig.cache.configuration.keyPrefix):version:contacts:1"))
            let meanwhile = try await read()
            #expect(nearHits(metrics) == 1, "no read is served from memory while deaf")
            #expect(meanwhile.object?.properties["email"] == "missed@example.com")
            // It resubscribes by itself and starts empty.
            try await eventually("the near cache turns back on") { a.isListening }
            _ = try await read()
            _ = try await read()
            #expect(nearHits(metrics) == 2)
        }
        await rig.finish()
    }

    @Test func aReadThatOverlapsAnInvalidationIsNotKeptInMemory() async throws {
        let rig = try await CacheRig.start()
        let metrics = TestMetrics()
        let a = rig.replica(metrics: GatewayMetrics(factory: metrics))
        let read: @Sendable () async throws -> ObjectCache.Read = {
            try await a.read(type: "contacts", id: "1", properties: ["email"]) { try await rig.upstream.fetch("1") }
        }
        try await listening([a]) {
            let (started, release) = rig.upstream.holdNextFetch()
            async let slow = read()  // fetched the old value and is held
            var iterator = started.makeAsyncIterator()
            await iterator.next()
            rig.upstream.set(email: "new@example.com")
            await a.invalidate(type: "contacts", id: "1")
            release.open()
            #expect(try await slow.object?.properties["email"] == "a@example.com")
            let after = try await read()
            #expect(after.object?.properties["email"] == "new@example.com")
            #expect(nearHits(metrics) == 0, "the overlapping read was not kept")
        }
        await rig.finish()
    }

    // MARK: Bounded memory

    @Test func aMillionInvalidationsOfDistinctIdsLeaveTheInProcessMemoryFlat() async throws {
        var configuration = ObjectCache.Configuration()
        configuration.localCapacity = 1000
        let cache = ObjectCache(redis: nil, configuration: configuration, logger: quietLogger())
        let upstream = Upstream()
        for id in 0..<2000 {
            _ = try await cache.read(type: "contacts", id: "\(id)", properties: []) {
                try await upstream.fetch("\(id)")
            }
        }
        let filled = cache.localFootprint
        #expect(filled.entries == 1000 && filled.objects == 1000, "copies are held up to the capacity")
        for id in 0..<1_000_000 { await cache.invalidate(type: "contacts", id: "other-\(id)") }
        let after = cache.localFootprint
        #expect(after.invalidations <= 10_000, "remembered invalidations are bounded (\(after.invalidations))")
        #expect(after.entries <= 1000 && after.objects <= 1000)
        // Invalidating what is held drops it, and its bookkeeping with it.
        for id in 0..<2000 { await cache.invalidate(type: "contacts", id: "\(id)") }
        #expect(cache.localFootprint.entries == 0 && cache.localFootprint.objects == 0)
    }

    @Test func aReadThatStartedBeforeForgottenInvalidationsIsNotKept() async throws {
        // A read overlapping more invalidations than are remembered cannot tell whether its
        // object was among them: it is not kept.
        var configuration = ObjectCache.Configuration()
        configuration.localCapacity = 10
        let cache = ObjectCache(redis: nil, configuration: configuration, logger: quietLogger())
        let upstream = Upstream()
        let (started, release) = upstream.holdNextFetch()
        async let slow = cache.read(type: "contacts", id: "1", properties: []) { try await upstream.fetch("1") }
        var iterator = started.makeAsyncIterator()
        await iterator.next()
        await cache.invalidate(type: "contacts", id: "1")
        for id in 0..<20_000 { await cache.invalidate(type: "contacts", id: "other-\(id)") }
        release.open()
        _ = try await slow
        _ = try await cache.read(type: "contacts", id: "1", properties: []) { try await upstream.fetch("1") }
        #expect(upstream.calls == 2, "the overlapping read was kept")
    }

    @Test func aHotKeySurvivesAScanOfColdKeys() async throws {
        var configuration = ObjectCache.Configuration()
        configuration.localCapacity = 100
        // Time stands still: only eviction, not the in-process lifetime, can drop the hot key.
        let cache = ObjectCache(
            redis: nil, configuration: configuration, time: .manual(ManualClock()), logger: quietLogger())
        let hot = Upstream(), cold = Upstream()
        for id in 0..<5000 {
            if id % 20 == 0 {
                _ = try await cache.read(type: "contacts", id: "hot", properties: []) { try await hot.fetch("hot") }
            }
            _ = try await cache.read(type: "contacts", id: "cold-\(id)", properties: []) {
                try await cold.fetch("cold-\(id)")
            }
        }
        #expect(hot.calls == 1, "the hot key was evicted by the scan (\(hot.calls) fetches)")
        #expect(cold.calls == 5000)
        #expect(cache.localFootprint.entries == 100)
    }

    // MARK: Writes across a Redis outage

    /// A write acknowledged while Redis is down: its invalidation cannot be made then, and the
    /// entry of the old value is still in Redis when it comes back (`persistent`) — or gone.
    private func writeDuringOutage(persistent: Bool) async throws {
        let rig = try await CacheRig.start(persistent: persistent)
        let other = rig.replica()
        #expect(
            try await other.read(type: "contacts", id: "1", properties: ["email"]) { try await rig.upstream.fetch("1") }
                .source == .upstream)
        rig.redis.kill()
        rig.upstream.set(email: "written-during-outage@example.com")
        await rig.cache.invalidate(type: "contacts", id: "1")  // the write was acknowledged
        #expect(rig.cache.pendingInvalidationCount == 1)
        // This replica does not serve the old value while Redis is down…
        #expect(try await rig.read("1").object?.properties["email"] == "written-during-outage@example.com")
        try await rig.redis.startAgain()
        try await eventually("the client reconnects") { (try? await rig.client.send("PING")) != nil }
        // …nor after it is back: the kept invalidation is made before any Redis entry is used.
        #expect(try await rig.read("1").object?.properties["email"] == "written-during-outage@example.com")
        #expect(rig.cache.pendingInvalidationCount == 0)
        // And every other replica sees the write too.
        let seen = try await other.read(type: "contacts", id: "1", properties: ["email"]) {
            try await rig.upstream.fetch("1")
        }
        #expect(seen.object?.properties["email"] == "written-during-outage@example.com")
        await rig.finish()
    }

    @Test func aWriteDuringARedisOutageIsSeenAfterRedisComesBackWithItsData() async throws {
        try await writeDuringOutage(persistent: true)
    }

    @Test func aWriteDuringARedisOutageIsSeenAfterRedisComesBackEmpty() async throws {
        try await writeDuringOutage(persistent: false)
    }

    @Test func theRetryLoopMakesKeptInvalidationsWithoutAnyRead() async throws {
        let rig = try await CacheRig.start(persistent: true) { $0.pendingInvalidationRetryInterval = .milliseconds(20) }
        let other = rig.replica()
        _ = try await other.read(type: "contacts", id: "1", properties: ["email"]) { try await rig.upstream.fetch("1") }
        rig.redis.kill()
        rig.upstream.set(email: "new@example.com")
        await rig.cache.invalidate(type: "contacts", id: "1")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await rig.cache.runPendingInvalidations() }
            try await rig.redis.startAgain()
            try await eventually("the kept invalidation is made") { rig.cache.pendingInvalidationCount == 0 }
            group.cancelAll()
        }
        let seen = try await other.read(type: "contacts", id: "1", properties: ["email"]) {
            try await rig.upstream.fetch("1")
        }
        #expect(seen.source == .upstream && seen.object?.properties["email"] == "new@example.com")
        await rig.finish()
    }

    @Test func tooManyKeptInvalidationsFenceTheWholeCache() async throws {
        let rig = try await CacheRig.start(persistent: true) {
            $0.pendingInvalidationCapacity = 3; $0.pendingInvalidationRetryInterval = .milliseconds(20)
        }
        let other = rig.replica()
        for id in ["1", "2"] {
            _ = try await other.read(type: "contacts", id: id, properties: ["email"]) {
                try await rig.upstream.fetch(id)
            }
        }
        rig.redis.kill()
        for id in 10..<20 { await rig.cache.invalidate(type: "contacts", id: "\(id)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await rig.cache.runPendingInvalidations() }
            try await rig.redis.startAgain()
            try await eventually("the fence is made") { rig.cache.pendingInvalidationCount == 0 }
            group.cancelAll()
        }
        let calls = rig.upstream.calls
        for id in ["1", "2"] {
            #expect(
                try await other.read(type: "contacts", id: id, properties: ["email"]) {
                    try await rig.upstream.fetch(id)
                }.source == .upstream)
        }
        #expect(rig.upstream.calls == calls + 2, "entries from before the fence are not served")
        await rig.finish()
    }
}
