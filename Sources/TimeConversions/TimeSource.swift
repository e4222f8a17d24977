import Foundation

/// The time a component reads and waits on: the machine's own, or a `ManualClock` that a test
/// moves by hand, so that behaviour in time (windows, lifetimes, retry waits) can be tested
/// without depending on how fast the machine runs.
///
/// One value carries both readings a component needs: a monotonic instant for durations and
/// deadlines, and wall-clock milliseconds for what is shared with other processes (Redis
/// entries, HubSpot's headers).
public struct TimeSource: Sendable {
    enum Kind: Sendable {
        case system
        case manual(ManualClock)
    }

    let kind: Kind

    /// The machine's clocks (`ContinuousClock`, `Date`).
    public static let system = TimeSource(kind: .system)

    /// Time that passes only when `clock` is advanced.
    public static func manual(_ clock: ManualClock) -> TimeSource { TimeSource(kind: .manual(clock)) }

    /// The monotonic reading, for durations and deadlines.
    @inlinable public var now: ContinuousClock.Instant { nowInstant() }

    @usableFromInline func nowInstant() -> ContinuousClock.Instant {
        switch kind {
        case .system: return .now
        case .manual(let clock): return clock.now
        }
    }

    /// Milliseconds since 1970 by this source.
    public var wallMilliseconds: Int64 {
        switch kind {
        case .system: return Date().epochMilliseconds
        case .manual(let clock): return clock.wallMilliseconds
        }
    }

    /// The wall time a shared store must use instead of its own clock (a Redis script's `TIME`),
    /// or nil when the store's own clock is the right one (the system source).
    public var imposedWallMilliseconds: Int64? {
        switch kind {
        case .system: return nil
        case .manual(let clock): return clock.wallMilliseconds
        }
    }

    /// Suspends until `deadline` by this source (throws `CancellationError` when cancelled).
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        switch kind {
        case .system: try await Task.sleep(until: deadline, clock: .continuous)
        case .manual(let clock): try await clock.sleep(until: deadline)
        }
    }

    /// Suspends for `duration` by this source.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}
