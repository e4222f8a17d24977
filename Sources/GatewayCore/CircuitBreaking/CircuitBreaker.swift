import Logging
import Synchronization
import Time

/// Stops calling HubSpot while it is failing: closed → open (fail fast) → half-open (a few
/// probes decide) → closed. Failures are counted over a rolling window so the breaker works at
/// the gateway's low call rates (a handful of calls per second).
public final class CircuitBreaker: Sendable {
    public enum State: String, Sendable, Equatable {
        case closed
        case open
        case halfOpen = "half-open"
    }

    public struct Configuration: Sendable {
        /// The window failures and successes are counted over.
        public var window: Duration = .seconds(10)
        /// Opening needs at least this many failures in the window…
        public var minimumFailures = 5
        /// …and at least this share of the window's calls failing.
        public var failureRateThreshold = 0.5
        /// How long the breaker stays open before it lets probes through.
        public var openInterval: Duration = .seconds(5)
        /// Probes allowed at once while half-open; this many successes close the breaker.
        public var halfOpenProbes = 2

        public init() {}
    }

    /// What a finished call tells the breaker.
    public enum Outcome: Sendable {
        case success
        /// 5xx, timeout or connection error.
        case failure
        /// Neither (4xx such as 404 or 429 say nothing about HubSpot's health).
        case ignored
    }

    public let configuration: Configuration
    private let logger: Logger
    private let metrics: GatewayMetrics
    private let onStateChange: @Sendable (State) -> Void
    private let state: Mutex<Inner>
    /// The time the breaker reads (injectable: tests move it instead of sleeping).
    private let now: @Sendable () -> ContinuousClock.Instant

    private struct Inner {
        var state: State = .closed
        var outcomes: [(at: ContinuousClock.Instant, failed: Bool)] = []
        var openedAt: ContinuousClock.Instant?
        var probesInFlight = 0
        var probeSuccesses = 0
    }

    public init(
        configuration: Configuration = .init(), metrics: GatewayMetrics = GatewayMetrics(),
        logger: Logger = Logger(label: "breaker"),
        onStateChange: @escaping @Sendable (State) -> Void = { _ in },
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.now = now
        self.configuration = configuration
        self.metrics = metrics
        metrics.gauge(GatewayMetrics.Name.breakerState, [], 0)
        self.logger = logger
        self.onStateChange = onStateChange
        self.state = Mutex(Inner())
    }

    public var currentState: State {
        state.withLock { inner in
            if inner.state == .open, let opened = inner.openedAt,
                now() - opened >= configuration.openInterval
            {
                return .halfOpen
            }
            return inner.state
        }
    }

    /// A permission to call HubSpot; report the outcome with `record`.
    public struct Permit: Sendable {
        fileprivate let isProbe: Bool
    }

    /// Lets a call through, or throws `CircuitOpen` at once (no HubSpot call, no budget spent).
    public func permit() throws(CircuitOpen) -> Permit {
        let now = self.now()
        let (result, changed): (Result<Permit, CircuitOpen>, State?) = state.withLock { inner in
            switch inner.state {
            case .closed:
                return (.success(Permit(isProbe: false)), nil)
            case .open:
                let opened = inner.openedAt ?? now
                let elapsed = now - opened
                guard elapsed >= configuration.openInterval else {
                    return (.failure(CircuitOpen(retryAfter: configuration.openInterval - elapsed)), nil)
                }
                inner.state = .halfOpen
                inner.probesInFlight = 1
                inner.probeSuccesses = 0
                return (.success(Permit(isProbe: true)), .halfOpen)
            case .halfOpen:
                guard inner.probesInFlight < configuration.halfOpenProbes else {
                    return (.failure(CircuitOpen(retryAfter: .milliseconds(200))), nil)
                }
                inner.probesInFlight += 1
                return (.success(Permit(isProbe: true)), nil)
            }
        }
        if let changed { announce(changed) }
        if case .failure = result { metrics.increment(GatewayMetrics.Name.breakerRejections) }
        return try result.get()
    }

    /// Throws `CircuitOpen` at once when `permit()` would refuse now, without taking a permit:
    /// asked before a call waits for budget, so that while HubSpot is down callers are answered
    /// in microseconds and spend none of the fleet's budget.
    public func refuseIfOpen() throws(CircuitOpen) {
        let now = self.now()
        let refusal: CircuitOpen? = state.withLock { inner in
            switch inner.state {
            case .closed:
                return nil
            case .open:
                let elapsed = now - (inner.openedAt ?? now)
                return elapsed >= configuration.openInterval
                    ? nil : CircuitOpen(retryAfter: configuration.openInterval - elapsed)
            case .halfOpen:
                return inner.probesInFlight < configuration.halfOpenProbes
                    ? nil : CircuitOpen(retryAfter: .milliseconds(200))
            }
        }
        if let refusal {
            metrics.increment(GatewayMetrics.Name.breakerRejections)
            throw refusal
        }
    }

    /// Reports how a permitted call ended.
    public func record(_ outcome: Outcome, for permit: Permit) {
        let now = self.now()
        let changed: State? = state.withLock { inner in
            if permit.isProbe {
                guard inner.state == .halfOpen else { return nil }
                inner.probesInFlight = max(0, inner.probesInFlight - 1)
                switch outcome {
                case .failure:
                    inner.state = .open
                    inner.openedAt = now
                    return .open
                case .success:
                    inner.probeSuccesses += 1
                    guard inner.probeSuccesses >= configuration.halfOpenProbes else { return nil }
                    inner.state = .closed
                    inner.outcomes.removeAll()
                    return .closed
                case .ignored:
                    return nil
                }
            }
            guard outcome != .ignored, inner.state == .closed else { return nil }
            inner.outcomes.append((now, outcome == .failure))
            inner.outcomes.removeAll { now - $0.at > configuration.window }
            let failures = inner.outcomes.filter(\.failed).count
            guard failures >= configuration.minimumFailures,
                Double(failures) / Double(inner.outcomes.count) >= configuration.failureRateThreshold
            else { return nil }
            inner.state = .open
            inner.openedAt = now
            return .open
        }
        if let changed { announce(changed) }
    }

    private func announce(_ state: State) {
        logger.notice("circuit breaker \(state.rawValue)", metadata: ["state": "\(state.rawValue)"])
        metrics.gauge(GatewayMetrics.Name.breakerState, [], state == .closed ? 0 : state == .halfOpen ? 1 : 2)
        metrics.increment(GatewayMetrics.Name.breakerTransitions, [("to", state.rawValue)])
        onStateChange(state)
    }
}

/// The breaker is open: HubSpot was failing; the call was not made.
public struct CircuitOpen: Error, CustomStringConvertible, Sendable {
    public var retryAfter: Duration
    public var description: String {
        "HubSpot is failing; calls are suspended for \(retryAfter.milliseconds) ms (circuit breaker open)"
    }
}
