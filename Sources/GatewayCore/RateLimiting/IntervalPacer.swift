import Synchronization
import Time

/// Spaces one holder's calls at least `interval` apart (a background job's share of the budget,
/// e.g. at most one search a second for the reconciler), on top of the fleet's limiter. A zero
/// interval never waits.
public final class IntervalPacer: Sendable {
    public let interval: Duration
    private let time: TimeSource
    private let next: Mutex<ContinuousClock.Instant?> = Mutex(nil)

    public init(interval: Duration, time: TimeSource = .system) {
        self.interval = interval
        self.time = time
    }

    /// At most `perSecond` calls a second (zero or less: no pacing).
    public convenience init(perSecond: Double, time: TimeSource = .system) {
        self.init(interval: perSecond > 0 ? .nanoseconds(Int64(1_000_000_000 / perSecond)) : .zero, time: time)
    }

    /// Waits for this holder's next slot and takes it.
    public func wait() async throws {
        guard interval > .zero else { return }
        let now = time.now
        let slot = next.withLock { next in
            let slot = max(now, next ?? now)
            next = slot + interval
            return slot
        }
        if slot > now { try await time.sleep(until: slot) }
    }
}
