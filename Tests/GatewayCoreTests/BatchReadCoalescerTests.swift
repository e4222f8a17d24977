import Foundation
@testable import GatewayCore
import HubSpotAPI
import HubSpotSimulator
import Logging
import Synchronization
import Testing
import TestSupport

/// A simulator with `contacts` seeded contacts, a client, and the ids of the contacts.
func withSeededSimulator<T: Sendable>(
    contacts: Int, _ body: (_ client: HubSpotClient, _ ids: [String]) async throws -> T
) async throws -> T {
    var configuration = SimulatorConfiguration()
    configuration.seedContacts = contacts
    configuration.dailyLimit = 0
    let logger = quietLogger()
    return try await HubSpotSimulator.withRunning(configuration, logger: logger) { _, baseURL in
        let transport = CurlTransport()
        defer { transport.shutdown() }
        var clientConfiguration = HubSpotClientConfiguration(baseURL: baseURL)
        clientConfiguration.requestTimeout = .seconds(10)
        let client = HubSpotClient(
            transport: transport, credentials: .privateAppToken(Secret(configuration.token)),
            configuration: clientConfiguration)
        var ids: [String] = []
        var after: String?
        repeat {
            let page = try await client.listObjects("contacts", limit: 100, after: after)
            ids += page.results.map(\.id)
            after = page.nextAfter
        } while after != nil
        return try await body(client, ids)
    }
}

/// Counts the batch calls a coalescer makes.
final class CallLog: Sendable {
    private let sizes = Mutex<[Int]>([])
    func record(_ size: Int) { sizes.withLock { $0.append(size) } }
    var all: [Int] { sizes.withLock { $0 } }
}

@Suite struct BatchReadCoalescerTests {
    func coalescer(_ client: HubSpotClient, log: CallLog, admit: @escaping BatchReadCoalescer.Admit = { _ in })
        -> BatchReadCoalescer
    {
        BatchReadCoalescer(admit: admit) { type, ids, properties, idProperty, deadline in
            log.record(ids.count)
            return try await client.batchRead(
                type, ids: ids, properties: properties, idProperty: idProperty, options: CallOptions(deadline: deadline)
            )
        }
    }

    @Test func oneReadCostsOneCall() async throws {
        try await withSeededSimulator(contacts: 5) { client, ids in
            let log = CallLog()
            let object = try await coalescer(client, log: log).read(
                type: "contacts", id: ids[0], properties: ["email"], deadline: .now + .seconds(5))
            #expect(object?.id == ids[0])
            #expect(object?.properties["email"] != nil)
            #expect(log.all == [1])
        }
    }

    @Test func aThousandConcurrentReadsWaitingForTheBudgetCostAtMostElevenCalls() async throws {
        try await withSeededSimulator(contacts: 1000) { client, ids in
            #expect(ids.count == 1000)
            let log = CallLog()
            // A real limiter (no Redis: this replica's own 8/s) admits the batches.
            let limiter = FixedWindowRateLimiter(redis: nil, logger: quietLogger())
            let coalescer = coalescer(client, log: log) { deadline in
                try await limiter.acquire(.general, deadline: deadline)
            }
            let found = try await withThrowingTaskGroup(of: Bool.self) { group in
                for id in ids {
                    group.addTask {
                        try await coalescer.read(
                            type: "contacts", id: id, properties: ["email", "firstname"], deadline: .now + .seconds(20))?
                            .id == id
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(found == 1000)
            #expect(log.all.count <= 11, "batch sizes: \(log.all)")
            #expect(log.all.allSatisfy { $0 <= 100 })
        }
    }

    @Test func readsOfOneIdShareOneInputAndMissingIdsAreNil() async throws {
        try await withSeededSimulator(contacts: 3) { client, ids in
            let log = CallLog()
            let gate = Gate()
            let coalescer = coalescer(client, log: log) { _ in await gate.wait() }
            async let a = coalescer.read(type: "contacts", id: ids[1], properties: [], deadline: .now + .seconds(5))
            async let b = coalescer.read(type: "contacts", id: ids[1], properties: [], deadline: .now + .seconds(5))
            async let missing = coalescer.read(
                type: "contacts", id: "999999999", properties: [], deadline: .now + .seconds(5))
            await waitUntil { coalescer.waitingCount == 3 }
            gate.open()
            let (first, second, none) = try await (a, b, missing)
            #expect(first?.id == ids[1] && second?.id == ids[1])
            #expect(none == nil)
            #expect(log.all == [2], "one call with two distinct ids")
        }
    }

    @Test func aReadWhoseCallerGivesUpLeavesTheOthersAlone() async throws {
        try await withSeededSimulator(contacts: 3) { client, ids in
            let log = CallLog()
            let gate = Gate()
            let coalescer = coalescer(client, log: log) { _ in await gate.wait() }
            let abandoned = Task {
                try await coalescer.read(type: "contacts", id: ids[0], properties: [], deadline: .now + .seconds(5))
            }
            async let kept = coalescer.read(type: "contacts", id: ids[2], properties: [], deadline: .now + .seconds(5))
            await waitUntil { coalescer.waitingCount == 2 }
            abandoned.cancel()
            await #expect(throws: CancellationError.self) { _ = try await abandoned.value }
            gate.open()
            let keptID = try await kept?.id
            #expect(keptID == ids[2])
            #expect(log.all == [1], "the abandoned id was not fetched")
        }
    }
}

/// Blocks admissions until opened.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func wait() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
