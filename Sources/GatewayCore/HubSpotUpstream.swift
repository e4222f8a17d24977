import HubSpotAPI
import Logging
import Time

/// The single door to HubSpot: every call the gateway makes goes cache → coalescer → rate
/// limiter → circuit breaker → `HubSpotClient`, within the caller's deadline.
///
/// Retries belong to the door, not the client: the client this upstream is given is used with
/// no retries of its own, and a transient failure is retried here through the limiter (so a
/// retry spends budget like any call) by the client's retry policy, never past the deadline.
public final class HubSpotUpstream: Sendable {
    public struct Configuration: Sendable {
        /// Inputs per batch read or write (HubSpot takes at most 100).
        public var maxBatchSize = 100
        /// Send `objectWriteTraceId`s with batch writes so HubSpot reports bad inputs one by one;
        /// without them a bad input fails its batch and the batch is split to find it.
        public var useWriteTraceIds = true

        public init() {}
    }

    /// The client, without retries of its own. Private: every HubSpot call goes through the door.
    private let client: HubSpotClient
    /// The app's developer-platform client (the webhooks journal), without retries of its own.
    let developerClient: HubSpotClient?
    public let limiter: FixedWindowRateLimiter
    public let breaker: CircuitBreaker
    public let cache: ObjectCache
    /// How the door retries transient failures (the given client's policy).
    public let retryPolicy: HubSpotRetryPolicy
    private let attempts: Attempts
    private let reads: [CallPriority: BatchReadCoalescer]
    private let writes: [CallPriority: BatchWriteCoalescer]
    let associationWrites: [CallPriority: AssociationWriteCoalescer]
    private let metrics: GatewayMetrics
    private let logger: Logger

    public init(
        client: HubSpotClient, developerClient: HubSpotClient? = nil, limiter: FixedWindowRateLimiter,
        breaker: CircuitBreaker, cache: ObjectCache, configuration: Configuration = .init(),
        metrics: GatewayMetrics = GatewayMetrics(), logger: Logger = Logger(label: "upstream")
    ) {
        self.developerClient = developerClient?.retrying(by: .none)
        let attempts = Attempts(
            client: client.retrying(by: .none), limiter: limiter, breaker: breaker,
            retryPolicy: client.configuration.retryPolicy, metrics: metrics, logger: logger)
        self.client = attempts.client
        self.limiter = limiter
        self.breaker = breaker
        self.cache = cache
        self.retryPolicy = attempts.retryPolicy
        self.metrics = metrics
        self.logger = logger
        self.attempts = attempts
        var reads: [CallPriority: BatchReadCoalescer] = [:]
        var writes: [CallPriority: BatchWriteCoalescer] = [:]
        var associationWrites: [CallPriority: AssociationWriteCoalescer] = [:]
        for priority in [CallPriority.interactive, .bulk] {
            // A read or write whose place in its batch line cannot reach HubSpot before its
            // deadline is refused on arrival, like a call in its service's line
            // (`--early-refusal-share`); so is one of a service past its daily quota.
            let earlyRefusal = BatchEarlyRefusal(
                share: limiter.configuration.earlyRefusal ? limiter.configuration.earlyRefusalShare : .infinity,
                fastestInterval: .seconds(1) / max(1, limiter.configuration.generalPerSecond),
                refuseCaller: { share in try limiter.refuseOverQuota(share, priority: priority) }
            ) { expectedWait in
                metrics.increment(
                    GatewayMetrics.Name.budgetRefusals,
                    [
                        ("service", Caller.current?.service ?? "gateway"),
                        ("bucket", UpstreamCallKind.general.metricLabel), ("reason", "batch_line"),
                    ])
                return RateLimitExceeded(kind: .general, retryAfter: expectedWait, cause: .budget)
            }
            let admit: @Sendable (ContinuousClock.Instant) async throws -> Void = { deadline in
                try breaker.refuseIfOpen()
                try await limiter.acquire(.general, priority: priority, paced: true, deadline: deadline)
            }
            reads[priority] = BatchReadCoalescer(
                maxBatchSize: configuration.maxBatchSize, earlyRefusal: earlyRefusal, admit: admit
            ) {
                type, ids, properties, idProperty, deadline in
                metrics.record(GatewayMetrics.Name.recordsPerCall, [("endpoint", "objects.batch.read")], ids.count)
                return try await attempts.run(
                    .general, priority: priority, deadline: deadline, idempotent: true, admitted: true
                ) { client, options in
                    try await client.batchRead(
                        type, ids: ids, properties: properties, idProperty: idProperty, options: options)
                }
            }
            writes[priority] = BatchWriteCoalescer(
                maxBatchSize: configuration.maxBatchSize, useWriteTraceIds: configuration.useWriteTraceIds,
                earlyRefusal: earlyRefusal, admit: admit
            ) { request, deadline in
                metrics.record(
                    GatewayMetrics.Name.recordsPerCall, [("endpoint", "objects.batch.\(request.operation)")],
                    request.writes.count)
                return try await attempts.run(
                    .general, priority: priority, deadline: deadline, idempotent: request.operation != .create,
                    admitted: true
                ) { client, options in
                    try await request.send(with: client, options: options)
                }
            }
            associationWrites[priority] = AssociationWriteCoalescer(
                maxBatchSize: configuration.maxBatchSize, earlyRefusal: earlyRefusal, admit: admit
            ) { from, to, operation, batch, deadline, admitted in
                metrics.record(
                    GatewayMetrics.Name.recordsPerCall, [("endpoint", "associations.batch")], batch.count)
                try await attempts.run(
                    .general, priority: priority, deadline: deadline, idempotent: true, admitted: admitted
                ) { client, options in
                    let pairs = batch.map { (fromId: $0.fromId, toId: $0.toId) }
                    switch operation {
                    case .associateDefault:
                        try await client.batchAssociateDefault(from: from, to: to, pairs: pairs, options: options)
                    case .associate:
                        try await client.batchAssociate(
                            from: from, to: to, inputs: batch.map { ($0.fromId, $0.toId, $0.types) }, options: options)
                    case .remove:
                        try await client.batchRemoveAssociations(from: from, to: to, pairs: pairs, options: options)
                    }
                }
            }
        }
        self.reads = reads
        self.writes = writes
        self.associationWrites = associationWrites
    }

