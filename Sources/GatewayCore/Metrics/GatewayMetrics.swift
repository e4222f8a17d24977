import CoreMetrics

/// The metrics of the door to HubSpot, named in one place so dashboards and alert rules have
/// one list to read. Components record through a `GatewayMetrics` value; its factory is the
/// process-wide one unless a test or an embedding program passes its own.
public struct GatewayMetrics: Sendable {
    /// Metric names (Prometheus style; `_total` and `_seconds` are added by the exporter's
    /// conventions only where written here).
    public enum Name {
        /// Every HTTP exchange with HubSpot, by `endpoint` and `status` (`error` when no answer came).
        public static let upstreamCalls = "hubspot_upstream_calls_total"
        /// Duration of one exchange with HubSpot, by `endpoint`.
        public static let upstreamDuration = "hubspot_upstream_call_duration_seconds"
        /// Records (ids or inputs) carried by one batch call, by `endpoint`.
        public static let recordsPerCall = "hubspot_upstream_records_per_call"
        /// Attempts repeated by the door after a transient failure, by `endpoint`.
        public static let upstreamRetries = "hubspot_upstream_retries_total"
        /// 429s HubSpot answered, by `bucket` and `policy` (should stay zero: alert on any).
        public static let upstreamRateLimited = "hubspot_upstream_rate_limited_total"
        /// Acquires that had to wait for a later window, by `bucket`.
        public static let limiterWaits = "gateway_ratelimit_waits_total"
        /// Time spent waiting for a slot, by `bucket`.
        public static let limiterWaitTime = "gateway_ratelimit_wait_seconds"
        /// Acquires refused because the slot came after the caller's deadline, by `bucket`.
        public static let limiterRefusals = "gateway_ratelimit_refusals_total"
        /// HubSpot answers saying a bucket's burst is spent (a 429 or Remaining 0), by `bucket`.
        public static let limiterHubSpotSpent = "gateway_ratelimit_hubspot_spent_total"
        /// 1 while the limiter decides locally because Redis is unreachable.
        public static let limiterLocalMode = "gateway_ratelimit_redis_fallback_active"
        /// Times a component fell back from Redis, by `component` (`ratelimit`, `cache`).
        public static let redisFallbacks = "gateway_redis_fallbacks_total"
        /// Circuit breaker state: 0 closed, 1 half-open, 2 open.
        public static let breakerState = "gateway_circuit_breaker_state"
        /// Breaker transitions, by `to`.
        public static let breakerTransitions = "gateway_circuit_breaker_transitions_total"
        /// Calls refused at once because the breaker is open.
        public static let breakerRejections = "gateway_circuit_breaker_rejections_total"
        /// Cache reads, by `result`: `hit`, `miss`, `stale` (served stale because HubSpot could not be asked).
        public static let cacheReads = "gateway_cache_reads_total"
        /// Cache hits served from this replica's memory without asking Redis (the near cache).
        public static let cacheNearHits = "gateway_cache_near_hits_total"
        /// HubSpot rejected the gateway's own credentials (401, or the OAuth refresh failed):
        /// alert on any.
        public static let credentialsRejected = "gateway_hubspot_credentials_rejected_total"
        /// HubSpot 403s: the gateway's app lacks a scope for the call (not an outage; no
        /// readiness change), by `bucket`.
        public static let missingScopes = "gateway_hubspot_missing_scopes_total"
        /// HubSpot 400 `VALIDATION_ERROR`s of the gateway's writes and reads, by `code` of the
        /// first problem (`REQUIRED_PROPERTY`: a portal rule 2026-09 enforces; `INVALID_OPTION`,
        /// `PROPERTY_DOESNT_EXIST`, …). Never retried; the caller gets INVALID_ARGUMENT.
        public static let validationRefusals = "gateway_hubspot_validation_refusals_total"
        /// Fair sharing of the budget among calling services, by `service` and `bucket`: calls
        /// charged (fractions of coalesced batches), the inputs they carried, calls waiting for
        /// a slot now, the wait of granted calls, and refusals by `reason` (`budget`,
        /// `hubspot_pause`, `caller_share`, `batch_line`: refused on arrival in a batch line).
        public static let budgetCalls = "gateway_budget_calls_total"
        public static let budgetRecords = "gateway_budget_records_total"
        public static let budgetQueued = "gateway_budget_queued"
        public static let budgetWait = "gateway_budget_wait_seconds"
        public static let budgetRefusals = "gateway_budget_refusals_total"
        /// Invalidations this replica could not make in Redis yet (kept and retried).
        public static let cachePendingInvalidations = "gateway_cache_pending_invalidations"
    }

    private let factory: any MetricsFactory
    private let counters = MetricHandleCache<String, Counter>()
    /// The counters of every cache read, made once: a cache hit is the gateway's commonest call,
    /// and looking a counter up by its name and labels cost more than the rest of the hit.
    let cacheReadCounters: CacheReadCounters

    /// Records through `factory` (the process-wide `MetricsSystem.factory` by default).
    public init(factory: (any MetricsFactory)? = nil) {
        let factory = factory ?? MetricsSystem.factory
        self.factory = factory
        self.cacheReadCounters = CacheReadCounters(factory: factory)
    }

    /// `cacheReads` by `result`, and `cacheNearHits`.
    struct CacheReadCounters: Sendable {
        let hit: Counter
        let miss: Counter
        let stale: Counter
        let nearHit: Counter

        init(factory: any MetricsFactory) {
            func reads(_ result: String) -> Counter {
                Counter(label: Name.cacheReads, dimensions: [("result", result)], factory: factory)
            }
            (hit, miss, stale) = (reads("hit"), reads("miss"), reads("stale"))
            nearHit = Counter(label: Name.cacheNearHits, factory: factory)
        }
    }

    func increment(_ name: String, _ dimensions: [(String, String)] = [], by amount: Int = 1) {
        var key = name
        for (label, value) in dimensions { key += "\u{0}\(label)=\(value)" }
        counters.handles(for: key) { Counter(label: name, dimensions: dimensions, factory: factory) }.increment(
            by: amount)
    }

    func increment(_ name: String, _ dimensions: [(String, String)] = [], by amount: Double) {
        FloatingPointCounter(label: name, dimensions: dimensions, factory: factory).increment(by: amount)
    }

    func record(_ name: String, _ dimensions: [(String, String)] = [], _ value: Int) {
        Recorder(label: name, dimensions: dimensions, aggregate: true, factory: factory).record(value)
    }

    func gauge(_ name: String, _ dimensions: [(String, String)] = [], _ value: Double) {
        Gauge(label: name, dimensions: dimensions, factory: factory).record(value)
    }

    func time(_ name: String, _ dimensions: [(String, String)] = [], _ duration: Duration) {
        Timer(label: name, dimensions: dimensions, factory: factory).record(duration)
    }
}
