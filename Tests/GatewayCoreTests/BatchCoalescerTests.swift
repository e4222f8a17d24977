@testable import GatewayCore
import Synchronization
import Testing
import TestSupport

/// Early refusal in the batch line: a request that could not reach a batch before its deadline
/// is refused on arrival, from the pace the line was measured to move at.
@Suite struct BatchCoalescerTests {
    /// Admissions the test lets through one at a time.
    final class Gate: Sendable {
        private let state = Mutex<(permits: Int, waiting: [CheckedContinuation<Void, Never>])>((0, []))

        func wait() async {
            await withCheckedContinuation { continuation in
                let go = state.withLock { state -> Bool in
                    if state.permits > 0 {
                        state.permits -= 1
                        return true
                    }
                    state.waiting.append(continuation)
                    return false
                }
                if go { continuation.resume() }
            }
        }

        func open() {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if state.waiting.isEmpty {
                    state.permits += 1
                    return nil
                }
                return state.waiting.removeFirst()
            }
            waiter?.resume()
        }
    }

    /// A clock the test moves by hand.
    final class HandClock: Sendable {
        private let instant = Mutex(ContinuousClock.now)
        var now: ContinuousClock.Instant { instant.withLock { $0 } }
        func advance(by duration: Duration) { instant.withLock { $0 += duration } }
    }

    struct Refused: Error, Equatable { var expectedWait: Duration }

    /// A coalescer of strings on a hand-moved clock, its gate, the clock and the batch sizes sent.
    static func line(share: Double?, fastest: Duration = .zero) -> (
        BatchCoalescer<String, String, String>, Gate, HandClock, CallLog
    ) {
        let gate = Gate()
        let clock = HandClock()
        let log = CallLog()
        let refusal = share.map { BatchEarlyRefusal(share: $0, fastestInterval: fastest) { Refused(expectedWait: $0) } }
        let coalescer = BatchCoalescer<String, String, String>(
            maxBatchSize: 100, merging: .share, earlyRefusal: refusal, now: { clock.now },
            admit: { _ in await gate.wait() },
            send: { _, items, _ in
                log.record(items.count)
                return items.map { .success("read \($0)") }
            })
        return (coalescer, gate, clock, log)
    }

    /// `count` requests ("0", "1", …) waiting in `coalescer`'s line until `deadline`; the task
    /// answers their results once the line is drained.
    static func waitingRequests(
        _ coalescer: BatchCoalescer<String, String, String>, count: Int, deadline: ContinuousClock.Instant
    ) async throws -> Task<[String], any Error> {
        let waiting = Task {
            try await withThrowingTaskGroup(of: String.self) { group in
                for n in 0..<count {
                    group.addTask {
                        try await coalescer.submit("\(n)", key: "contacts", identity: "\(n)", deadline: deadline)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        try await eventually("\(count) requests wait") { coalescer.waitingCount == count }
        return waiting
    }

    /// 450 requests waiting; two batches let out one (hand-moved) second apart, so the line is
    /// measured to move one batch a second with 250 requests still in it.
    static func measuredLine(share: Double?) async throws -> (
        BatchCoalescer<String, String, String>, Gate, HandClock, CallLog, Task<[String], any Error>
    ) {
        let (coalescer, gate, clock, log) = line(share: share)
        let waiting = try await waitingRequests(coalescer, count: 450, deadline: clock.now + .seconds(600))
        gate.open()
        try await eventually("the first batch left") { coalescer.waitingCount == 350 }
        clock.advance(by: .seconds(1))
        gate.open()
        try await eventually("the second batch left") { coalescer.waitingCount == 250 }
        return (coalescer, gate, clock, log, waiting)
    }

    static func drain(_ gate: Gate, _ coalescer: BatchCoalescer<String, String, String>) async throws {
        while case let before = coalescer.waitingCount, before > 0 {
            gate.open()
            try await eventually("a batch left") { coalescer.waitingCount < before }
        }
    }

    @Test func aRequestAtTheEndOfALineLongerThanItsTimeIsRefusedOnArrivalWithTheExpectedWait() async throws {
        let (coalescer, gate, clock, log, waiting) = try await Self.measuredLine(share: 0.5)
        let now = clock.now
        // 250 ahead at one batch a second: its batch leaves in about 3 s; half of 4 s is less.
        await #expect(throws: Refused(expectedWait: .seconds(3))) {
            try await coalescer.submit("late", key: "contacts", identity: "late", deadline: now + .seconds(4))
        }
        #expect(coalescer.waitingCount == 250, "the refused request was not queued")
        // With 10 s left it waits; a request for an input already in the line joins it, whatever its deadline.
        async let patient = coalescer.submit(
            "patient", key: "contacts", identity: "patient", deadline: now + .seconds(10))
        async let joining = coalescer.submit("449", key: "contacts", identity: "449", deadline: now + .seconds(1))
        try await eventually("both wait") { coalescer.waitingCount == 252 }
        try await Self.drain(gate, coalescer)
        #expect(try await patient == "read patient")
        #expect(try await joining == "read 449")
        #expect(try await waiting.value.count == 450)
        #expect(log.all == [100, 100, 100, 100, 51])
    }

    @Test func withoutEarlyRefusalTheSameRequestWaits() async throws {
        let (coalescer, gate, clock, _, waiting) = try await Self.measuredLine(share: nil)
        let now = clock.now
        async let late = coalescer.submit("late", key: "contacts", identity: "late", deadline: now + .seconds(4))
        try await eventually("it waits") { coalescer.waitingCount == 251 }
        try await Self.drain(gate, coalescer)
        #expect(try await late == "read late")
        #expect(try await waiting.value.count == 450)
    }

    @Test func aLineNotYetMeasuredOrShorterThanABatchRefusesNothing() async throws {
        let (coalescer, gate, clock, _) = Self.line(share: 0.5)
        let now = clock.now
        // 300 waiting but no batch has left yet: no pace to judge by.
        let waiting = try await Self.waitingRequests(coalescer, count: 300, deadline: now + .seconds(1))
        try await Self.drain(gate, coalescer)
        #expect(try await waiting.value.count == 300)
    }

    @Test func beforeAnyMeasurementTheBudgetsOwnPaceJudges() async throws {
        // The budget allows one batch a second: 300 waiting cannot all leave sooner than that.
        let (coalescer, gate, clock, _) = Self.line(share: 0.5, fastest: .seconds(1))
        let now = clock.now
        let waiting = try await Self.waitingRequests(coalescer, count: 300, deadline: now + .seconds(60))
        await #expect(throws: Refused(expectedWait: .seconds(4))) {
            try await coalescer.submit("late", key: "contacts", identity: "late", deadline: now + .seconds(4))
        }
        async let patient = coalescer.submit(
            "patient", key: "contacts", identity: "patient", deadline: now + .seconds(9))
        try await eventually("it waits") { coalescer.waitingCount == 301 }
        try await Self.drain(gate, coalescer)
        #expect(try await patient == "read patient")
        #expect(try await waiting.value.count == 300)
    }
}
