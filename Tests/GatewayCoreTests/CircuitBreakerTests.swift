@testable import GatewayCore
import Synchronization
import Testing
import TestSupport

@Suite struct CircuitBreakerTests {
    /// The breaker's time, moved by the test.
    let clock = ManualInstant()

    func breaker(openInterval: Duration = .milliseconds(200), changes: StateLog = StateLog()) -> CircuitBreaker {
        var configuration = CircuitBreaker.Configuration()
        configuration.openInterval = openInterval
        let clock = clock
        return CircuitBreaker(
            configuration: configuration, logger: quietLogger(), onStateChange: { changes.append($0) },
            now: { clock.now })
    }

    func call(_ breaker: CircuitBreaker, _ outcome: CircuitBreaker.Outcome) throws {
        let permit = try breaker.permit()
        breaker.record(outcome, for: permit)
    }

    @Test func opensAfterEnoughFailuresAtAHighEnoughRateAndThenFailsFast() throws {
        let changes = StateLog()
        let breaker = breaker(openInterval: .seconds(30), changes: changes)
        for _ in 0..<6 { try call(breaker, .success) }
        for _ in 0..<4 { try call(breaker, .failure) }
        #expect(breaker.currentState == .closed, "4 failures are under the minimum of 5")
        for _ in 0..<2 { try call(breaker, .failure) }  // 6 of 12 failed: 50 %
        #expect(breaker.currentState == .open)
        #expect(throws: CircuitOpen.self) { try breaker.permit() }
        #expect(changes.all == [.open])
    }

    @Test func clientErrorsAndRateLimitsSayNothingAboutHubSpotsHealth() throws {
        let breaker = breaker()
        for _ in 0..<20 { try call(breaker, .ignored) }
        #expect(breaker.currentState == .closed)
    }

    @Test func halfOpenProbesCloseItAgainWhenHubSpotRecovers() async throws {
        let changes = StateLog()
        let breaker = breaker(changes: changes)
        for _ in 0..<5 { try call(breaker, .failure) }
        #expect(breaker.currentState == .open)
        #expect(throws: CircuitOpen.self) { try breaker.permit() }
        clock.advance(by: .milliseconds(250))
        let first = try breaker.permit()
        let second = try breaker.permit()
        #expect(throws: CircuitOpen.self) { try breaker.permit() }  // only two probes at once
        breaker.record(.success, for: first)
        breaker.record(.success, for: second)
        #expect(breaker.currentState == .closed)
        #expect(changes.all == [.open, .halfOpen, .closed])
    }

    @Test func aFailedProbeOpensItAgain() async throws {
        let breaker = breaker()
        for _ in 0..<5 { try call(breaker, .failure) }
        clock.advance(by: .milliseconds(250))
        try call(breaker, .failure)
        #expect(breaker.currentState == .open)
        #expect(throws: CircuitOpen.self) { try breaker.permit() }
    }
}

/// An instant that moves only when told: a component's `now` in tests, instead of sleeping.
final class ManualInstant: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    var now: ContinuousClock.Instant { instant.withLock { $0 } }
    func advance(by duration: Duration) { instant.withLock { $0 += duration } }
}

/// State changes a breaker announced.
final class StateLog: Sendable {
    private let states = Mutex<[CircuitBreaker.State]>([])
    func append(_ state: CircuitBreaker.State) { states.withLock { $0.append(state) } }
    var all: [CircuitBreaker.State] { states.withLock { $0 } }
}
