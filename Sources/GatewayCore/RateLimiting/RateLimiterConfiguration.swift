import Time

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
    /// Search calls per second for the whole fleet, granted one per window of
    /// 1000/`searchPerSecond` ms. HubSpot allows 5 in any rolling second; one call per
    /// 250 ms window never puts more than 5 into one, where 4 per one-second window could put 8.
    public var searchPerSecond = 4
    /// A cap of the fleet's own calls per account day, on top of what HubSpot's
    /// `X-HubSpot-RateLimit-Daily-Remaining` says is left of the account's day; 0: HubSpot's
    /// figure alone.
    public var dailyLimit = 0
    /// Calls per HubSpot interval the fleet leaves unspent under `X-HubSpot-RateLimit-Max`
    /// (at most a tenth of Max): room for what the estimate of the others' spending misses.
    public var burstMargin = 3
    /// Take the fleet's ceiling from the plan's `X-HubSpot-RateLimit-Max` (less
    /// `burstShareForOthers`) instead of `generalPerSecond`.
    public var learnBurst = false
    /// With `learnBurst`: the share of HubSpot's burst left to callers the gateway cannot see.
    public var burstShareForOthers = 0.1
    /// The share of a day (the account's, and each service's `daily=` quota) only interactive
    /// calls may spend: bulk work stops when no more than this is left.
    public var dailyInteractiveReserve = 0.05
    /// General calls per second kept for interactive callers: bulk work may not take them
    /// before `reserveHeldFor` into the second.
    public var interactiveReserve = 2
    /// How long into each one-second window the interactive reserve is held; what interactive
    /// callers left of it by then goes to bulk work, so that an export alone on the fleet
    /// uses the whole budget. At or above 1 s the reserve is never released.
    public var reserveHeldFor: Duration = .milliseconds(800)
    /// Longest a Redis round trip of the limiter may take before the replica falls back to
    /// its local share.
    public var redisTimeout: Duration = .milliseconds(50)
    /// After a Redis failure, how long the replica stays on its local limiter before it tries
    /// Redis again.
    public var redisRetryInterval: Duration = .seconds(1)
    /// No call is granted this close to the end of a window, so the call reaches HubSpot in
    /// the second it was counted in (covers the trip from the grant to HubSpot).
    public var windowEndGuard: Duration = .milliseconds(25)
    /// Upper bound of the random delay added to each wait, so waiters do not stampede at the
    /// start of a window.
    public var waitJitter: Duration = .milliseconds(40)
    /// How often a replica announces itself, and how long an announcement counts, for the
    /// live-replica count the fallback divides the budget by.
    public var replicaHeartbeatInterval: Duration = .seconds(5)
    public var replicaTimeToLive: Duration = .seconds(15)
    /// The replica count assumed for the fallback until one was learned from Redis.
    public var assumedReplicaCount = 3
    /// After a replica comes back to Redis from its local fallback, how long the replicas on
    /// Redis leave room for the local shares of replicas that may not be back yet.
    public var recoveryPeriod: Duration = .seconds(3)
    /// Fair sharing among calling services (weights in the caller keys): a service whose turn
    /// it is not is told to ask again after this long, while the service behind takes the slot.
    public var fairShareRetry: Duration = .milliseconds(25)
    /// How long after its last refused ask a service still counts as waiting (its next ask is
    /// due by then); a share nobody waits for goes to the others after this.
    public var fairShareWaitingMargin: Duration = .milliseconds(250)
    /// How far (in calls at weight 1; about half a second of a 2:1:1 share of 8/s) a service
    /// that paused between calls may be behind the others when it asks again, and catch up.
    public var fairShareCredit: Double = 2
    /// Refuse a call at once when its service's queue on this replica, at the rate the service
    /// has been granted, cannot reach it before its deadline (instead of failing it there).
    public var earlyRefusal = true
    /// A call is refused on arrival when its expected wait is more than this share of the time
    /// to its deadline: the waits of one service's calls vary (slots go to whichever replica
    /// asks first), and a call admitted should almost always be served.
    public var earlyRefusalShare = 0.5
    /// A call that had to wait is granted a slot only if at least this much of its deadline
    /// is left for the HubSpot round trip: a slot taken by a call that then times out is
    /// budget spent for nothing, and the caller would rather hear "retry after" at once.
    public var callReserve: Duration = .milliseconds(100)

    public init() {}

    /// How fast the estimate of the others' spending follows a fall of theirs (a rise is taken
    /// at once): the half-life of the gap.
    static let othersFallHalfLife: Duration = .seconds(1)
    /// After HubSpot says the burst is spent (a 429, or Remaining 0), the fleet waits about one
    /// call's share of the interval (Interval / Max), at least this long: in a rolling window a
    /// slot comes free as soon as the oldest call ages out.
    static let spentBurstPause: Duration = .milliseconds(1000)
    /// While the account's midnight is unknown (the account-info API not read yet), a day HubSpot
    /// says is spent is checked again after at most this long.
    static let unknownDayEndRecheck: Duration = .seconds(900)

    /// The window length of a bucket.
    func windowMilliseconds(_ kind: UpstreamCallKind) -> Int {
        switch kind {
        case .general: 1000
        case .search: max(1, 1000 / max(1, searchPerSecond))
        }
    }

    /// Calls per window of a bucket for a priority once the reserve is released (bulk general
    /// calls after `reserveHeldFor`), and when that is, in ms into the window (nil: never).
    func releasedLimit(_ kind: UpstreamCallKind, _ priority: CallPriority) -> (limit: Int, afterMs: Int)? {
        guard kind == .general, priority == .bulk, interactiveReserve > 0, reserveHeldFor < .seconds(1) else {
            return nil
        }
        return (generalPerSecond, Int(max(0, reserveHeldFor.milliseconds)))
    }

    /// Calls per window of a bucket for a priority. Bulk search is held to every other window
    /// instead (see the limiter), as a window holds one search call.
    func perWindowLimit(_ kind: UpstreamCallKind, _ priority: CallPriority) -> Int {
        switch (kind, priority) {
        case (.general, .interactive): generalPerSecond
        case (.general, .bulk): max(1, generalPerSecond - interactiveReserve)
        case (.search, _): 1
        }
    }

    /// A replica's share of a bucket's calls per window while it decides locally.
    func localShare(_ kind: UpstreamCallKind, replicas: Int) -> Double {
        switch kind {
        case .general: Double(generalPerSecond) / Double(max(1, replicas))
        case .search:
            Double(windowMilliseconds(.search)) / Double(max(1000, windowMilliseconds(.search) * max(1, replicas)))
        }
    }
}
