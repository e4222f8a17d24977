import Logging
import RedisClient

/// The state Redis must never evict: an acknowledged job, webhook event or idempotency record
/// that Redis evicts under memory pressure is lost after the gateway said yes. At start its
/// `maxmemory-policy` is read; any policy but `noeviction` stops the gateway with a message
/// naming the fix, unless `--allow-evicting-state-redis`.
enum StateRedisPolicy {
    struct Evicting: Error, CustomStringConvertible {
        var policy: String
        var shared: Bool
        var description: String {
            "the state Redis evicts keys (maxmemory-policy \(policy)), so acknowledged jobs, webhook events and idempotency records could be lost under memory pressure"
                + (shared
                    ? "; give the caches a Redis of their own (--cache-redis-url, allkeys-lru) and set the state Redis (--state-redis-url) to noeviction with AOF"
                    : "; set its maxmemory-policy to noeviction (with AOF)")
                + ", or start with --allow-evicting-state-redis to accept the risk (docs/operations.md, \"Redis: state and cache\")"
        }
    }

    /// How long the check waits for Redis at start (it is skipped, with a warning, past that).
    static let timeout: Duration = .seconds(10)

    static func check(_ redis: RedisClient, allowEvicting: Bool, shared: Bool, logger: Logger) async throws {
        let policy: String
        do {
            try await redis.waitUntilConnected(timeout: timeout)
            let reply = try await redis.send(
                "CONFIG", [.init("GET"), .init("maxmemory-policy")], timeout: timeout)
            guard let values = reply.array, values.count >= 2, let value = values[1].string else {
                throw RedisServerError(message: "ERR no maxmemory-policy in CONFIG GET's answer")
            }
            policy = value
        } catch {
            // A managed Redis may refuse CONFIG, or Redis may be away at start: say what to check.
            logger.warning(
                "could not read the state Redis's maxmemory-policy; make sure it is noeviction, or acknowledged writes can be evicted",
                metadata: ["error": "\(error)"])
            return
        }
        guard policy != "noeviction" else { return }
        let evicting = Evicting(policy: policy, shared: shared)
        if allowEvicting {
            logger.warning("\(evicting.description)", metadata: ["policy": "\(policy)"])
            return
        }
        throw evicting
    }
}
