import Foundation
@testable import GatewayCore
import HubSpotAPI
import HubSpotSimulator
import MetricsTestKit
import RedisClient
import Testing
import TestSupport

/// One replica's door (limiter, breaker, cache, upstream) on a shared Redis and simulator.
struct Door {
    let upstream: HubSpotUpstream
    let transport: CurlTransport
}

/// A real redis-server and an in-process hubspot-sim with seeded contacts, for door tests.
struct DoorEnvironment {
    let redisClient: RedisClient
    let redis: RedisServerProcess
    let simulator: SimulatorConfiguration
    let baseURL: String
    let keyPrefix: String
    let ids: [String]
    let admin: CurlTransport

    static func with(contacts: Int, _ body: (DoorEnvironment) async throws -> Void) async throws {
        let redis = try await RedisServerProcess.start()
        var redisConfiguration = try RedisConfiguration(url: redis.url)
        redisConfiguration.commandTimeout = .seconds(2)
        let redisClient = RedisClient(configuration: redisConfiguration, logger: quietLogger())
        try await redisClient.waitUntilConnected()
        var simulator = SimulatorConfiguration()
        simulator.seedContacts = contacts
        simulator.dailyLimit = 0
        do {
            try await HubSpotSimulator.withRunning(simulator, logger: quietLogger()) { _, baseURL in
                let admin = CurlTransport()
                defer { admin.shutdown() }
                let client = HubSpotClient(
                    transport: admin, credentials: .privateAppToken(Secret(simulator.token)),
                    configuration: HubSpotClientConfiguration(baseURL: baseURL))
                var ids: [String] = []
                var after: String?
                while contacts > 0 {
                    let page = try await client.listObjects("contacts", limit: 100, after: after)
                    ids += page.results.map(\.id)
                    after = page.nextAfter
                    if after == nil { break }
                }
                let environment = DoorEnvironment(
                    redisClient: redisClient, redis: redis, simulator: simulator, baseURL: baseURL,
                    keyPrefix: "test:\(UUID().uuidString)", ids: ids, admin: admin)
                // A Redis this fleet has been using: the first call would otherwise find it new and
                // hold the current second (what a Redis that lost its data gets).
                try await redisClient.send("SET", [.init(environment.keyPrefix + ":incarnation"), "0"])
                try await environment.send(.post, "/_sim/stats/reset")
                try await body(environment)
            }
        } catch {
            await redisClient.shutdown()
            throw error
        }
        await redisClient.shutdown()
    }

    /// A replica's door. `redis` is this replica's own connection (nil: the shared one).
    func door(
        redis: RedisClient? = nil, replicaID: String = UUID().uuidString, metrics: GatewayMetrics = GatewayMetrics(),
        retries: Int = 1, token: String? = nil, breakerClock: ManualInstant? = nil,
        configureLimiter: (inout RateLimiterConfiguration) -> Void = { _ in },
        configureBreaker: (inout CircuitBreaker.Configuration) -> Void = { _ in },
        configureUpstream: (inout HubSpotUpstream.Configuration) -> Void = { _ in }
    ) -> Door {
        var door = DoorConfiguration(baseURL: baseURL)
        door.limits.keyPrefix = keyPrefix
        door.cache.keyPrefix = keyPrefix
        door.redisTimeout = .seconds(2)
        door.hubspot.retryPolicy.maxAttempts = retries
        door.hubspot.retryPolicy.baseDelay = .milliseconds(20)
        configureLimiter(&door.limits)
        configureBreaker(&door.breaker)
        configureUpstream(&door.batching)
        let transport = CurlTransport()
        var breakerNow: (@Sendable () -> ContinuousClock.Instant)? = nil
        if let breakerClock { breakerNow = { breakerClock.now } }
        let crm = CRM(
            door: door, credentials: .privateAppToken(Secret(token ?? simulator.token)), redis: redis ?? redisClient,
            transport: transport, replicaID: replicaID, metrics: metrics, breakerNow: breakerNow,
            logger: quietLogger())
        let upstream = crm.upstream
        return Door(upstream: upstream, transport: transport)
    }

