import Synchronization

/// How far a shifted time source (`TimeSource.shifted`) runs ahead of the machine's clock.
/// It only grows: time never goes back for what reads it.
public final class ClockShift: Sendable {
    private let shift = Mutex<Duration>(.zero)

    public init() {}

    /// How far ahead of the machine's clock this time runs now.
    public var amount: Duration { shift.withLock { $0 } }

    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a clock does not go back")
        shift.withLock { $0 += duration }
    }
}
