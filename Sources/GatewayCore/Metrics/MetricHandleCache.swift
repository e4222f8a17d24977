import CoreMetrics
import Synchronization

/// Metric handles by key, made once: making a handle goes through the metrics factory's locked
/// registry, too slow to repeat for every cache hit or RPC counted.
public final class MetricHandleCache<Key: Hashable & Sendable, Handles: Sendable>: Sendable {
    private let handles = Mutex<[Key: Handles]>([:])

    public init() {}

    /// The handles for `key`, made by `make` the first time.
    public func handles(for key: Key, make: () -> Handles) -> Handles {
        handles.withLock { handles in
            if let known = handles[key] { return known }
            let made = make()
            handles[key] = made
            return made
        }
    }
}

extension CoreMetrics.Timer {
    /// Records `duration` (swift-metrics takes nanoseconds).
    public func record(_ duration: Duration) {
        recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}