    /// Calls the simulator's admin API; returns the JSON answer.
    @discardableResult
    func send(_ method: HTTPRequest.Method, _ path: String, body: String? = nil) async throws -> [String: Any] {
        let response = try await admin.send(
            HTTPRequest(
                method: method, url: baseURL + path, headers: [("Content-Type", "application/json")],
                body: body.map { Array($0.utf8) }), timeout: .seconds(30))
        #expect(
            (200..<300).contains(response.status),
            "\(method) \(path): \(String(decoding: response.body, as: UTF8.self))")
        return (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    }

    func faults(_ json: String) async throws { try await send(.put, "/_sim/faults", body: json) }

    /// What the simulator saw: requests per wall-clock second, and how many were answered 429.
    func perSecond() async throws -> (counts: [Int: Int], rateLimited: Int) {
        let stats = try await send(.get, "/_sim/stats")
        var counts: [Int: Int] = [:]
        for entry in stats["perSecond"] as? [[String: Any]] ?? [] {
            counts[(entry["second"] as? NSNumber)?.intValue ?? 0] = (entry["requests"] as? NSNumber)?.intValue ?? 0
        }
        return (counts, (stats["rateLimited"] as? NSNumber)?.intValue ?? -1)
    }
}

/// The whole door against a real redis-server and an in-process hubspot-sim.
@Suite struct HubSpotUpstreamTests {
    @Test func readsComeFromHubSpotOnceThenFromTheCache() async throws {
        try await DoorEnvironment.with(contacts: 3) { environment in
            let door = environment.door()
            defer { door.transport.shutdown() }
            let ids = environment.ids
            let first = try await door.upstream.readObject(
                type: "contacts", id: ids[0], properties: ["email"], CallTerms(deadline: .now + .seconds(5)))
            #expect(first.source == .upstream && first.object?.id == ids[0])
            let second = try await door.upstream.readObject(
                type: "contacts", id: ids[0], properties: ["email"], CallTerms(deadline: .now + .seconds(5)))
            #expect(second.source == .cache)
        }
    }

