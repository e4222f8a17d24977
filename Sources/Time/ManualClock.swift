import Foundation
import Synchronization

/// A clock whose time passes only when `advance` is called: tests of behaviour in time (a
/// window that fills, an entry that ages, a retry that waits) move it instead of sleeping.
/// Its monotonic instants are `ContinuousClock` instants, so the deadlines the rest of the code
/// takes work unchanged; its wall time starts at `startingAt`.
///
/// Sleepers are resumed in the order of their deadlines as time is moved past them. A test
/// that drives many tasks waits until all of them sleep (`waitForSleepers`) before it moves
/// the clock, which makes the order of events independent of the machine's speed.
public final class ManualClock: Sendable {
    private struct Sleeper {
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Watcher {
        /// Given the number of sleepers, whether the watcher may go on.
        var condition: @Sendable (Int) -> Bool
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var offset: Duration = .zero
        var sleepers: [UInt64: Sleeper] = [:]
        var nextID: UInt64 = 0
        var watchers: [Watcher] = []

        /// Watchers whose condition holds, taken out of the list. Each condition is asked once:
        /// it may read state that changes meanwhile, and a watcher taken out must be the one resumed.
        mutating func satisfiedWatchers() -> [Watcher] {
            let count = sleepers.count
            var ready: [Watcher] = []
            var waiting: [Watcher] = []
            for watcher in watchers {
                if watcher.condition(count) { ready.append(watcher) } else { waiting.append(watcher) }
            }
            watchers = waiting
            return ready
        }
    }

    private let origin: ContinuousClock.Instant
    private let wallOrigin: Int64
    private let state = Mutex(State())

    /// A clock at `origin`'s instant whose wall time reads `startingAt` (ms since 1970). The
    /// default is the start of a UTC second, so tests of one-second windows start at a window's edge.
    public init(startingAt wallMilliseconds: Int64 = 1_800_000_000_000) {
        self.origin = .now
        self.wallOrigin = wallMilliseconds
    }

    public var now: ContinuousClock.Instant { origin + state.withLock { $0.offset } }

    public var wallMilliseconds: Int64 { wallOrigin + state.withLock { $0.offset }.milliseconds }

    /// How much time has been moved on since the clock was made.
    public var elapsed: Duration { state.withLock { $0.offset } }

    /// Tasks sleeping on this clock now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// The earliest deadline of a sleeping task.
    public var nextDeadline: ContinuousClock.Instant? { state.withLock { $0.sleepers.values.map(\.deadline).min() } }

    /// Suspends until the clock is moved to `deadline` or past it.
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (resumeNow, ready) = state.withLock { state -> (Bool, [Watcher]) in
                    if Task.isCancelled { return (true, []) }
                    if deadline <= origin + state.offset { return (true, []) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return (false, state.satisfiedWatchers())
                }
                if resumeNow {
                    if Task.isCancelled {
                        continuation.resume(throwing: CancellationError())
                    } else {
                        continuation.resume()
                    }
                }
                for watcher in ready { watcher.continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time on by `duration`, waking every sleeper whose deadline it reaches (earliest first).
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a clock does not go back")
        let due = state.withLock { state -> [Sleeper] in
            state.offset += duration
            let now = origin + state.offset
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers[id] = nil }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Moves time on to `instant` (no change when it is not ahead).
    public func advance(to instant: ContinuousClock.Instant) {
        let now = self.now
        if instant > now { advance(by: instant - now) }
    }

    /// Moves time on to the earliest sleeper's deadline and wakes it (and any due with it);
    /// false when nobody sleeps.
    @discardableResult
    public func advanceToNextDeadline() -> Bool {
        guard let next = nextDeadline else { return false }
        advance(by: max(.zero, next - now))
        return true
    }

    /// Suspends until at least `count` tasks sleep on this clock (a condition, not a delay).
    public func waitForSleepers(_ count: Int) async {
        await waitUntil { $0 >= count }
    }

    /// Suspends until `condition`, given the number of tasks sleeping on this clock, holds. It is
    /// checked whenever a task starts sleeping and on `recheck()` (for conditions on other state).
    public func waitUntil(_ condition: @escaping @Sendable (_ sleepers: Int) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if condition(state.sleepers.count) { return true }
                state.watchers.append(Watcher(condition: condition, continuation: continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Checks the waiting conditions again (something they read besides the sleepers changed).
    public func recheck() {
        for watcher in state.withLock({ $0.satisfiedWatchers() }) { watcher.continuation.resume() }
    }
}
