import Foundation
import HubSpotAPI
import Logging
import RedisClient
import Time

/// The door's configuration: one value per component it is made of.
public struct DoorConfiguration: Sendable {
    public var hubspot: HubSpotClientConfiguration
    public var limits = RateLimiterConfiguration()
    public var breaker = CircuitBreaker.Configuration()
    public var cache = ObjectCache.Configuration()
    public var metadata = MetadataCache.Configuration()
    /// Subscription statuses (communication preferences): a short TTL, never stale.
    public var preferences = SubscriptionPreferences.defaultCacheConfiguration
    public var batching = HubSpotUpstream.Configuration()

    public init(baseURL: String = "https://api.hubapi.com") { hubspot = HubSpotClientConfiguration(baseURL: baseURL) }

    /// Every Redis key and channel of the door under `prefix` (a fleet of its own on a shared
    /// Redis; each test).
    public mutating func prefixKeys(_ prefix: String) {
        limits.keyPrefix = prefix + ":ratelimit"
        cache.keyPrefix = prefix + ":cache"
        metadata.keyPrefix = prefix + ":metadata"
        preferences.keyPrefix = prefix + ":preferences"
    }

    /// The longest Redis round trip of the limiter and the object cache (on every call's path).
    public var redisTimeout: Duration {
        get { limits.redisTimeout }
        set {
            limits.redisTimeout = newValue
            cache.redisTimeout = newValue
        }
    }
}

extension CRM {
    /// The domain on a door built from `configuration`: the one place the door is assembled.
    /// - Parameters:
    ///   - redis: the fleet's shared state Redis (nil: this replica limits and caches alone).
    ///   - cacheRedis: the Redis of the object and metadata caches, which may evict (nil: `redis`).
    ///   - developer: the app's developer-platform client credentials (the webhooks journal),
    ///     for a second client the door holds, whose calls go through the same budget and breaker.
    ///   - observer: told of every HTTP exchange with HubSpot besides the limiter and metrics.
    ///   - breakerNow: the breaker's clock (tests), else `time`'s.
    public init(
        door configuration: DoorConfiguration, credentials: HubSpotCredentials,
        developer: ClientCredentials? = nil, redis: RedisClient?, cacheRedis: RedisClient? = nil,
        transport: CurlTransport, replicaID: String = UUID().uuidString, metrics: GatewayMetrics = GatewayMetrics(),
        time: TimeSource = .system,
        breakerNow: (@Sendable () -> ContinuousClock.Instant)? = nil,
        observer: @escaping @Sendable (HubSpotExchange) -> Void = { _ in }, logger: Logger
    ) {
        let limiter = FixedWindowRateLimiter(
            redis: redis, configuration: configuration.limits, replicaID: replicaID, metrics: metrics, time: time,
            logger: logger)
        let observe = HubSpotUpstream.observer(for: limiter, metrics: metrics)
        let client = HubSpotClient(
            transport: transport, credentials: credentials, configuration: configuration.hubspot, time: time,
            logger: logger
        ) { exchange in
            observe(exchange)
            observer(exchange)
        }
        let developerClient = developer.map {
            HubSpotClient(
                transport: transport, credentials: .clientCredentials($0), configuration: configuration.hubspot,
                time: time, logger: logger, observer: observe)
        }
        let upstream = HubSpotUpstream(
            client: client, developerClient: developerClient, limiter: limiter,
            breaker: CircuitBreaker(
                configuration: configuration.breaker, metrics: metrics, logger: logger,
                now: breakerNow ?? { time.now }),
            cache: ObjectCache(
                redis: cacheRedis ?? redis, configuration: configuration.cache, metrics: metrics, time: time,
                logger: logger),
            configuration: configuration.batching, metrics: metrics, logger: logger)
        self.init(
            upstream: upstream,
            metadataCache: MetadataCache(
                redis: cacheRedis ?? redis, configuration: configuration.metadata, logger: logger),
            preferencesCache: MetadataCache(
                redis: cacheRedis ?? redis, configuration: configuration.preferences, logger: logger))
    }
}
