/// What a HubSpot call counts against.
public enum UpstreamCallKind: Sendable, Hashable {
    /// Every CRM call except search: the general (burst) bucket and the daily budget.
    case general
    /// `POST …/search`: HubSpot's separate search limit and the daily budget.
    case search
}

/// Who is waiting: interactive callers come first; bulk work (batch jobs, syncs) only gets
/// what interactive traffic leaves.
public enum CallPriority: Sendable, Hashable {
    case interactive
    case bulk
}

/// The budget the whole fleet shares, and how the limiter behaves when Redis is away.
public struct RateLimiterConfiguration: Sendable {
    /// Prefix of every Redis key the limiter writes.
    public var keyPrefix = "hubspot-gateway:ratelimit"
    /// General calls per one-second window for the whole fleet (HubSpot allows ~10/s).
    public var generalPerSecond = 8
    /// Search calls per one-second window. HubSpot allows 5/s; the default stays below that
    /// because two fixed windows can meet inside one rolling second.
    public var searchPerSecond = 4
    /// Calls per UTC day for the whole fleet; 0 disables the daily bucket.
    public var dailyLimit = 250_000
    /// General calls per second that bulk work may never take (kept for interactive callers).
    public var interactiveReserve = 2
    /// Longest a Redis round trip of the limiter may take before the replica falls back to
    /// its local share.
    public var redisTimeout: Duration = .milliseconds(50)
    /// After a Redis failure, how long the replica stays on its local limiter before it tries
    /// Redis again.
    public var redisRetryInterval: Duration = .seconds(1)
    /// Upper bound of the random delay added to each wait, so waiters do not stampede at the
    /// start of a window.
    public var waitJitter: Duration = .milliseconds(40)
    /// How often a replica announces itself, and how long an announcement counts, for the
    /// live-replica count the fallback divides the budget by.
    public var replicaHeartbeatInterval: Duration = .seconds(5)
    public var replicaTimeToLive: Duration = .seconds(15)
    /// The replica count assumed for the fallback until one was learned from Redis.
    public var assumedReplicaCount = 3

    public init() {}

    /// The per-second limit of a bucket for a priority.
    func perSecondLimit(_ kind: UpstreamCallKind, _ priority: CallPriority) -> Int {
        switch (kind, priority) {
        case (.general, .interactive): generalPerSecond
        case (.general, .bulk): max(1, generalPerSecond - interactiveReserve)
        case (.search, .interactive): searchPerSecond
        case (.search, .bulk): max(1, searchPerSecond - min(interactiveReserve, searchPerSecond / 2))
        }
    }
}
