import Foundation
import HubSpotAPI
import Logging
import RedisClient
import Synchronization
import Time

/// Invalidations Redis could not take, kept and made once it can.
extension ObjectCache {
    // MARK: Invalidations kept through a Redis outage

    /// Objects whose invalidation has not reached Redis yet (and whether there were too many
    /// to remember one by one). Each carries the number of the latest failed attempt, so a
    /// retry that raced with a newer failure does not forget the newer one.
    struct PendingInvalidations {
        let capacity: Int
        var objects: [String: UInt64] = [:]
        var attempts: UInt64 = 0
        /// More than `capacity` were pending: the whole cache is fenced instead.
        var overflowed = false

        var isEmpty: Bool { objects.isEmpty && !overflowed }
        var count: Int { overflowed ? capacity : objects.count }

        mutating func add(_ objectKey: String) -> Int {
            attempts += 1
            if !overflowed {
                objects[objectKey] = attempts
                if objects.count > capacity {
                    objects.removeAll()
                    overflowed = true
                }
            }
            return count
        }

        /// Forgets the object's pending invalidation if no newer one failed since `attempt`.
        mutating func made(_ objectKey: String, attempt: UInt64) {
            if objects[objectKey] == attempt { objects.removeValue(forKey: objectKey) }
        }

        func blocks(_ objectKey: String) -> Bool { overflowed || objects[objectKey] != nil }
    }

    /// How many invalidations wait for Redis on this replica.
    public var pendingInvalidationCount: Int { pending.withLock { $0.count } }

    /// Makes the kept invalidations in Redis (only `objectKey`'s, when given); throws, keeping
    /// what is left, when Redis fails. The fence of an overflow always goes first.
    func flushPendingInvalidations(_ redis: RedisClient, only objectKey: String? = nil) async throws {
        let (objects, overflowed) = pending.withLock { state in
            (objectKey.map { key in state.objects[key].map { [key: $0] } ?? [:] } ?? state.objects, state.overflowed)
        }
        if overflowed {
            // Too many to name: every entry of the old generation is abandoned.
            _ = try await redis.incr(.init(generationKey), timeout: configuration.redisTimeout)
            _ = try await redis.publish(
                .init(invalidationChannel), .init(Self.everythingMessage), timeout: configuration.redisTimeout)
            pending.withLock { $0.overflowed = false }
            logger.notice("cache fenced: too many invalidations were kept through a Redis outage")
        }
        for (key, attempt) in objects {
            guard let separator = key.firstIndex(of: "\u{0}") else { continue }
            try await invalidateInRedis(
                redis, type: String(key[..<separator]), id: String(key[key.index(after: separator)...]))
            pending.withLock { $0.made(key, attempt: attempt) }
        }
        if !objects.isEmpty || overflowed {
            logger.notice("invalidations kept through a Redis outage are made", metadata: ["count": "\(objects.count)"])
            metrics.gauge(GatewayMetrics.Name.cachePendingInvalidations, [], Double(pending.withLock { $0.count }))
        }
    }

    /// Retries invalidations kept through a Redis outage every `pendingInvalidationRetryInterval`
    /// until cancelled, and once more when cancelled. Returns at once without Redis.
    public func runPendingInvalidations() async {
        guard let redis else { return }
        while !Task.isCancelled {
            if !pending.withLock({ $0.isEmpty }) { try? await flushPendingInvalidations(redis) }
            try? await Task.sleep(for: configuration.pendingInvalidationRetryInterval)
        }
        if !pending.withLock({ $0.isEmpty }) { try? await flushPendingInvalidations(redis) }
    }
}