    /// The client observer that tells `limiter` what HubSpot's rate-limit headers say and
    /// counts every exchange; pass it to the `HubSpotClient` this upstream will use.
    public static func observer(for limiter: FixedWindowRateLimiter, metrics: GatewayMetrics = GatewayMetrics())
        -> @Sendable (HubSpotExchange) -> Void
    {
        { exchange in
            let endpoint = [("endpoint", exchange.endpoint)]
            metrics.increment(
                GatewayMetrics.Name.upstreamCalls,
                endpoint + [("status", exchange.status == 0 ? "error" : String(exchange.status))])
            metrics.time(GatewayMetrics.Name.upstreamDuration, endpoint, exchange.duration)
            let kind: UpstreamCallKind = exchange.endpoint.contains("search") ? .search : .general
            if exchange.status == 429 {
                metrics.increment(
                    GatewayMetrics.Name.upstreamRateLimited,
                    [("bucket", kind.metricLabel), ("policy", exchange.rateLimitPolicy ?? "unknown")])
            }
            let answer = FixedWindowRateLimiter.HubSpotAnswer(
                status: exchange.status, policy: exchange.rateLimitPolicy, limits: exchange.rateLimit,
                sinceGrant: slotGrantedAt.map { ContinuousClock.now - $0 } ?? exchange.duration)
            guard answer.mattersToTheBudget else { return }
            Task { await limiter.observe(answer, kind: kind) }
        }
    }

    /// When the call in progress got its budget slot: the limiter counts the fleet's calls
    /// HubSpot had seen when it answered as those granted before this one.
    @TaskLocal static var slotGrantedAt: ContinuousClock.Instant?

