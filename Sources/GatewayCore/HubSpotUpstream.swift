import HubSpotAPI
import Logging

/// The single door to HubSpot: every call the gateway makes goes cache → coalescer → rate
/// limiter → circuit breaker → `HubSpotClient`, within the caller's deadline.
public final class HubSpotUpstream: Sendable {
    public let client: HubSpotClient
    public let limiter: FixedWindowRateLimiter
    public let breaker: CircuitBreaker
    public let cache: ObjectCache
    private let interactiveReads: BatchReadCoalescer
    private let bulkReads: BatchReadCoalescer
    private let logger: Logger

    public init(client: HubSpotClient, limiter: FixedWindowRateLimiter, breaker: CircuitBreaker, cache: ObjectCache, logger: Logger = Logger(label: "upstream")) {
        self.client = client
        self.limiter = limiter
        self.breaker = breaker
        self.cache = cache
        self.logger = logger
        func coalescer(_ priority: CallPriority) -> BatchReadCoalescer {
            BatchReadCoalescer(admit: { deadline in
                try await limiter.acquire(.general, priority: priority, deadline: deadline)
            }, fetch: { type, ids, properties, deadline in
                try await Self.guarded(breaker) {
                    try await client.batchRead(type, ids: ids, properties: properties, options: CallOptions(deadline: deadline))
                }
            })
        }
        interactiveReads = coalescer(.interactive)
        bulkReads = coalescer(.bulk)
    }

    /// The client observer that tells `limiter` what HubSpot's rate-limit headers say; pass it
    /// to the `HubSpotClient` this upstream will use.
    public static func observer(for limiter: FixedWindowRateLimiter) -> @Sendable (HubSpotExchange) -> Void {
        { exchange in
            guard exchange.status == 429 || exchange.rateLimit.remaining == 0 else { return }
            let kind: UpstreamCallKind = exchange.endpoint.contains("search") ? .search : .general
            let interval = exchange.rateLimit.intervalMilliseconds.map { Duration.milliseconds($0) }
            Task { await limiter.observe(kind: kind, status: exchange.status, remaining: exchange.rateLimit.remaining, interval: interval) }
        }
    }

    /// One object, from the shared cache when fresh enough, else from a coalesced batch read.
    /// A stale copy is served when HubSpot cannot be asked (breaker open, no budget in time).
    public func readObject(
        type: String, id: String, properties: [String], maxStaleness: Duration? = nil,
        priority: CallPriority = .interactive, deadline: ContinuousClock.Instant
    ) async throws -> ObjectCache.Read {
        let reads = priority == .interactive ? interactiveReads : bulkReads
        return try await cache.read(type: type, id: id, properties: properties, maxStaleness: maxStaleness, canServeStale: Self.isUnavailability) {
            try await reads.read(type: type, id: id, properties: properties, deadline: deadline)
        }
    }

    /// Any other HubSpot call, counted against `kind`'s budget and guarded by the breaker.
    /// Objects named in `invalidating` are dropped from the cache after a write.
    public func call<T: Sendable>(
        _ kind: UpstreamCallKind = .general, priority: CallPriority = .interactive, deadline: ContinuousClock.Instant,
        invalidating objects: [(type: String, id: String)] = [],
        _ body: @Sendable (HubSpotClient, CallOptions) async throws -> T
    ) async throws -> T {
        try await limiter.acquire(kind, priority: priority, deadline: deadline)
        defer {
            if !objects.isEmpty {
                let cache = self.cache
                Task { for object in objects { await cache.invalidate(type: object.type, id: object.id) } }
            }
        }
        return try await Self.guarded(breaker) { try await body(client, CallOptions(deadline: deadline)) }
    }

    /// Runs one HubSpot call through the breaker and tells it how the call went.
    static func guarded<T>(_ breaker: CircuitBreaker, _ body: () async throws -> T) async throws -> T {
        let permit = try breaker.permit()
        do {
            let result = try await body()
            breaker.record(.success, for: permit)
            return result
        } catch {
            breaker.record(outcome(of: error), for: permit)
            throw error
        }
    }

    /// 5xx, timeouts and connection failures count against HubSpot; 4xx (429 included) do not.
    static func outcome(of error: any Error) -> CircuitBreaker.Outcome {
        switch error {
        case let error as HubSpotError: error.status >= 500 ? .failure : .ignored
        case is CurlError: .failure
        default: .ignored
        }
    }

    /// Errors that mean "HubSpot cannot be asked now", for which a stale read is better than none.
    static func isUnavailability(_ error: any Error) -> Bool {
        switch error {
        case is CircuitOpen, is RateLimitExceeded, is CurlError: true
        case let error as HubSpotError: error.status >= 500 || error.status == 429
        default: false
        }
    }
}
