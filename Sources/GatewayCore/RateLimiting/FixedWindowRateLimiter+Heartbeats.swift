import ServiceLifecycle
import Foundation
import Logging
import RedisClient
import Synchronization
import Time

/// Replica heartbeats: the live-replica count the local fallback divides the budget by.
extension FixedWindowRateLimiter {
    // MARK: Replica count (for the fallback share)

    /// The replica's heartbeats, until cancelled or the replica shuts down.
    public func run() async { await cancelWhenGracefulShutdown { await self.runHeartbeats() } }

    /// Announces this replica every `replicaHeartbeatInterval` until cancelled, so idle
    /// replicas are counted too. Run it for the replica's lifetime (the gateway's ServiceGroup).
    public func runHeartbeats() async {
        guard let redis else { return }
        while !Task.isCancelled {
            do {
                try await heartbeat(redis)
            } catch {
                logger.debug("replica heartbeat failed", metadata: ["error": "\(error)"])
            }
            try? await time.sleep(for: configuration.replicaHeartbeatInterval)
        }
    }

    func heartbeatIfDue(_ redis: RedisClient) async throws {
        let now = time.now
        let due: Bool = state.withLock { state in
            guard let last = state.lastHeartbeat else { return true }
            return now - last >= configuration.replicaHeartbeatInterval
        }
        guard due else { return }
        try await heartbeat(redis)
    }

    func heartbeat(_ redis: RedisClient) async throws {
        let reply = try await redis.evaluate(
            Self.heartbeatScript,
            arguments: [
                .init(configuration.keyPrefix + ":replicas"), .init(replicaID),
                .init(Int(configuration.replicaTimeToLive.milliseconds)), .init(imposedNow),
            ], timeout: configuration.redisTimeout)
        guard case .array(let values) = reply, values.count == 2, case .integer(let count) = values[0],
            case .integer(let fresh) = values[1]
        else { return }
        let now = time.now
        state.withLock { state in
            state.lastHeartbeat = now
            // A set that did not exist (the fleet's first replica, or a Redis that lost its
            // data) starts the count again: the other replicas have not announced themselves.
            if fresh == 1 { state.firstHeartbeat = now }
            let first = state.firstHeartbeat ?? now
            state.firstHeartbeat = first
            // Until every live replica had time to announce itself, the count may be low;
            // erring high (what was known before, at least the assumed count) keeps the
            // fallback and the recovery limit under the budget.
            let settled = now - first >= configuration.replicaTimeToLive
            state.replicas = max(
                1, settled ? Int(count) : max(Int(count), state.replicas, configuration.assumedReplicaCount))
        }
    }

    /// The time a script must use instead of Redis's `TIME` (ms since 1970), as its argument;
    /// `0`: Redis's own clock. Only a manual clock (tests) imposes one.
    var imposedNow: Int { Int(time.imposedWallMilliseconds ?? 0) }

    /// Announces this replica (scored by Redis's clock, or ARGV[4] when not 0), forgets silent
    /// ones, counts the rest. Returns {count, 1 if the set was new}.
    static let heartbeatScript = RedisScript(
        """
        local nowMs = tonumber(ARGV[4])
        if nowMs == 0 then
          local t = redis.call('TIME')
          nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local fresh = redis.call('EXISTS', ARGV[1]) == 0 and 1 or 0
        redis.call('ZADD', ARGV[1], nowMs, ARGV[2])
        redis.call('ZREMRANGEBYSCORE', ARGV[1], '-inf', nowMs - tonumber(ARGV[3]))
        redis.call('PEXPIRE', ARGV[1], tonumber(ARGV[3]) * 2)
        return {redis.call('ZCARD', ARGV[1]), fresh}
        """)
}
