import ServiceLifecycle
import Foundation
import Logging
import RedisClient
import Synchronization
import Time
import Tracing

/// The fleet-wide HubSpot budget: fixed one-second windows (and a UTC-day window) counted in
/// the Redis every replica shares, on Redis's clock. `acquire` waits for a slot until the
/// caller's deadline; when Redis is unreachable the replica uses its share of the budget
/// locally and goes back to Redis by itself.
public final class FixedWindowRateLimiter: Service, Sendable {
    /// Where the last decision was made.
    public enum Mode: Sendable, Equatable {
        case redis
        case local(replicas: Int)
    }

    public let configuration: RateLimiterConfiguration
    let redis: RedisClient?
    /// This replica's name in the fleet's heartbeat set.
    public let replicaID: String
    let logger: Logger
    let metrics: GatewayMetrics
    /// The clock windows, waits and deadlines are read on; a manual one is imposed on Redis's
    /// scripts too (tests), the system one leaves Redis's `TIME` in charge.
    let time: TimeSource
    let state: Mutex<State>
    /// This replica's waiting calls and grants per service (early refusal, statistics).
    let services: ServiceQueues

    struct State {
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
        /// What HubSpot's latest answers said, as this replica saw them.
        var view = HubSpotBudgetView()
        /// The services' spend today (the account day starting at `dayStart`), as grants told.
        var spends: (dayStart: Int64, byService: [String: Double]) = (0, [:])
        /// The day hold last logged (logged once per hold).
        var loggedDaySpentUntil: Int64 = 0
    }

    public init(
        redis: RedisClient?, configuration: RateLimiterConfiguration = .init(), replicaID: String = UUID().uuidString,
        metrics: GatewayMetrics = GatewayMetrics(), time: TimeSource = .system,
        logger: Logger = Logger(label: "ratelimit")
    ) {
        self.redis = redis
        self.time = time
        self.metrics = metrics
        self.services = ServiceQueues(metrics: metrics, time: time)
        self.configuration = configuration
        self.replicaID = replicaID
        self.logger = logger
        self.state = Mutex(
            State(
                replicas: max(1, configuration.assumedReplicaCount), mode: redis == nil ? .local(replicas: 1) : .redis))
    }

    /// Where decisions are made right now.
    public var mode: Mode { state.withLock { $0.mode } }

    /// What each calling service got of the budget through this replica.
    public var serviceStatistics: [ServiceBudgetStatistics] { services.statistics }

    /// Waits for a slot in every bucket `kind` belongs to. Throws `RateLimitExceeded` (with how
    /// long to wait) without waiting when the next slot is past `deadline` less the call's
    /// reserve (`callReserve`, the time the HubSpot round trip needs).
    ///
    /// A `paced` call (a coalesced batch) takes the k-th slot of a window no earlier than k/n
    /// of the way into it, so that a busy window's calls are spread over it and each batch
    /// collects what arrived since the last one, instead of all slots going at the window's
    /// start to small batches. An idle window still grants at once.
    @discardableResult
    public func acquire(
        _ kind: UpstreamCallKind, priority: CallPriority = .interactive, paced: Bool = false,
        deadline: ContinuousClock.Instant
    ) async throws -> RateLimitGrant {
        try await withSpan("ratelimit.acquire") { span in
            if span.isRecording {
                span.attributes["gateway.budget.bucket"] = kind.metricLabel
                span.attributes["gateway.budget.priority"] = "\(priority)"
            }
            let started = time.now
            let grant = try await acquireUntraced(kind, priority: priority, paced: paced, deadline: deadline)
            if span.isRecording {
                span.attributes["gateway.budget.waited_ms"] = (time.now - started).milliseconds
                span.attributes["gateway.budget.decided_in"] = mode == .redis ? "redis" : "local"
            }
            return grant
        }
    }

