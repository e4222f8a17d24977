import Foundation
import HubSpotAPI
import Logging
import RedisClient
import Synchronization
import Time

/// One fetch per missing entry on this replica, however many readers wait for it.
extension ObjectCache {
    // MARK: Single flight

    func singleFlight(_ key: String, _ work: @escaping @Sendable () async throws -> HubSpotObject?) async throws
        -> HubSpotObject?
    {
        let task: Task<HubSpotObject?, any Error> = inFlight.withLock { flights in
            if let running = flights[key] {
                flights[key]!.readers += 1
                return running.task
            }
            let task = Task { try await work() }
            flights[key] = (task, 1)
            return task
        }
        defer {
            _ = inFlight.withLock { flights in flights[key]?.task == task ? flights.removeValue(forKey: key) : nil }
        }
        return try await task.value
    }

    /// How many reads wait for the fetch of `key` (`type\0id\0properties`) now.
    func readersWaiting(for key: String) -> Int { inFlight.withLock { $0[key]?.readers ?? 0 } }
}