    /// One object, from the shared cache when fresh enough, else from a coalesced batch read.
    /// A stale copy is served when HubSpot cannot be asked (breaker open, no budget in time).
    public func readObject(
        type: String, id: String, properties: [String], maxStaleness: Duration? = nil, _ terms: CallTerms
    ) async throws -> ObjectCache.Read {
        try await readObject(
            type: type, id: id, properties: properties, maxStaleness: maxStaleness, priority: terms.priority,
            deadline: terms.deadline, mergeHops: 0)
    }

    /// `mergeHops`: merges followed so far (a record merged into one merged later); a few at most.
    private func readObject(
        type: String, id: String, properties: [String], maxStaleness: Duration?, priority: CallPriority,
        deadline: ContinuousClock.Instant, mergeHops: Int
    ) async throws -> ObjectCache.Read {
        let reads = reads[priority]!
        let properties = PropertyNames.normalized(properties)
        do {
            return try await cache.read(
                type: type, id: id, properties: properties, maxStaleness: maxStaleness,
                canServeStale: Self.isUnavailability
            ) {
                // The batch's admission checks the breaker before it spends budget.
                do {
                    return try await reads.read(type: type, id: id, properties: properties, deadline: deadline)
                } catch is UnattributedRead {
                    // Merged into another record: HubSpot answers the survivor for the old id.
                    let object = try await self.call(CallTerms(priority: priority, deadline: deadline)) {
                        client, options in
                        try await client.getObject(type, id: id, properties: properties, options: options)
                    }
                    guard object.id == id else { throw RecordMerged(type: type, id: id, survivorId: object.id) }
                    return object
                } catch let error as HubSpotError where error.isNotFound {
                    return nil
                }
            }
        } catch let merged as RecordMerged where merged.survivorId != id && mergeHops < 5 {
            // Served from the survivor's entries, which its own invalidations keep current.
            await cache.rememberMerge(type: type, id: id, into: merged.survivorId)
            return try await readObject(
                type: type, id: merged.survivorId, properties: properties, maxStaleness: maxStaleness,
                priority: priority, deadline: deadline, mergeHops: mergeHops + 1)
        }
    }

    /// One object by the value of a unique property (`email`), through the same cache and
    /// batch reads as reads by id: the id last seen holding the value is read through the cache
    /// and used when the record still holds it (served stale like any read when HubSpot cannot
    /// be asked); otherwise HubSpot is asked by the value, in a coalesced batch read.
    public func readObject(
        type: String, uniqueProperty: String, value: String, properties: [String], maxStaleness: Duration? = nil,
        _ terms: CallTerms
    ) async throws -> ObjectCache.Read {
        let (priority, deadline) = (terms.priority, terms.deadline)
        let asked = PropertyNames.normalized(properties)
        // The value's property is read too, to check the record still holds it.
        let fetched = asked.contains(uniqueProperty) ? asked : PropertyNames.normalized(asked + [uniqueProperty])
        func answer(_ read: ObjectCache.Read) -> ObjectCache.Read {
            guard fetched != asked, var object = read.object else { return read }
            object.properties[uniqueProperty] = nil
            return ObjectCache.Read(object: object, source: read.source, age: read.age)
        }
        if let id = await cache.uniqueId(type: type, property: uniqueProperty, value: value) {
            let read = try await readObject(
                type: type, id: id, properties: fetched, maxStaleness: maxStaleness, terms)
            if UniqueValues.matches(read.object?[uniqueProperty], value, of: uniqueProperty) { return answer(read) }
            // The record no longer holds the value (or is gone): ask HubSpot who does.
        }
        let ticket = cache.invalidationTicket()
        let object: HubSpotObject?
        do {
            object = try await reads[priority]!.read(
                type: type, idProperty: uniqueProperty, value: value, properties: fetched, deadline: deadline)
        } catch is UnattributedRead {
            object = try await call(terms) { client, options in
                try await client.getObject(
                    type, id: value, properties: fetched, idProperty: uniqueProperty, options: options)
            }
        }
        guard let object else { return ObjectCache.Read(object: nil, source: .upstream, age: .zero) }
        if UniqueValues.matches(object[uniqueProperty], value, of: uniqueProperty) {
            await cache.rememberUnique(type: type, property: uniqueProperty, value: value, id: object.id)
            await cache.fill(object, type: type, properties: fetched, since: ticket)
        }
        return answer(ObjectCache.Read(object: object, source: .upstream, age: .zero))
    }