    private func acquireUntraced(
        _ kind: UpstreamCallKind, priority: CallPriority, paced: Bool, deadline: ContinuousClock.Instant
    ) async throws -> RateLimitGrant {
        let started = time.now
        let bucket = [("bucket", kind.metricLabel)]
        let claim = BudgetClaim.effective
        let queue = ServiceQueues.Key(kind: kind, priority: priority, service: claim?.requester?.service)
        // Early refusal: the calls of this service already queued here, at the rate the
        // service has been granted, would keep this one waiting past its deadline.
        let budgetPerSecond = localBudgetPerSecond(kind)
        try refuseEarly(queue, deadline: deadline, bucket: bucket, budgetPerSecond: budgetPerSecond)
        // In line behind the service's earlier calls; only the head asks Redis.
        let token: Int?
        do {
            token = try await services.waitTurn(
                queue, weight: claim?.requester?.weight ?? 1, budgetPerSecond: budgetPerSecond, deadline: deadline)
        } catch let refusal as RateLimitExceeded {
            services.refused(queue, reason: refusal.cause)
            metrics.increment(GatewayMetrics.Name.limiterRefusals, bucket)
            throw refusal
        }
        defer { services.leave(queue, token) }
        var waited = false
        // Time spent in line counts as waiting: the slot must still leave the call its reserve.
        if time.now - started > .milliseconds(1), time.now + configuration.callReserve > deadline {
            metrics.increment(GatewayMetrics.Name.limiterRefusals, bucket)
            services.refused(queue, reason: .budget)
            throw RateLimitExceeded(kind: kind, retryAfter: configuration.callReserve, cause: .budget)
        }
        while true {
            let wait: Duration
            let cause: RateLimitExceeded.Cause
            switch await decide(kind, priority, paced: paced, claim: claim, deadline: deadline) {
            case .granted(let grant):
                let elapsed = time.now - started
                if waited { metrics.time(GatewayMetrics.Name.limiterWaitTime, bucket, elapsed) }
                services.granted(queue, claim: claim, waited: elapsed)
                return grant
            case .wait(let duration, let why):
                wait = duration
                cause = why
            }
            let jitter = Duration.milliseconds(Int64.random(in: 0...max(0, configuration.waitJitter.milliseconds)))
            let wake = time.now + wait + jitter
            if wake + configuration.callReserve > deadline {
                metrics.increment(GatewayMetrics.Name.limiterRefusals, bucket)
                services.refused(queue, reason: cause)
                throw RateLimitExceeded(kind: kind, retryAfter: wait, cause: cause)
            }
            if !waited { metrics.increment(GatewayMetrics.Name.limiterWaits, bucket) }
            waited = true
            try await time.sleep(until: wake)
        }
    }

    /// Refuses a call whose service's queue here, at the rate the service has lately been
    /// granted, cannot reach it well before its deadline: its expected wait is more than
    /// `earlyRefusalShare` of the time it has (waits vary; a call admitted should make it).
    private func refuseEarly(
        _ queue: ServiceQueues.Key, deadline: ContinuousClock.Instant, bucket: [(String, String)],
        budgetPerSecond: Double
    ) throws {
        guard configuration.earlyRefusal, let expected = services.expectedWait(queue, budgetPerSecond: budgetPerSecond)
        else { return }
        let now = time.now
        guard expected > now.duration(to: deadline) * configuration.earlyRefusalShare else { return }
        services.refused(queue, reason: .callerShare)
        metrics.increment(GatewayMetrics.Name.limiterRefusals, bucket)
        throw RateLimitExceeded(kind: queue.kind, retryAfter: expected, cause: .callerShare)
    }

    /// This replica's part of the fleet's budget for a bucket (a prior for a service's rate).
    private func localBudgetPerSecond(_ kind: UpstreamCallKind) -> Double {
        let replicas = Double(max(1, state.withLock { $0.replicas }))
        let perSecond = kind == .general ? configuration.generalPerSecond : configuration.searchPerSecond
        return Double(perSecond) / replicas
    }

    /// What HubSpot's latest answers said, as this replica saw them.
    public var hubSpotView: HubSpotBudgetView { state.withLock { $0.view } }

    /// The fleet's general calls per second by HubSpot's latest figures.
    public var fleetRate: Double {
        let wall = time.wallMilliseconds
        return state.withLock { $0.view.fleetRate(configuration, now: wall) }
    }

    // MARK: Decisions

    enum Decision {
        case granted(RateLimitGrant)
        case wait(Duration, RateLimitExceeded.Cause = .budget)
    }

