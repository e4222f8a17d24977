import Foundation
import Logging
import RedisClient
import Synchronization

/// The fleet-wide HubSpot budget: fixed one-second windows (and a UTC-day window) counted in
/// the Redis every replica shares, on Redis's clock. `acquire` waits for a slot until the
/// caller's deadline; when Redis is unreachable the replica uses its share of the budget
/// locally and goes back to Redis by itself.
public final class FixedWindowRateLimiter: Sendable {
    /// Where the last decision was made.
    public enum Mode: Sendable, Equatable {
        case redis
        case local(replicas: Int)
    }

    public let configuration: RateLimiterConfiguration
    private let redis: RedisClient?
    /// This replica's name in the fleet's heartbeat set.
    public let replicaID: String
    private let logger: Logger
    private let metrics: GatewayMetrics
    private let state: Mutex<State>

    private struct State {
        var localUntil: ContinuousClock.Instant?
        var replicas: Int
        var lastHeartbeat: ContinuousClock.Instant?
        var firstHeartbeat: ContinuousClock.Instant?
        var local = LocalWindows()
        var localPauseUntil: [UpstreamCallKind: ContinuousClock.Instant] = [:]
        var mode: Mode = .redis
        /// After a switch between Redis and local decisions, nothing is granted before this
        /// wall-clock millisecond (the end of the window the switch happened in), so the
        /// window's grants of the old mode and the new one never add up.
        var holdUntilMs: Int64 = 0
    }

    public init(redis: RedisClient?, configuration: RateLimiterConfiguration = .init(), replicaID: String = UUID().uuidString,
                metrics: GatewayMetrics = GatewayMetrics(), logger: Logger = Logger(label: "ratelimit")) {
        self.redis = redis
        self.metrics = metrics
        self.configuration = configuration
        self.replicaID = replicaID
        self.logger = logger
        self.state = Mutex(State(replicas: max(1, configuration.assumedReplicaCount), mode: redis == nil ? .local(replicas: 1) : .redis))
    }

    /// Where decisions are made right now.
    public var mode: Mode { state.withLock { $0.mode } }

    /// Waits for a slot in every bucket `kind` belongs to. Throws `RateLimitExceeded` (with how
    /// long to wait) without waiting when the next slot is past `deadline`.
    ///
    /// A `paced` call (a coalesced batch) takes the k-th slot of a window no earlier than k/n
    /// of the way into it, so that a busy window's calls are spread over it and each batch
    /// collects what arrived since the last one, instead of all slots going at the window's
    /// start to small batches. An idle window still grants at once.
    @discardableResult
    public func acquire(_ kind: UpstreamCallKind, priority: CallPriority = .interactive, paced: Bool = false, deadline: ContinuousClock.Instant) async throws -> RateLimitGrant {
        let started = ContinuousClock.now
        let bucket = [("bucket", kind.metricLabel)]
        var waited = false
        while true {
            let wait: Duration
            switch await decide(kind, priority, paced: paced) {
            case .granted(let grant):
                if waited { metrics.time(GatewayMetrics.Name.limiterWaitTime, bucket, .now - started) }
                return grant
            case .wait(let duration): wait = duration
            }
            let jitter = Duration.milliseconds(Int64.random(in: 0...max(0, configuration.waitJitter.milliseconds)))
            let wake = ContinuousClock.now + wait + jitter
            if wake > deadline {
                metrics.increment(GatewayMetrics.Name.limiterRefusals, bucket)
                throw RateLimitExceeded(kind: kind, retryAfter: wait)
            }
            if !waited { metrics.increment(GatewayMetrics.Name.limiterWaits, bucket) }
            waited = true
            try await Task.sleep(until: wake, clock: .continuous)
        }
    }

    /// Reads HubSpot's answer: a 429, or `X-HubSpot-RateLimit-Remaining: 0`, pauses the bucket
    /// for the whole fleet for the interval HubSpot states.
    public func observe(kind: UpstreamCallKind, status: Int, remaining: Int?, interval: Duration?) async {
        guard status == 429 || remaining == 0 else { return }
        let pause = interval ?? (kind == .search ? .seconds(1) : .seconds(10))
        logger.warning("HubSpot says the budget is spent; pausing the bucket", metadata: [
            "bucket": "\(kind)", "status": "\(status)", "pauseMs": "\(pause.milliseconds)",
        ])
        state.withLock { $0.localPauseUntil[kind] = .now + pause }
        if let redis {
            _ = try? await redis.set(.init(pauseKey(kind)), "1", expiration: .milliseconds(Int(max(1, pause.milliseconds))), timeout: configuration.redisTimeout)
        }
    }