    /// Creates, updates or upserts one record through a coalesced batch call, and drops the
    /// record's cached copies. Throws HubSpot's error for this input only, or
    /// `WriteOutcomeUnknown` when the request may have been applied although it failed.
    public func write(type: String, _ write: ObjectWrite, _ terms: CallTerms) async throws -> HubSpotObject {
        do {
            let object = try await writes[terms.priority]!.write(type: type, write, deadline: terms.deadline)
            await cache.invalidate(type: type, id: object.id)
            return object
        } catch {
            // A failed update may still have landed (a timeout after HubSpot acted).
            if case .update(let id, _) = write { await cache.invalidate(type: type, id: id) }
            throw Self.writeError(error)
        }
    }

    /// Any other HubSpot call, counted against `kind`'s budget, guarded by the breaker and
    /// retried by the door's policy. Objects named in `invalidating` are dropped from the
    /// cache after the call (whether it succeeded or not: a failed write may have landed); a
    /// call that names them is a write, and fails with `WriteOutcomeUnknown` when it may have
    /// been applied.
    func call<T: Sendable>(
        _ terms: CallTerms, _ kind: UpstreamCallKind = .general, idempotent: Bool = true,
        invalidating objects: [(type: String, id: String)] = [],
        _ body: @Sendable (HubSpotClient, CallOptions) async throws -> T
    ) async throws -> T {
        do {
            let result = try await attempts.run(
                kind, priority: terms.priority, deadline: terms.deadline, idempotent: idempotent, admitted: false,
                body)
            await invalidate(objects)
            return result
        } catch {
            await invalidate(objects)
            throw objects.isEmpty ? error : Self.writeError(error)
        }
    }

    static let noDeveloperClient = HubSpotClientError.invalidArgument(
        "the webhooks journal needs the app's developer-platform client credentials")

    /// Whether the door holds the app's developer-platform client (the webhooks journal).
    /// A range of an export's file: not an API call (no budget, no breaker), and its signed URL
    /// is fetched without the token.
    public func exportFileChunk(_ url: String, offset: Int, length: Int, timeout: Duration) async throws
        -> HubSpotClient.ExportFileChunk
    {
        try await client.downloadExportFile(url, offset: offset, length: length, timeout: timeout)
    }

    public var hasDeveloperClient: Bool { developerClient != nil }
    /// HubSpot's API version this replica's calls use.
    public var apiVersion: String { client.configuration.apiVersion.rawValue }

    /// A call with the app's developer-platform client (the webhooks journal's
    /// client-credentials token), through the door all the same: counted against the general
    /// budget at `priority`, guarded by the breaker, retried by the door's policy.
    func developerCall<T: Sendable>(
        priority: CallPriority, deadline: ContinuousClock.Instant,
        _ body: @Sendable (HubSpotClient, CallOptions) async throws -> T
    ) async throws -> T {
        guard let developerClient else { throw Self.noDeveloperClient }
        return try await attempts.run(
            .general, priority: priority, deadline: deadline, idempotent: true, admitted: false
        ) { _, options in try await body(developerClient, options) }
    }

    /// A write's failure as the caller must see it: `WriteOutcomeUnknown` when the request may
    /// have reached HubSpot and been applied, else the error itself.
    static func writeError(_ error: any Error) -> any Error {
        mayHaveBeenApplied(error) ? WriteOutcomeUnknown(underlying: error) : error
    }

    /// Whether a failed request may still have been applied by HubSpot: it was sent (or may
    /// have been) and no answer said it was refused. A server error (5xx) is such an answer
    /// only in name: HubSpot may have committed before failing.
    static func mayHaveBeenApplied(_ error: any Error) -> Bool {
        switch error {
        case let error as HubSpotError: error.status >= 500
        case let error as CurlError: !error.requestCertainlyNotSent
        case let error as HubSpotClientError: if case .deadlineExceeded = error { true } else { false }
        default: false
        }
    }

