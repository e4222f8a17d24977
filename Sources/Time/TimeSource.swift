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
        case shifted(ClockShift)
    }

    let kind: Kind

    /// The machine's clocks (`ContinuousClock`, `Date`).
    public static let system = TimeSource(kind: .system)

    /// Time that passes only when `clock` is advanced.
    public static func manual(_ clock: ManualClock) -> TimeSource { TimeSource(kind: .manual(clock)) }

    /// The machine's time, moved forward by `shift` (a separate process whose clock a test moves
    /// through an API, e.g. the simulator's `/_sim/clock`).
    public static func shifted(_ shift: ClockShift) -> TimeSource { TimeSource(kind: .shifted(shift)) }

    /// Whether this is the machine's own time, unshifted.
    public var isSystem: Bool {
        if case .system = kind { return true }
        return false
    }

    /// Moves this time forward by `duration`; false for the system's, which nobody moves.
    @discardableResult
    public func moveForward(by duration: Duration) -> Bool {
        switch kind {
        case .system: return false
        case .manual(let clock): clock.advance(by: duration)
        case .shifted(let shift): shift.advance(by: duration)
        }
        return true
    }

    /// The monotonic reading, for durations and deadlines.
    public var now: ContinuousClock.Instant {
        switch kind {
        case .system: return .now
        case .manual(let clock): return clock.now
        case .shifted(let shift): return .now + shift.amount
        }
    }

    /// Milliseconds since 1970 by this source.
    public var wallMilliseconds: Int64 {
        switch kind {
        case .system: return Date().epochMilliseconds
        case .manual(let clock): return clock.wallMilliseconds
        case .shifted(let shift): return Date().epochMilliseconds + shift.amount.milliseconds
        }
    }

    /// The wall time a shared store must use instead of its own clock (a Redis script's `TIME`),
    /// or nil when the store's own clock is the right one (the system source).
    public var imposedWallMilliseconds: Int64? {
        switch kind {
        case .system: return nil
        case .manual, .shifted: return wallMilliseconds
        }
    }

    /// Suspends until `deadline` by this source (throws `CancellationError` when cancelled).
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        switch kind {
        case .system: try await Task.sleep(until: deadline, clock: .continuous)
        case .manual(let clock): try await clock.sleep(until: deadline)
        case .shifted(let shift):
            // A shift made while asleep does not wake the sleeper early (nothing needs it to).
            try await Task.sleep(until: deadline - shift.amount, clock: .continuous)
        }
    }

    /// Suspends for `duration` by this source.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}