    // MARK: Decisions

    private enum Decision {
        case granted(RateLimitGrant)
        case wait(Duration)
    }

    private func decide(_ kind: UpstreamCallKind, _ priority: CallPriority, paced: Bool) async -> Decision {
        if let hold = heldFor() { return .wait(hold) }
        if let redis, useRedisNow() {
            do {
                try await heartbeatIfDue(redis)
                if mode != .redis {
                    // Back from the local fallback: other replicas may still be on theirs.
                    try await startRecovery(redis)
                    backOnRedis()
                    if let hold = heldFor() { return .wait(hold) }
                }
                return try await decideInRedis(redis, kind, priority, paced: paced)
            } catch {
                fallBack(after: error)
                if let hold = heldFor() { return .wait(hold) }
            }
        }
        return decideLocally(kind, priority)
    }

    /// How long the current switch between Redis and local decisions still holds grants back.
    private func heldFor() -> Duration? {
        let left = state.withLock { $0.holdUntilMs } - Self.wallMilliseconds()
        return left > 0 ? .milliseconds(left) : nil
    }

    private func useRedisNow() -> Bool {
        state.withLock { state in
            guard let until = state.localUntil else { return true }
            return ContinuousClock.now >= until
        }
    }

    /// Milliseconds since 1970 on this replica's clock (Redis's clock decides while Redis is up).
    static func wallMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The end of the current one-second window (search windows divide it).
    private func windowEnd() -> Int64 {
        let now = Self.wallMilliseconds()
        return now - now % 1000 + 1000
    }

    private func backOnRedis() {
        state.withLock { state in
            state.localUntil = nil
            state.mode = .redis
            state.holdUntilMs = max(state.holdUntilMs, windowEnd())
        }
        logger.notice("rate limiter back on Redis")
        metrics.gauge(GatewayMetrics.Name.limiterLocalMode, [], 0)
    }

    /// Marks the fleet as recovering: while replicas may still decide locally, those on Redis
    /// leave room for the local shares (see `recoveryLimit`).
    private func startRecovery(_ redis: RedisClient) async throws {
        _ = try await redis.set(.init(configuration.keyPrefix + ":recovering"), "1",
                                expiration: .milliseconds(Int(max(1, configuration.recoveryPeriod.milliseconds))), timeout: configuration.redisTimeout)
    }

    private func fallBack(after error: any Error) {
        let (changed, replicas): (Bool, Int) = state.withLock { state in
            state.localUntil = .now + configuration.redisRetryInterval
            let mode = Mode.local(replicas: state.replicas)
            // Grants already made in Redis this window are unknown here: start at the next one.
            if state.mode == .redis { state.holdUntilMs = max(state.holdUntilMs, windowEnd()) }
            defer { state.mode = mode }
            return (state.mode != mode, state.replicas)
        }
        if changed {
            metrics.gauge(GatewayMetrics.Name.limiterLocalMode, [], 1)
            metrics.increment(GatewayMetrics.Name.redisFallbacks, [("component", "ratelimit")])
            logger.warning("Redis unavailable; rate limiting locally at this replica's share", metadata: [
                "error": "\(error)", "replicas": "\(replicas)",
            ])
        }
    }

    private func decideInRedis(_ redis: RedisClient, _ kind: UpstreamCallKind, _ priority: CallPriority, paced: Bool) async throws -> Decision {
        var arguments: [RESPArgument] = []
        let buckets = self.buckets(kind, priority)
        arguments.append(.init(buckets.count))
        arguments.append(.init(configuration.keyPrefix + ":recovering"))
        arguments.append(.init(Int(configuration.windowEndGuard.milliseconds)))
        arguments.append(.init(paced ? 1 : 0))
        arguments.append(.init(configuration.keyPrefix + ":incarnation"))
        for bucket in buckets {
            arguments.append(.init(bucket.key))
            arguments.append(.init(bucket.limit))
            arguments.append(.init(bucket.recoveryLimit))
            arguments.append(.init(bucket.windowMilliseconds))
            arguments.append(.init(bucket.everyNthWindow))
        }
        let reply = try await redis.evaluate(Self.acquireScript, arguments: arguments, timeout: configuration.redisTimeout)
        guard case .array(let values) = reply, values.count >= 2, case .integer(let granted) = values[0], case .integer(let waitMs) = values[1] else {
            throw RedisError.protocolError("unexpected reply of the rate-limit script: \(reply)")
        }
        guard granted == 1 else { return .wait(.milliseconds(max(1, waitMs))) }
        var window: Int?
        if values.count >= 3, case .integer(let start) = values[2] { window = Int(start) }
        return .granted(RateLimitGrant(window: window, local: false))
    }