    /// Drops the objects' cached copies before the write's caller hears back, so its next
    /// read, through any replica, sees the write.
    func invalidate(_ objects: [(type: String, id: String)]) async {
        for object in objects { await cache.invalidate(type: object.type, id: object.id) }
    }

    /// 5xx, timeouts and connection failures count against HubSpot; 4xx (429 included) do not.
    static func outcome(of error: any Error) -> CircuitBreaker.Outcome {
        switch error {
        case let error as HubSpotError: error.status >= 500 ? .failure : .ignored
        case is CurlError: .failure
        default: .ignored
        }
    }

    /// HubSpot refused the gateway's own credentials (not the caller's). A 403 is not that:
    /// it refuses one call for a missing scope (counted as `missingScopes`).
    static func rejectsCredentials(_ error: any Error) -> Bool {
        switch error {
        case let error as HubSpotError: error.status == 401
        case let error as HubSpotClientError: if case .oauthRefreshFailed = error { true } else { false }
        default: false
        }
    }

    /// Errors that mean "HubSpot cannot be asked now", for which a stale read is better than none.
    static func isUnavailability(_ error: any Error) -> Bool {
        switch error {
        case is CircuitOpen, is RateLimitExceeded, is DeadlinePassed, is CurlError: true
        case let error as HubSpotError: error.status >= 500 || error.status == 429
        default: false
        }
    }
}

/// Runs one HubSpot call: a limiter slot, the breaker's permission, the call, and retries of
/// transient failures through the limiter again.
private struct Attempts: Sendable {
    let client: HubSpotClient
    let limiter: FixedWindowRateLimiter
    let breaker: CircuitBreaker
    let retryPolicy: HubSpotRetryPolicy
    let metrics: GatewayMetrics
    let logger: Logger

    /// - Parameter admitted: the first attempt already holds a limiter slot (a coalesced batch).
    func run<T>(
        _ kind: UpstreamCallKind, priority: CallPriority, deadline: ContinuousClock.Instant, idempotent: Bool,
        admitted: Bool,
        _ body: @Sendable (HubSpotClient, CallOptions) async throws -> T
    ) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            // A coalesced batch's slot was granted just before it was handed here.
            var granted = ContinuousClock.now
            if attempt > 1 || !admitted {
                // An open breaker refuses before the call waits for (and spends) budget.
                try breaker.refuseIfOpen()
                try await limiter.acquire(kind, priority: priority, deadline: deadline)
                granted = ContinuousClock.now
            }
            let permit = try breaker.permit()
            do {
                let result = try await HubSpotUpstream.$slotGrantedAt.withValue(granted) {
                    try await body(client, CallOptions(deadline: deadline, idempotent: idempotent))
                }
                breaker.record(.success, for: permit)
                return result
            } catch {
                breaker.record(HubSpotUpstream.outcome(of: error), for: permit)
                if HubSpotUpstream.rejectsCredentials(error) {
                    metrics.increment(GatewayMetrics.Name.credentialsRejected)
                } else if let error = error as? HubSpotError, error.status == 403 {
                    metrics.increment(GatewayMetrics.Name.missingScopes, [("bucket", kind.metricLabel)])
                } else if let error = error as? HubSpotError, error.status == 400, error.category == "VALIDATION_ERROR"
                {
                    metrics.increment(
                        GatewayMetrics.Name.validationRefusals,
                        [("code", error.errors.first?.code ?? "none")])
                }
                guard
                    let delay = retryPolicy.delay(
                        after: error, attempt: attempt, idempotent: idempotent, deadline: deadline)
                else { throw error }
                metrics.increment(GatewayMetrics.Name.upstreamRetries, [("bucket", kind.metricLabel)])
                logger.debug(
                    "retrying a HubSpot call through the limiter",
                    metadata: ["attempt": "\(attempt)", "delayMs": "\(delay.milliseconds)", "error": "\(error)"])
                try await Task.sleep(for: delay)
            }
        }
    }
}
