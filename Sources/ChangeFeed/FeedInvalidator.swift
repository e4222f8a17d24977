import ServiceLifecycle
import CoreMetrics
import GatewayCore
import Logging
import RedisClient

/// Drops the cached copies of every record a stored change affects, in every replica. The
/// fleet shares one consumer group on the feed: each event is taken by one replica, which
/// invalidates through the cache (the version in Redis, then pub/sub to every replica's near
/// cache) and only then acknowledges; an event a replica took and did not acknowledge (it died)
/// is claimed by another after `claimAfter`. So an accepted webhook invalidates even when the
/// replica that stored it is killed at once.
public struct FeedInvalidator: Service, Sendable {
    public struct Configuration: Sendable {
        /// The consumer group of the fleet's invalidation.
        public var group = "hubspot-gateway-cache"
        /// How long an event may stay unacknowledged before another replica takes it.
        public var claimAfter: Duration = .seconds(5)
        /// Longest wait for new events in one read.
        public var block: Duration = .seconds(1)
        /// Pause after a failed read (Redis unreachable) before trying again.
        public var retryInterval: Duration = .milliseconds(500)

        public init() {}
    }

    public static let redeliveriesMetric = "gateway_feed_invalidation_redeliveries_total"
    public static let invalidationsMetric = "gateway_feed_invalidations_total"

    let feed: ChangeFeed
    let cache: ObjectCache
    let consumer: String
    let configuration: Configuration
    let logger: Logger

    public init(
        feed: ChangeFeed, cache: ObjectCache, consumer: String, configuration: Configuration = .init(),
        logger: Logger
    ) {
        self.feed = feed
        self.cache = cache
        self.consumer = consumer
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until cancelled or the replica shuts down.
    public func run() async { await cancelWhenGracefulShutdown { await self.loop() } }

    func loop() async {
        var groupReady = false
        while !Task.isCancelled {
            do {
                if !groupReady {
                    try await feed.redis.createGroup(
                        .init(feed.configuration.streamKey), group: configuration.group, startAt: "$",
                        timeout: feed.configuration.redisTimeout)
                    groupReady = true
                }
                try await step()
            } catch is CancellationError {
                return
            } catch {
                if "\(error)".contains("NOGROUP") { groupReady = false }
                logger.debug("the feed's invalidation could not read; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: configuration.retryInterval)
            }
        }
    }

    /// Claims events others left, then takes new ones; invalidates and acknowledges each batch.
    func step() async throws {
        let stream = RESPArgument(feed.configuration.streamKey)
        let (_, claimed) = try await feed.redis.xautoclaim(
            stream, group: configuration.group, consumer: consumer, minIdle: configuration.claimAfter, count: 100,
            timeout: feed.configuration.redisTimeout)
        if !claimed.isEmpty {
            Counter(label: Self.redeliveriesMetric).increment(by: claimed.count)
            try await invalidate(claimed)
        }
        let entries = try await feed.redis.xreadgroup(
            group: configuration.group, consumer: consumer, stream, count: 100, block: configuration.block,
            timeout: configuration.block + feed.configuration.redisTimeout)
        try await invalidate(entries)
    }

    func invalidate(_ entries: [RedisClient.StreamEntry]) async throws {
        guard !entries.isEmpty else { return }
        for entry in entries {
            guard let event = ChangeEvent(entry) else { continue }
            var redirected = Set<String>()
            if event.kind == .merged, let primary = event.primaryObjectId {
                // Reads of the merged-away ids are answered with the survivor from now on
                // (remembering a merge also invalidates the old id).
                for id in event.mergedObjectIds where id != primary {
                    await cache.rememberMerge(type: event.objectType, id: id, into: primary)
                    redirected.insert(id)
                }
            }
            for record in event.affectedRecords
            where !(record.type == event.objectType && redirected.contains(record.id)) {
                await cache.invalidate(type: record.type, id: record.id)
            }
        }
        Counter(label: Self.invalidationsMetric).increment(by: entries.count)
        try await feed.redis.xack(
            .init(feed.configuration.streamKey), group: configuration.group, ids: entries.map(\.id),
            timeout: feed.configuration.redisTimeout)
    }
}
