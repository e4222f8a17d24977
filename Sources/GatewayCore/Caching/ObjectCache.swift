import ServiceLifecycle
import CoreMetrics
import Foundation
import HubSpotAPI
import Logging
import RedisClient
import Synchronization
import Tracing
import Time

/// A read-through cache of HubSpot objects in the Redis all replicas share.
///
/// Entries are keyed by object type, id, property set and the object's *version*, a counter
/// that every write through the gateway increments (`invalidate`). A fill writes under the
/// version it read before fetching, so a fill that raced with a write lands under an old
/// version nobody reads any more: the old value never comes back. Entries are fresh for `ttl`
/// and kept `staleTTL` longer for serving when HubSpot cannot be asked (breaker open, budget
/// exhausted). Concurrent misses of one entry on one replica cost one fetch. Without Redis the
/// cache falls back to a small in-process map.
///
/// While `runInvalidationListener()` runs, that in-process map is also a *near cache* in front
/// of Redis: every invalidation is published through Redis pub/sub, each replica drops its
/// copies when the message arrives, and hot entries are served for up to `nearTTL` without a
/// Redis round trip. Whenever the subscription is down the near cache is off and emptied, so
/// missed messages cannot leave old copies behind.
public final class ObjectCache: Service, Sendable {
    public struct Configuration: Sendable {
        public var keyPrefix = "hubspot-gateway:cache"
        /// How long an entry is fresh.
        public var ttl: Duration = .seconds(300)
        /// How much longer an entry is kept for stale-if-error serving.
        public var staleTTL: Duration = .seconds(3600)
        /// How long a HubSpot 404 is remembered.
        public var notFoundTTL: Duration = .seconds(30)
        /// Longest Redis round trip before the cache is skipped for this read.
        public var redisTimeout: Duration = .milliseconds(50)
        /// Entries of the in-process cache used when Redis is not available.
        public var localCapacity = 1000
        /// How long an in-process entry counts as fresh. Writes through other replicas cannot
        /// invalidate it, so this bounds how stale a read can be while Redis is unreachable.
        public var localTTL: Duration = .seconds(10)
        /// How long a replica serves an entry from memory without asking Redis, while it hears
        /// the other replicas' invalidations (zero: never). A write through another replica
        /// reaches this replica's memory as fast as Redis pub/sub delivers (milliseconds);
        /// this bounds the damage if a message were lost while the subscription looked up.
        /// Reads whose `maxStaleness` is below it always ask Redis.
        public var nearTTL: Duration = .seconds(5)
        /// Invalidations that could not be made in Redis (it was unreachable) are kept and
        /// retried this often until they land, so a write acknowledged during an outage is
        /// not followed by reads of the old entry once Redis is back.
        public var pendingInvalidationRetryInterval: Duration = .milliseconds(100)
        /// Most objects whose invalidation is kept for retrying; past it the whole cache is
        /// fenced instead (a new cache generation: every entry is refetched once).
        public var pendingInvalidationCapacity = 100_000

        public init() {}
    }

    /// Where an answer came from.
    public enum Source: Sendable, Equatable {
        case cache
        case upstream
        /// Older than asked for, served because HubSpot could not be asked.
        case stale
    }

    public struct Read: Sendable {
        /// nil: HubSpot does not have the object.
        public var object: HubSpotObject?
        public var source: Source
        /// Age of the data (zero when just fetched).
        public var age: Duration
    }

    public let configuration: Configuration
    let redis: RedisClient?
    /// What entry ages and the in-process lifetimes are measured by.
    let time: TimeSource
    let logger: Logger
    let metrics: GatewayMetrics
    /// The tracer bootstrapped before this cache was made; nil when traces are not exported
    /// (asking `InstrumentationSystem` and making no-op spans cost ~2 % of a cache hit).
    let tracer: (any Tracer)?
    /// Fetches under way on this replica, with how many reads wait for each.
    let inFlight = Mutex<[String: (task: Task<HubSpotObject?, any Error>, readers: Int)]>([:])
    let local: Mutex<LocalEntries>
    let outcomes = Mutex<(hits: Int, misses: Int)>((0, 0))
    let pending: Mutex<PendingInvalidations>
    /// Unique value → id hints kept in process when Redis cannot be asked.
    let localUniqueIds: Mutex<LRUMap<String, String>>
    /// Merged-away record → surviving id, kept in process too (merges are rare and permanent).
    let localMerges: Mutex<LRUMap<String, String>>

    /// Hits ÷ (hits + misses) on this replica since it started (nil before the first read).
    public var hitRatio: Double? {
        let (hits, misses) = outcomes.withLock { $0 }
        return hits + misses == 0 ? nil : Double(hits) / Double(hits + misses)
    }

    public init(
        redis: RedisClient?, configuration: Configuration = .init(), metrics: GatewayMetrics = GatewayMetrics(),
        time: TimeSource = .system, logger: Logger = Logger(label: "cache")
    ) {
        self.redis = redis
        self.time = time
        self.metrics = metrics
        self.tracer = InstrumentationSystem.tracer is NoOpTracer ? nil : InstrumentationSystem.tracer
        self.configuration = configuration
        self.logger = logger
        self.local = Mutex(LocalEntries(capacity: configuration.localCapacity))
        self.pending = Mutex(PendingInvalidations(capacity: configuration.pendingInvalidationCapacity))
        self.localUniqueIds = Mutex(LRUMap(capacity: max(1, configuration.localCapacity)))
        self.localMerges = Mutex(LRUMap(capacity: max(1, configuration.localCapacity)))
    }

