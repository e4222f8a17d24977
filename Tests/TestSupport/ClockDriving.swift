import Synchronization
import Time

/// Runs `tasks` concurrently on `clock` and moves it on whenever every one of them (and
/// `alsoSleeping` other tasks that always come back to the clock, e.g. heartbeats) sleeps on
/// it: to the earliest sleeper's deadline, and no further. Time passes only while nothing can
/// run, so what happens in each window is the same on a quiet machine and a loaded one.
/// Returns once every task has returned.
public func runMovingClock(
    _ clock: ManualClock, alsoSleeping: Int = 0, _ tasks: [@Sendable () async -> Void]
) async {
    let live = LiveCount(tasks.count)
    await withTaskGroup(of: Void.self) { group in
        for task in tasks {
            group.addTask {
                await task()
                live.leave()
                clock.recheck()
            }
        }
        group.addTask {
            while live.value > 0 {
                await clock.waitUntil { sleepers in live.value == 0 || sleepers >= live.value + alsoSleeping }
                guard live.value > 0 else { return }
                clock.advanceToNextDeadline()
            }
        }
    }
}

/// How many of the driven tasks still run.
private final class LiveCount: Sendable {
    private let count: Atomic<Int>
    init(_ value: Int) { count = Atomic(value) }
    var value: Int { count.load(ordering: .sequentiallyConsistent) }
    func leave() { count.subtract(1, ordering: .sequentiallyConsistent) }
}