    private struct Bucket {
        var key: String
        var limit: Int
        /// The limit while replicas may still be on their local fallback.
        var recoveryLimit: Int
        var windowMilliseconds: Int
        /// Only every n-th window may grant (bulk search: 2 leaves half for interactive callers).
        var everyNthWindow: Int
    }

    private func buckets(_ kind: UpstreamCallKind, _ priority: CallPriority) -> [Bucket] {
        let replicas = state.withLock { $0.replicas }
        let limit = configuration.perWindowLimit(kind, priority)
        let others = Double(replicas - 1) * configuration.localShare(kind, replicas: replicas)
        var buckets = [Bucket(key: configuration.keyPrefix + ":" + kind.metricLabel, limit: limit,
                              recoveryLimit: max(0, limit - Int(others.rounded(.up))),
                              windowMilliseconds: configuration.windowMilliseconds(kind),
                              everyNthWindow: kind == .search && priority == .bulk && configuration.interactiveReserve > 0 ? 2 : 1)]
        if configuration.dailyLimit > 0 {
            buckets.append(Bucket(key: configuration.keyPrefix + ":daily", limit: configuration.dailyLimit, recoveryLimit: configuration.dailyLimit,
                                  windowMilliseconds: 86_400_000, everyNthWindow: 1))
        }
        return buckets
    }

    private func pauseKey(_ kind: UpstreamCallKind) -> String {
        configuration.keyPrefix + ":" + (kind == .general ? "general" : "search") + ":pause"
    }

    /// Checks every bucket first and counts only when all have room, so a refused attempt
    /// costs nothing. Windows come from Redis's TIME, in milliseconds. Keys are built inside
    /// the script (one standalone Redis; not cluster-safe by design).
    /// No call is granted in the last `guard` ms of a window, so that a call reaches HubSpot
    /// in the second it was counted in.
    /// A paced call takes the k-th slot (k from 0) of the first bucket's window no earlier than
    /// k × window / limit into it.
    /// A Redis that lost its data (restarted empty, failed over to an empty replica) no longer
    /// knows what the fleet spent in the current window, while HubSpot does: the first call
    /// that finds the incarnation marker missing sets it and marks the current short windows
    /// full, so counting starts again at the next window. (The day's count is lost with the
    /// data; that is the one harm, see docs/operations.md.)
    /// ARGV: n, the recovery marker key, guard ms, paced (0/1), the incarnation marker key, then
    /// per bucket: key prefix, limit, limit while recovering, window milliseconds, every n-th window.
    /// Returns {1, 0, start of the first bucket's window in seconds} when granted, else
    /// {0, milliseconds until a slot may be free}.
    static let acquireScript = RedisScript("""
        local t = redis.call('TIME')
        local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local n = tonumber(ARGV[1])
        local recovering = redis.call('EXISTS', ARGV[2]) == 1
        local guard = tonumber(ARGV[3])
        local paced = ARGV[4] == '1'
        if redis.call('SET', ARGV[5], nowMs, 'NX') then
          local waitMs = 0
          for i = 1, n do
            local base = 6 + (i - 1) * 5
            local window = tonumber(ARGV[base + 3])
            if window < 60000 then
              local start = nowMs - (nowMs % window)
              redis.call('SET', ARGV[base] .. ':' .. start, ARGV[base + 1], 'PX', window + 5000)
              if start + window - nowMs > waitMs then waitMs = start + window - nowMs end
            end
          end
          return {0, math.max(1, waitMs)}
        end
        local keys = {}
        local waitMs = 0
        local firstStart = 0
        for i = 1, n do
          local base = 6 + (i - 1) * 5
          local prefix = ARGV[base]
          local limit = tonumber(ARGV[base + 1])
          if recovering then limit = tonumber(ARGV[base + 2]) end
          local window = tonumber(ARGV[base + 3])
          local nth = tonumber(ARGV[base + 4])
          local start = nowMs - (nowMs % window)
          if i == 1 then firstStart = start end
          local index = math.floor(start / window)
          if index % nth ~= 0 then
            local left = (nth - index % nth) * window + start - nowMs
            if left > waitMs then waitMs = left end
          end
          if window < 60000 and start + window - nowMs <= guard then
            local left = start + window - nowMs
            if left > waitMs then waitMs = left end
          end
          local key = prefix .. ':' .. start
          local count = tonumber(redis.call('GET', key) or '0')
          if count >= limit then
            local left = start + window - nowMs
            if left > waitMs then waitMs = left end
          elseif paced and i == 1 and limit > 0 then
            local earliest = start + math.floor(count * window / limit)
            if earliest - nowMs > waitMs then waitMs = earliest - nowMs end
          end
          local paused = redis.call('PTTL', prefix .. ':pause')
          if paused > waitMs then waitMs = paused end
          keys[i] = {key, window}
        end
        if waitMs > 0 then return {0, waitMs} end
        for i = 1, n do
          if redis.call('INCR', keys[i][1]) == 1 then
            redis.call('PEXPIRE', keys[i][1], keys[i][2] + 5000)
          end
        end
        return {1, 0, math.floor(firstStart / 1000)}
        """)

