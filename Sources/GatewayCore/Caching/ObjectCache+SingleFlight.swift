import Foundation
import HubSpotAPI
import Logging
import RedisClient
import Synchronization
import TimeConversions

/// One fetch per missing entry on this replica, however many readers wait for it.
extension ObjectCache {
    // MARK: Single flight

    func singleFlight(_ key: String, _ work: @escaping @Sendable () async throws -> HubSpotObject?) async throws
        -> HubSpotObject?
    {
        let task: Task<HubSpotObject?, any Error> = inFlight.withLock { flights in
            if let running = flights[key] { return running }
            let task = Task { try await work() }
            flights[key] = task
            return task
        }
        defer { _ = inFlight.withLock { flights in flights[key] == task ? flights.removeValue(forKey: key) : nil } }
        return try await task.value
    }
}