    /// The object, from cache when it is at most `maxStaleness` old (nil: `ttl`; zero:
    /// always ask HubSpot), else through `fetch` (whose answer is cached). When `fetch` fails
    /// with an error `canServeStale` accepts, a stale entry is served instead.
    public func read(
        type: String, id: String, properties: [String], maxStaleness: Duration? = nil,
        canServeStale: @Sendable (any Error) -> Bool = { _ in true },
        fetch: @escaping @Sendable () async throws -> HubSpotObject?
    ) async throws -> Read {
        let freshness = min(maxStaleness ?? configuration.ttl, configuration.ttl)
        // Normalized by the door (`PropertyNames`): one entry per property set.
        let names = properties.joined(separator: ",")
        // The lookup's span ends before the fetch (which has spans of its own).
        let lookupSpan = tracer?.startSpan("cache.lookup")
        lookupSpan?.attributes["gateway.object_type"] = type
        if redis != nil, freshness > .zero, configuration.nearTTL > .zero, freshness >= configuration.nearTTL,
            let near = local.withLock({
                $0.near(type: type, id: id, properties: names, within: configuration.nearTTL, now: time.now)
            }),
            near.age <= (near.notFound ? min(freshness, configuration.notFoundTTL) : freshness)
        {
            metrics.cacheReadCounters.hit.increment()
            metrics.cacheReadCounters.nearHit.increment()
            outcomes.withLock { $0.hits += 1 }
            lookupSpan?.attributes["gateway.cache.result"] = "near_hit"
            lookupSpan?.end()
            return Read(object: near.object, source: .cache, age: near.age)
        }
        // The in-process version before asking Redis: an invalidation heard meanwhile makes
        // whatever this read brings back unusable for the near cache.
        let ticket = local.withLock { $0.ticket() }
        let entry =
            if let lookupSpan {
                await InstrumentationContext.withValue(lookupSpan.context) {
                    await lookup(type: type, id: id, properties: names)
                }
            } else {
                await lookup(type: type, id: id, properties: names)
            }
        // Redis answers merges in the same lookup; the in-process memory of them is asked only
        // when Redis did not answer.
        let answeredByRedis = entry.map { $0.version >= 0 } ?? false
        if let survivor = entry?.mergedInto
            ?? (answeredByRedis ? nil : localMerges.withLock({ $0.get(LocalEntries.objectKey(type, id)) }))
        {
            lookupSpan?.attributes["gateway.cache.result"] = "merged"
            lookupSpan?.end()
            throw RecordMerged(type: type, id: id, survivorId: survivor)
        }
        if let entry, entry.version >= 0, !(entry.object == nil && !entry.notFound) {
            local.withLock {
                $0.keep(
                    entry.object, type: type, id: id, properties: names, age: entry.age, ticket: ticket,
                    fill: entry.fill, now: time.now)
            }
        }
        // An in-process entry (Redis unreachable) missed other replicas' invalidations.
        let limit = entry.map { $0.version < 0 ? min(freshness, configuration.localTTL) : freshness } ?? freshness
        if let entry, freshness > .zero, entry.age <= (entry.notFound ? min(limit, configuration.notFoundTTL) : limit) {
            metrics.cacheReadCounters.hit.increment()
            outcomes.withLock { $0.hits += 1 }
            lookupSpan?.attributes["gateway.cache.result"] = entry.version < 0 ? "local_hit" : "hit"
            lookupSpan?.end()
            return Read(object: entry.object, source: .cache, age: entry.age)
        }
        metrics.cacheReadCounters.miss.increment()
        outcomes.withLock { $0.misses += 1 }
        lookupSpan?.attributes["gateway.cache.result"] = "miss"
        lookupSpan?.end()
        let flightKey = "\(type)\u{0}\(id)\u{0}\(names)"
        do {
            let object = try await singleFlight(flightKey) {
                let object = try await fetch()
                await self.store(
                    object, type: type, id: id, properties: names, at: entry.map { ($0.generation, $0.version) },
                    ticket: ticket)
                return object
            }
            return Read(object: object, source: .upstream, age: .zero)
        } catch {
            if let entry, !entry.notFound, canServeStale(error), entry.age <= configuration.ttl + configuration.staleTTL
            {
                metrics.cacheReadCounters.stale.increment()
                return Read(object: entry.object, source: .stale, age: entry.age)
            }
            throw error
        }
    }

    /// Forgets every cached variant of an object (call after writing it through the gateway).
    /// When Redis cannot be reached the invalidation is kept and made as soon as it can be;
    /// until then this replica serves no Redis entry of the object.
    public func invalidate(type: String, id: String) async {
        local.withLock { $0.bump(type: type, id: id) }
        guard let redis else { return }
        do {
            try await invalidateInRedis(redis, type: type, id: id)
        } catch {
            let count = pending.withLock { $0.add(LocalEntries.objectKey(type, id)) }
            metrics.gauge(GatewayMetrics.Name.cachePendingInvalidations, [], Double(count))
            logger.warning(
                "could not invalidate a cached object in Redis; kept to retry",
                metadata: [
                    "type": "\(type)", "id": "\(id)", "pending": "\(count)", "error": "\(error)",
                ])
        }
    }

    func invalidateInRedis(_ redis: RedisClient, type: String, id: String) async throws {
        _ = try await redis.incr(.init(versionKey(type, id)), timeout: configuration.redisTimeout)
        _ = try await redis.expire(
            .init(versionKey(type, id)),
            seconds: Int((configuration.ttl + configuration.staleTTL).components.seconds) + 60,
            timeout: configuration.redisTimeout)
        // After the version moved: a replica that drops its copy and asks Redis again finds the new one.
        _ = try await redis.publish(
            .init(invalidationChannel), .init(Self.invalidationMessage(type: type, id: id)),
            timeout: configuration.redisTimeout)
    }
}
