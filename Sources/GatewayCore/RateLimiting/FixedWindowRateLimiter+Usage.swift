import Foundation
import Logging
import RedisClient
import Synchronization
import Time

/// The budget's use, for operators (AdminService, /metrics).
extension FixedWindowRateLimiter {
    /// How much of a bucket the fleet has used, for operators.
    public struct Usage: Sendable {
        /// `general`, `search` or `daily`.
        public var bucket: String
        public var used: Int
        public var limit: Int
    }

    /// Fleet-wide use of the current general and search windows and of today, read from Redis
    /// (empty without Redis or when it does not answer).
    public func usage() async -> [Usage] {
        guard let redis else { return [] }
        let now = time.wallMilliseconds
        func key(_ bucket: String, _ windowMs: Int64) -> String {
            "\(configuration.keyPrefix):\(bucket):\(now - now % windowMs)"
        }
        var usage: [Usage] = []
        let buckets: [(String, Int64, Int)] = [
            ("general", 1000, configuration.generalPerSecond),
            ("search", Int64(configuration.windowMilliseconds(.search)), 1),
            ("daily", 86_400_000, configuration.dailyLimit),
        ]
        for (bucket, window, limit) in buckets where limit > 0 {
            do {
                let value = try await redis.get(.init(key(bucket, window)), timeout: configuration.redisTimeout)
                usage.append(
                    Usage(
                        bucket: bucket, used: value.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0,
                        limit: limit))
            } catch {
                return usage
            }
        }
        return usage
    }

    /// The replica count the local fallback divides the budget by (learned from Redis).
    public var knownReplicaCount: Int { state.withLock { $0.replicas } }
}