    @Test func anOutageOpensTheBreakerFailsFastAndServesStaleReads() async throws {
        try await DoorEnvironment.with(contacts: 3) { environment in
            let clock = ManualInstant()
            let door = environment.door(
                breakerClock: clock,
                configureBreaker: {
                    $0.minimumFailures = 3; $0.openInterval = .seconds(2); $0.halfOpenProbes = 1
                })
            defer { door.transport.shutdown() }
            let upstream = door.upstream
            let ids = environment.ids
            // Cache one object, then let it go stale (maxStaleness zero forces HubSpot).
            _ = try await upstream.readObject(
                type: "contacts", id: ids[0], properties: [], CallTerms(deadline: .now + .seconds(5)))
            try await environment.faults(#"{"outage": true}"#)
            for _ in 0..<3 {
                await #expect(throws: HubSpotError.self) {
                    _ = try await upstream.call(CallTerms(deadline: .now + .seconds(5))) { client, options in
                        try await client.getObject("contacts", id: ids[1], options: options)
                    }
                }
            }
            #expect(upstream.breaker.currentState == .open)
            let before = try await environment.perSecond().counts.values.reduce(0, +)
            await #expect(throws: CircuitOpen.self) {
                _ = try await upstream.call(CallTerms(deadline: .now + .seconds(5))) { client, options in
                    try await client.getObject("contacts", id: ids[1], options: options)
                }
            }
            let stale = try await upstream.readObject(
                type: "contacts", id: ids[0], properties: [], maxStaleness: .zero,
                CallTerms(deadline: .now + .seconds(5)))
            #expect(stale.source == .stale && stale.object?.id == ids[0])
            #expect(
                try await environment.perSecond().counts.values.reduce(0, +) == before,
                "fail-fast calls never reach HubSpot")
            // HubSpot recovers: after the open interval a probe closes the breaker.
            try await environment.faults(#"{"outage": false}"#)
            clock.advance(by: .seconds(2))
            let fresh = try await upstream.readObject(
                type: "contacts", id: ids[0], properties: [], maxStaleness: .zero,
                CallTerms(deadline: .now + .seconds(5)))
            #expect(fresh.source == .upstream)
            #expect(upstream.breaker.currentState == .closed)
        }
    }

    @Test func aWriteThroughTheDoorIsVisibleAtOnceThroughAnotherReplica() async throws {
        try await DoorEnvironment.with(contacts: 2) { environment in
            let writer = environment.door()
            let reader = environment.door()
            defer { writer.transport.shutdown(); reader.transport.shutdown() }
            let id = environment.ids[0]
            _ = try await reader.upstream.readObject(
                type: "contacts", id: id, properties: ["firstname"], CallTerms(deadline: .now + .seconds(5)))
            _ = try await writer.upstream.write(
                type: "contacts", .update(id: id, properties: ["firstname": "Renamed"]),
                CallTerms(deadline: .now + .seconds(5)))
            let read = try await reader.upstream.readObject(
                type: "contacts", id: id, properties: ["firstname"], CallTerms(deadline: .now + .seconds(5)))
            #expect(read.source == .upstream)
            #expect(read.object?.properties["firstname"] == "Renamed")
            // Other calls invalidate what they name, too.
            _ = try await writer.upstream.call(
                CallTerms(deadline: .now + .seconds(5)), invalidating: [("contacts", id)]
            ) {
                client, options in
                try await client.updateObject("contacts", id: id, properties: ["firstname": "Again"], options: options)
            }
            let again = try await reader.upstream.readObject(
                type: "contacts", id: id, properties: ["firstname"], CallTerms(deadline: .now + .seconds(5)))
            #expect(again.object?.properties["firstname"] == "Again")
        }
    }

    @Test func transientFailuresAreRetriedThroughTheLimiterWithinTheDeadline() async throws {
        try await DoorEnvironment.with(contacts: 2) { environment in
            let metrics = TestMetrics()
            // 30 % of calls fail: 20 calls see some failures (all succeed first time with p = 0.7^20 < 0.1 %),
            // and none exhausts 8 retries (p = 20 × 0.3^9 < 0.1 %).
            let door = environment.door(
                metrics: GatewayMetrics(factory: metrics), retries: 8, configureBreaker: { $0.minimumFailures = 100 })
            defer { door.transport.shutdown() }
            try await environment.faults(
                #"{"rules": [{"endpoint": "objects.get", "errorRate": 0.3, "errorStatuses": [503]}]}"#)
            let id = environment.ids[0]
            for _ in 0..<20 {
                let object = try await door.upstream.call(CallTerms(deadline: .now + .seconds(20))) { client, options in
                    try await client.getObject("contacts", id: id, options: options)
                }
                #expect(object.id == id)
            }
            let calls = metrics.counters(label: GatewayMetrics.Name.upstreamCalls).map(\.totalValue).reduce(0, +)
            let grants = try await environment.perSecond().counts.values.reduce(0, +)
            let retries = metrics.counters(label: GatewayMetrics.Name.upstreamRetries).map(\.totalValue).reduce(0, +)
            #expect(retries > 0, "with 30 % of the calls failing, some were retried")
            #expect(calls == 20 + retries, "every attempt, retries included, is one HubSpot call")
            #expect(grants == calls, "and every one of them reached HubSpot through a limiter slot")
        }
    }

    @Test func aRetryNeverWaitsPastTheDeadline() async throws {
        try await DoorEnvironment.with(contacts: 1) { environment in
            let door = environment.door(retries: 10, configureBreaker: { $0.minimumFailures = 100 })
            defer { door.transport.shutdown() }
            try await environment.faults(#"{"outage": true}"#)
            let id = environment.ids[0]
            let started = ContinuousClock.now
            // HubSpot's 503, the limiter's refusal or the client's deadline, whichever comes first.
            await #expect(throws: (any Error).self) {
                _ = try await door.upstream.call(CallTerms(deadline: .now + .milliseconds(600))) { client, options in
                    try await client.getObject("contacts", id: id, options: options)
                }
            }
            #expect(ContinuousClock.now - started < .seconds(3), "gave up near the deadline, not after ten backoffs")
        }
    }

    @Test func metricsCountCallsRecordsPerCallCacheResultsAndBreakerState() async throws {
        try await DoorEnvironment.with(contacts: 5) { environment in
            let metrics = TestMetrics()
            let door = environment.door(
                metrics: GatewayMetrics(factory: metrics),
                configureBreaker: {
                    $0.minimumFailures = 2; $0.openInterval = .seconds(30)
                })
            defer { door.transport.shutdown() }
            let ids = environment.ids
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ids {
                    group.addTask {
                        _ = try await door.upstream.readObject(
                            type: "contacts", id: id, properties: [], CallTerms(deadline: .now + .seconds(5)))
                    }
                }
                try await group.waitForAll()
            }
            _ = try await door.upstream.readObject(
                type: "contacts", id: ids[0], properties: [], CallTerms(deadline: .now + .seconds(5)))
            #expect(try metrics.expectCounter(GatewayMetrics.Name.cacheReads, [("result", "miss")]).totalValue == 5)
            #expect(try metrics.expectCounter(GatewayMetrics.Name.cacheReads, [("result", "hit")]).totalValue == 1)
            let batchCalls = try metrics.expectCounter(
                GatewayMetrics.Name.upstreamCalls, [("endpoint", "objects.batch.read"), ("status", "200")]
            ).totalValue
            let records = try metrics.expectRecorder(
                GatewayMetrics.Name.recordsPerCall, [("endpoint", "objects.batch.read")]
            ).values
            #expect(Int64(records.count) == batchCalls && records.reduce(0, +) == 5)

            try await environment.faults(#"{"outage": true}"#)
            for _ in 0..<2 {
                _ = try? await door.upstream.call(CallTerms(deadline: .now + .seconds(5))) { client, options in
                    try await client.getObject("contacts", id: ids[1], options: options)
                }
            }
            #expect(
                try metrics.expectCounter(
                    GatewayMetrics.Name.upstreamCalls, [("endpoint", "objects.get"), ("status", "503")]
                ).totalValue == 2)
            #expect(try metrics.expectGauge(GatewayMetrics.Name.breakerState).lastValue == 2)
            _ = try? await door.upstream.call(CallTerms(deadline: .now + .seconds(5))) { client, options in
                try await client.getObject("contacts", id: ids[1], options: options)
            }
            #expect(try metrics.expectCounter(GatewayMetrics.Name.breakerRejections).totalValue == 1)
        }
    }

    @Test func anOpenBreakerRefusesBeforeWaitingForOrSpendingBudget() async throws {
        try await DoorEnvironment.with(contacts: 3) { environment in
            let metrics = TestMetrics()
            let door = environment.door(
                metrics: GatewayMetrics(factory: metrics), configureLimiter: { $0.generalPerSecond = 2 },
                configureBreaker: {
                    $0.minimumFailures = 2; $0.openInterval = .seconds(30)
                })
            defer { door.transport.shutdown() }
            let upstream = door.upstream
            let ids = environment.ids
            try await environment.faults(#"{"outage": true}"#)
            for _ in 0..<2 {
                _ = try? await upstream.call(CallTerms(deadline: .now + .seconds(5))) { client, options in
                    try await client.getObject("contacts", id: ids[1], options: options)
                }
            }
            #expect(upstream.breaker.currentState == .open)
            let waitsBefore = metrics.counters(label: GatewayMetrics.Name.limiterWaits).map(\.totalValue).reduce(0, +)
            let usedBefore = await upstream.limiter.usage().first { $0.bucket == "daily" }?.used
            // Every kind of call is refused by the breaker itself, never after queueing for budget
            // (the budget of 2 a second would make 12 calls wait for seconds).
            for _ in 0..<4 {
                await #expect(throws: CircuitOpen.self) {
                    _ = try await upstream.call(CallTerms(deadline: .now + .seconds(10))) { client, options in
                        try await client.getObject("contacts", id: ids[1], options: options)
                    }
                }
                await #expect(throws: CircuitOpen.self) {
                    _ = try await upstream.readObject(
                        type: "contacts", id: ids[2], properties: [], CallTerms(deadline: .now + .seconds(10)))
                }
                await #expect(throws: CircuitOpen.self) {
                    _ = try await upstream.write(
                        type: "contacts", .update(id: ids[2], properties: ["email": "x@example.com"]),
                        CallTerms(deadline: .now + .seconds(10)))
                }
            }
            #expect(
                metrics.counters(label: GatewayMetrics.Name.limiterWaits).map(\.totalValue).reduce(0, +) == waitsBefore,
                "refused calls waited for budget")
            #expect(
                await upstream.limiter.usage().first { $0.bucket == "daily" }?.used == usedBefore,
                "refused calls spent budget")
            #expect(try metrics.expectCounter(GatewayMetrics.Name.breakerRejections).totalValue == 12)
        }
    }

    @Test func rejectedGatewayCredentialsAreCountedThroughTheInjectedMetrics() async throws {
        try await DoorEnvironment.with(contacts: 1) { environment in
            let metrics = TestMetrics()
            let door = environment.door(metrics: GatewayMetrics(factory: metrics), token: "pat-na1-not-the-right-token")
            defer { door.transport.shutdown() }
            await #expect(throws: HubSpotError.self) {
                _ = try await door.upstream.call(CallTerms(deadline: .now + .seconds(5))) { client, options in
                    try await client.getObject("contacts", id: environment.ids[0], options: options)
                }
            }
            await #expect(throws: HubSpotError.self) {
                _ = try await door.upstream.readObject(
                    type: "contacts", id: environment.ids[0], properties: [], CallTerms(deadline: .now + .seconds(5)))
            }
            let rejected = try metrics.expectCounter(GatewayMetrics.Name.credentialsRejected)
            #expect(rejected.totalValue == 2)
        }
    }

    @Test func propertiesInAnotherOrderOrRepeatedReadTheSameCacheEntry() async throws {
        try await DoorEnvironment.with(contacts: 1) { environment in
            let door = environment.door()
            defer { door.transport.shutdown() }
            let id = environment.ids[0]
            let first = try await door.upstream.readObject(
                type: "contacts", id: id, properties: ["email", "firstname"], CallTerms(deadline: .now + .seconds(5)))
            let second = try await door.upstream.readObject(
                type: "contacts", id: id, properties: ["firstname", "email", "email"],
                CallTerms(deadline: .now + .seconds(5)))
            #expect(first.source == .upstream)
            #expect(second.source == .cache, "one property set, one entry: normalized once at the door")
        }
    }

    @Test func aReadWhoseBatchLineOutlastsItsDeadlineIsRefusedOnArrivalAndCounted() async throws {
        try await DoorEnvironment.with(contacts: 500) { environment in
            let metrics = TestMetrics()
            let door = environment.door(
                metrics: GatewayMetrics(factory: metrics), configureLimiter: { $0.generalPerSecond = 2 })
            defer { door.transport.shutdown() }
            let upstream = door.upstream
            // 499 distinct reads at 2 calls a second: a line of several batches.
            let ids = environment.ids
            let waiting = Task {
                await withTaskGroup(of: Void.self) { group in
                    for id in ids.dropFirst() {
                        group.addTask {
                            _ = try? await upstream.readObject(
                                type: "contacts", id: id, properties: ["email"],
                                CallTerms(deadline: .now + .seconds(60)))
                        }
                    }
                }
            }
            // Three batches have left: the line's pace is measured, and at least 200 reads remain.
            try await eventually("three batch reads reached HubSpot", within: .seconds(30)) {
                let stats = try await environment.send(.get, "/_sim/stats")
                let calls = (stats["byEndpoint"] as? [String: Any])?["objects.batch.read"] as? NSNumber
                return (calls?.intValue ?? 0) >= 3
            }
            await #expect(throws: RateLimitExceeded.self) {
                _ = try await upstream.readObject(
                    type: "contacts", id: environment.ids[0], properties: ["email"],
                    CallTerms(deadline: .now + .seconds(1)))
            }
            let refusals = metrics.counters(label: GatewayMetrics.Name.budgetRefusals)
                .filter { $0.dimensions.contains { $0 == ("reason", "batch_line") } }
                .map(\.totalValue).reduce(0, +)
            #expect(refusals == 1, "refused by its place in the batch line, not by the limiter at its deadline")
            // The reads still in line leave it when their callers give up.
            waiting.cancel()
            await waiting.value
        }
    }
}