    // MARK: Replica count (for the fallback share)

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
            try? await Task.sleep(for: configuration.replicaHeartbeatInterval)
        }
    }

    private func heartbeatIfDue(_ redis: RedisClient) async throws {
        let due: Bool = state.withLock { state in
            guard let last = state.lastHeartbeat else { return true }
            return ContinuousClock.now - last >= configuration.replicaHeartbeatInterval
        }
        guard due else { return }
        try await heartbeat(redis)
    }

    private func heartbeat(_ redis: RedisClient) async throws {
        let reply = try await redis.evaluate(Self.heartbeatScript, arguments: [
            .init(configuration.keyPrefix + ":replicas"), .init(replicaID), .init(Int(configuration.replicaTimeToLive.milliseconds)),
        ], timeout: configuration.redisTimeout)
        guard case .array(let values) = reply, values.count == 2, case .integer(let count) = values[0], case .integer(let fresh) = values[1] else { return }
        state.withLock { state in
            let now = ContinuousClock.now
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
            state.replicas = max(1, settled ? Int(count) : max(Int(count), state.replicas, configuration.assumedReplicaCount))
        }
    }

    /// Announces this replica (scored by Redis's clock), forgets silent ones, counts the rest.
    /// Returns {count, 1 if the set was new}.
    static let heartbeatScript = RedisScript("""
        local t = redis.call('TIME')
        local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local fresh = redis.call('EXISTS', ARGV[1]) == 0 and 1 or 0
        redis.call('ZADD', ARGV[1], nowMs, ARGV[2])
        redis.call('ZREMRANGEBYSCORE', ARGV[1], '-inf', nowMs - tonumber(ARGV[3]))
        redis.call('PEXPIRE', ARGV[1], tonumber(ARGV[3]) * 2)
        return {redis.call('ZCARD', ARGV[1]), fresh}
        """)

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
        let now = Self.wallMilliseconds()
        func key(_ bucket: String, _ windowMs: Int64) -> String { "\(configuration.keyPrefix):\(bucket):\(now - now % windowMs)" }
        var usage: [Usage] = []
        let buckets: [(String, Int64, Int)] = [
            ("general", 1000, configuration.generalPerSecond),
            ("search", Int64(configuration.windowMilliseconds(.search)), 1),
            ("daily", 86_400_000, configuration.dailyLimit),
        ]
        for (bucket, window, limit) in buckets where limit > 0 {
            do {
                let value = try await redis.get(.init(key(bucket, window)), timeout: configuration.redisTimeout)
                usage.append(Usage(bucket: bucket, used: value.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0, limit: limit))
            } catch {
                return usage
            }
        }
        return usage
    }

    /// The replica count the local fallback divides the budget by (learned from Redis).
    public var knownReplicaCount: Int { state.withLock { $0.replicas } }

    // MARK: Local fallback

    private func decideLocally(_ kind: UpstreamCallKind, _ priority: CallPriority) -> Decision {
        let now = ContinuousClock.now
        let wall = Self.wallMilliseconds()
        return state.withLock { state in
            if let pause = state.localPauseUntil[kind], pause > now { return .wait(pause - now) }
            let replicas = redis == nil ? 1 : state.replicas
            if redis != nil { state.mode = .local(replicas: replicas) }
            if configuration.dailyLimit > 0, case .wait(let wait) = state.local.peekDaily(limit: max(1, configuration.dailyLimit / replicas), wallClock: wall) {
                return .wait(wait)
            }
            let decision: Decision
            switch kind {
            case .general:
                // This replica's share of the second; a share under 1 becomes one call per
                // ⌈1/share⌉ seconds.
                let share = Double(configuration.perWindowLimit(.general, priority)) / Double(replicas)
                let windowMs = share >= 1 ? 1000 : Int64((1 / share).rounded(.up)) * 1000
                decision = state.local.take(.general, limit: share >= 1 ? Int(share) : 1, windowMilliseconds: windowMs, wallClock: wall)
            case .search:
                // Spaced calls: at most one per replica in any rolling second, and no more
                // than the replica's share on average.
                let spacing = max(1000, Int64(configuration.windowMilliseconds(.search)) * Int64(replicas) * (priority == .bulk ? 2 : 1))
                decision = state.local.space(.search, spacingMilliseconds: spacing, wallClock: wall)
            }
            if case .granted = decision, configuration.dailyLimit > 0 { state.local.day.count += 1 }
            return decision
        }
    }

    /// Per-replica windows on the wall clock (aligned with the fleet's windows).
    private struct LocalWindows {
        var windows: [UpstreamCallKind: (start: Int64, count: Int)] = [:]
        var lastGrant: [UpstreamCallKind: Int64] = [:]
        var day: (start: Int64, count: Int) = (0, 0)

        mutating func take(_ kind: UpstreamCallKind, limit: Int, windowMilliseconds: Int64, wallClock: Int64) -> Decision {
            let start = wallClock - wallClock % windowMilliseconds
            var window = windows[kind] ?? (start, 0)
            if window.start != start { window = (start, 0) }
            guard window.count < limit else { return .wait(.milliseconds(max(1, start + windowMilliseconds - wallClock))) }
            window.count += 1
            windows[kind] = window
            return .granted(RateLimitGrant(window: Int(start / 1000), local: true))
        }

        mutating func space(_ kind: UpstreamCallKind, spacingMilliseconds: Int64, wallClock: Int64) -> Decision {
            if let last = lastGrant[kind], wallClock - last < spacingMilliseconds {
                return .wait(.milliseconds(max(1, last + spacingMilliseconds - wallClock)))
            }
            lastGrant[kind] = wallClock
            return .granted(RateLimitGrant(window: Int(wallClock / 1000), local: true))
        }

        /// Whether the day has room (rolling the day over at UTC midnight); counts nothing.
        mutating func peekDaily(limit: Int, wallClock: Int64) -> Decision {
            let start = wallClock - wallClock % 86_400_000
            if day.start != start { day = (start, 0) }
            guard day.count < limit else { return .wait(.milliseconds(max(1, start + 86_400_000 - wallClock))) }
            return .granted(RateLimitGrant(window: nil, local: true))
        }
    }
}

/// A slot the limiter handed out.
public struct RateLimitGrant: Sendable {
    /// The start (Unix seconds) of the one-second window the call was counted in.
    public var window: Int?
    /// Decided by this replica's local fallback instead of Redis.
    public var local: Bool
}

/// The budget has no slot for this call before the caller's deadline.
public struct RateLimitExceeded: Error, CustomStringConvertible, Sendable {
    public var kind: UpstreamCallKind
    /// How long until a slot may be free.
    public var retryAfter: Duration
    public var description: String {
        "the HubSpot \(kind == .search ? "search" : "call") budget has no slot before the deadline; retry in \(retryAfter.milliseconds) ms"
    }
}

extension UpstreamCallKind {
    var metricLabel: String { self == .general ? "general" : "search" }
}

extension Duration {
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