    func decide(
        _ kind: UpstreamCallKind, _ priority: CallPriority, paced: Bool, claim: BudgetClaim? = nil,
        deadline: ContinuousClock.Instant? = nil
    ) async -> Decision {
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
                return try await decideInRedis(
                    redis, kind, priority, paced: paced, claim: claim,
                    deadlineLeft: deadline.map { time.now.duration(to: $0) } ?? .seconds(1))
            } catch {
                fallBack(after: error)
                if let hold = heldFor() { return .wait(hold) }
            }
        }
        return decideLocally(kind, priority)
    }

    /// How long the current switch between Redis and local decisions still holds grants back.
    func heldFor() -> Duration? {
        let left = state.withLock { $0.holdUntilMs } - time.wallMilliseconds
        return left > 0 ? .milliseconds(left) : nil
    }

    func useRedisNow() -> Bool {
        state.withLock { state in
            guard let until = state.localUntil else { return true }
            return time.now >= until
        }
    }

    /// The end of the current one-second window (search windows divide it).
    func windowEnd() -> Int64 {
        let now = time.wallMilliseconds
        return now - now % 1000 + 1000
    }

    func backOnRedis() {
        let end = windowEnd()
        state.withLock { state in
            state.localUntil = nil
            state.mode = .redis
            state.holdUntilMs = max(state.holdUntilMs, end)
        }
        logger.notice("rate limiter back on Redis")
        metrics.gauge(GatewayMetrics.Name.limiterLocalMode, [], 0)
    }

    /// Marks the fleet as recovering: while replicas may still decide locally, those on Redis
    /// leave room for the local shares (see `recoveryLimit`).
    func startRecovery(_ redis: RedisClient) async throws {
        _ = try await redis.set(
            .init(configuration.keyPrefix + ":recovering"), "1",
            expiration: .milliseconds(Int(max(1, configuration.recoveryPeriod.milliseconds))),
            timeout: configuration.redisTimeout)
    }

    func fallBack(after error: any Error) {
        let retryAt = time.now + configuration.redisRetryInterval
        let end = windowEnd()
        let (changed, replicas): (Bool, Int) = state.withLock { state in
            state.localUntil = retryAt
            let mode = Mode.local(replicas: state.replicas)
            // Grants already made in Redis this window are unknown here: start at the next one.
            if state.mode == .redis { state.holdUntilMs = max(state.holdUntilMs, end) }
            defer { state.mode = mode }
            return (state.mode != mode, state.replicas)
        }
        if changed {
            metrics.gauge(GatewayMetrics.Name.limiterLocalMode, [], 1)
            metrics.increment(GatewayMetrics.Name.redisFallbacks, [("component", "ratelimit")])
            logger.warning(
                "Redis unavailable; rate limiting locally at this replica's share",
                metadata: [
                    "error": "\(error)", "replicas": "\(replicas)",
                ])
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
    /// Why no slot came in time.
    public enum Cause: String, Sendable {
        /// The fleet's budget is taken up to the deadline.
        case budget
        /// HubSpot said the budget is spent (a 429 or `Remaining: 0`) and the fleet is paused.
        case hubSpotPause = "hubspot_pause"
        /// The calling service's own queue is longer than its share serves before the deadline.
        case callerShare = "caller_share"
        /// HubSpot said the account's day is spent (a `DAILY` 429 or Daily-Remaining 0).
        case accountDaySpent = "account_day_spent"
        /// What is left of the account's day is kept for interactive calls; bulk work waits.
        case accountDayReserved = "account_day_reserved"
        /// The calling service spent its `daily=` quota.
        case serviceQuota = "service_quota"
    }

    public var kind: UpstreamCallKind
    /// How long until a slot may be free.
    public var retryAfter: Duration
    public var cause: Cause

    public init(kind: UpstreamCallKind, retryAfter: Duration, cause: Cause = .budget) {
        self.kind = kind
        self.retryAfter = retryAfter
        self.cause = cause
    }

    public var description: String {
        let budget = "the HubSpot \(kind == .search ? "search" : "call") budget"
        return switch cause {
        case .budget:
            "\(budget) has no slot before the deadline; retry in \(retryAfter.milliseconds) ms"
        case .hubSpotPause:
            "HubSpot answered that \(budget) is spent (429); the fleet is paused; retry in \(retryAfter.milliseconds) ms"
        case .callerShare:
            "this service's calls already queued use its share of \(budget) past this call's deadline; retry in \(retryAfter.milliseconds) ms or send fewer at once"
        case .accountDaySpent:
            "HubSpot's daily limit for the account is spent (shared by every app of the account); calls resume at the account's midnight, in \(Self.spoken(retryAfter))"
        case .accountDayReserved:
            "what is left of the account's HubSpot day is kept for interactive calls; bulk work resumes at the account's midnight, in \(Self.spoken(retryAfter))"
        case .serviceQuota:
            "this service spent its daily quota of HubSpot calls (daily= in its caller key); it resumes at the account's midnight, in \(Self.spoken(retryAfter))"
        }
    }

    /// `3 h 12 min`, `41 s`.
    static func spoken(_ duration: Duration) -> String {
        let seconds = Swift.max(0, Int((Double(duration.milliseconds) / 1000).rounded(.up)))
        if seconds < 120 { return "\(seconds) s" }
        let minutes = seconds / 60
        return minutes < 120 ? "\(minutes) min" : "\(minutes / 60) h \(minutes % 60) min"
    }
}

extension UpstreamCallKind {
    var metricLabel: String { self == .general ? "general" : "search" }
}
