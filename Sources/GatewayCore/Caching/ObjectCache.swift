import Foundation
import HubSpotAPI
import Logging
import RedisClient
import Synchronization
import TimeConversions

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
public final class ObjectCache: Sendable {
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
    private let redis: RedisClient?
    private let logger: Logger
    private let metrics: GatewayMetrics
    private let inFlight = Mutex<[String: Task<HubSpotObject?, any Error>]>([:])
    private let local: Mutex<LocalEntries>
    private let outcomes = Mutex<(hits: Int, misses: Int)>((0, 0))
    private let pending: Mutex<PendingInvalidations>

    /// Hits ÷ (hits + misses) on this replica since it started (nil before the first read).
    public var hitRatio: Double? {
        let (hits, misses) = outcomes.withLock { $0 }
        return hits + misses == 0 ? nil : Double(hits) / Double(hits + misses)
    }

    public init(redis: RedisClient?, configuration: Configuration = .init(), metrics: GatewayMetrics = GatewayMetrics(), logger: Logger = Logger(label: "cache")) {
        self.redis = redis
        self.metrics = metrics
        self.configuration = configuration
        self.logger = logger
        self.local = Mutex(LocalEntries(capacity: configuration.localCapacity))
        self.pending = Mutex(PendingInvalidations(capacity: configuration.pendingInvalidationCapacity))
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
        let names = properties.sorted().joined(separator: ",")
        if redis != nil, freshness > .zero, configuration.nearTTL > .zero, freshness >= configuration.nearTTL,
           let near = local.withLock({ $0.near(type: type, id: id, properties: names, within: configuration.nearTTL) }),
           near.age <= (near.notFound ? min(freshness, configuration.notFoundTTL) : freshness) {
            metrics.increment(GatewayMetrics.Name.cacheReads, [("result", "hit")])
            metrics.increment(GatewayMetrics.Name.cacheNearHits)
            outcomes.withLock { $0.hits += 1 }
            return Read(object: near.object, source: .cache, age: near.age)
        }
        // The in-process version before asking Redis: an invalidation heard meanwhile makes
        // whatever this read brings back unusable for the near cache.
        let ticket = local.withLock { $0.ticket() }
        let entry = await lookup(type: type, id: id, properties: names)
        if let entry, entry.version >= 0, !(entry.object == nil && !entry.notFound) {
            local.withLock { $0.keep(entry.object, type: type, id: id, properties: names, age: entry.age, ticket: ticket, fill: entry.fill) }
        }
        // An in-process entry (Redis unreachable) missed other replicas' invalidations.
        let limit = entry.map { $0.version < 0 ? min(freshness, configuration.localTTL) : freshness } ?? freshness
        if let entry, freshness > .zero, entry.age <= (entry.notFound ? min(limit, configuration.notFoundTTL) : limit) {
            metrics.increment(GatewayMetrics.Name.cacheReads, [("result", "hit")])
            outcomes.withLock { $0.hits += 1 }
            return Read(object: entry.object, source: .cache, age: entry.age)
        }
        metrics.increment(GatewayMetrics.Name.cacheReads, [("result", "miss")])
        outcomes.withLock { $0.misses += 1 }
        let flightKey = "\(type)\u{0}\(id)\u{0}\(names)"
        do {
            let object = try await singleFlight(flightKey) {
                let object = try await fetch()
                await self.store(object, type: type, id: id, properties: names, at: entry.map { ($0.generation, $0.version) }, ticket: ticket)
                return object
            }
            return Read(object: object, source: .upstream, age: .zero)
        } catch {
            if let entry, !entry.notFound, canServeStale(error), entry.age <= configuration.ttl + configuration.staleTTL {
                metrics.increment(GatewayMetrics.Name.cacheReads, [("result", "stale")])
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
            logger.warning("could not invalidate a cached object in Redis; kept to retry", metadata: [
                "type": "\(type)", "id": "\(id)", "pending": "\(count)", "error": "\(error)",
            ])
        }
    }

    private func invalidateInRedis(_ redis: RedisClient, type: String, id: String) async throws {
        _ = try await redis.incr(.init(versionKey(type, id)), timeout: configuration.redisTimeout)
        _ = try await redis.expire(.init(versionKey(type, id)), seconds: Int((configuration.ttl + configuration.staleTTL).components.seconds) + 60, timeout: configuration.redisTimeout)
        // After the version moved: a replica that drops its copy and asks Redis again finds the new one.
        _ = try await redis.publish(.init(invalidationChannel), .init(Self.invalidationMessage(type: type, id: id)), timeout: configuration.redisTimeout)
    }

    // MARK: Invalidations kept through a Redis outage

    /// Objects whose invalidation has not reached Redis yet (and whether there were too many
    /// to remember one by one). Each carries the number of the latest failed attempt, so a
    /// retry that raced with a newer failure does not forget the newer one.
    private struct PendingInvalidations {
        let capacity: Int
        var objects: [String: UInt64] = [:]
        var attempts: UInt64 = 0
        /// More than `capacity` were pending: the whole cache is fenced instead.
        var overflowed = false

        var isEmpty: Bool { objects.isEmpty && !overflowed }
        var count: Int { overflowed ? capacity : objects.count }

        mutating func add(_ objectKey: String) -> Int {
            attempts += 1
            if !overflowed {
                objects[objectKey] = attempts
                if objects.count > capacity {
                    objects.removeAll()
                    overflowed = true
                }
            }
            return count
        }

        /// Forgets the object's pending invalidation if no newer one failed since `attempt`.
        mutating func made(_ objectKey: String, attempt: UInt64) {
            if objects[objectKey] == attempt { objects.removeValue(forKey: objectKey) }
        }

        func blocks(_ objectKey: String) -> Bool { overflowed || objects[objectKey] != nil }
    }

    /// How many invalidations wait for Redis on this replica.
    public var pendingInvalidationCount: Int { pending.withLock { $0.count } }

    /// Makes the kept invalidations in Redis (only `objectKey`'s, when given); throws, keeping
    /// what is left, when Redis fails. The fence of an overflow always goes first.
    private func flushPendingInvalidations(_ redis: RedisClient, only objectKey: String? = nil) async throws {
        let (objects, overflowed) = pending.withLock { state in
            (objectKey.map { key in state.objects[key].map { [key: $0] } ?? [:] } ?? state.objects, state.overflowed)
        }
        if overflowed {
            // Too many to name: every entry of the old generation is abandoned.
            _ = try await redis.incr(.init(generationKey), timeout: configuration.redisTimeout)
            _ = try await redis.publish(.init(invalidationChannel), .init(Self.everythingMessage), timeout: configuration.redisTimeout)
            pending.withLock { $0.overflowed = false }
            logger.notice("cache fenced: too many invalidations were kept through a Redis outage")
        }
        for (key, attempt) in objects {
            guard let separator = key.firstIndex(of: "\u{0}") else { continue }
            try await invalidateInRedis(redis, type: String(key[..<separator]), id: String(key[key.index(after: separator)...]))
            pending.withLock { $0.made(key, attempt: attempt) }
        }
        if !objects.isEmpty || overflowed {
            logger.notice("invalidations kept through a Redis outage are made", metadata: ["count": "\(objects.count)"])
            metrics.gauge(GatewayMetrics.Name.cachePendingInvalidations, [], Double(pending.withLock { $0.count }))
        }
    }

    /// Retries invalidations kept through a Redis outage every `pendingInvalidationRetryInterval`
    /// until cancelled, and once more when cancelled. Returns at once without Redis.
    public func runPendingInvalidations() async {
        guard let redis else { return }
        while !Task.isCancelled {
            if !pending.withLock({ $0.isEmpty }) { try? await flushPendingInvalidations(redis) }
            try? await Task.sleep(for: configuration.pendingInvalidationRetryInterval)
        }
        if !pending.withLock({ $0.isEmpty }) { try? await flushPendingInvalidations(redis) }
    }

    // MARK: Near cache

    /// The pub/sub channel invalidations are published on.
    var invalidationChannel: String { "\(configuration.keyPrefix):invalidations" }

    static func invalidationMessage(type: String, id: String) -> [UInt8] { Array("\(type)\u{0}\(id)".utf8) }
    /// Published when the cache generation moves: every replica drops all its copies.
    static let everythingMessage = Array("*".utf8)

    /// Sizes of the in-process bookkeeping: copies held, objects with copies, invalidations
    /// remembered. Each is bounded whatever the fleet invalidates.
    var localFootprint: (entries: Int, objects: Int, invalidations: Int) {
        local.withLock { ($0.entries.count, $0.copies.count, $0.invalidations.count) }
    }

    /// Whether this replica hears invalidations now (the near cache is on).
    public var isListening: Bool { local.withLock { $0.listening } }

    /// Listens for invalidations published by every replica (this one included) and keeps the
    /// near cache on while it hears them; resubscribes after Redis comes back. Runs until
    /// cancelled; returns at once without Redis or with `nearTTL` zero.
    public func runInvalidationListener() async {
        guard let redis, configuration.nearTTL > .zero else { return }
        var failures = 0
        while !Task.isCancelled {
            do {
                let subscription = try await redis.subscribe(to: [invalidationChannel])
                // SUBSCRIBE is sent without waiting for Redis: the near cache turns on only once
                // a probe published after it comes back, proving that messages arrive.
                let probe = Array("probe\u{0}\(UUID().uuidString)".utf8)
                let prober = Task {
                    while !Task.isCancelled, !self.isListening {
                        _ = try? await redis.publish(.init(self.invalidationChannel), .init(probe), timeout: self.configuration.redisTimeout)
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                }
                defer { prober.cancel() }
                for try await message in subscription.messages {
                    if message.payload == probe {
                        if local.withLock({ $0.startListening() }) {
                            failures = 0
                            logger.debug("near cache on: hearing invalidations")
                        }
                    } else if message.payload == Self.everythingMessage {
                        local.withLock { $0.removeAll() }
                    } else if let separator = message.payload.firstIndex(of: 0) {
                        let type = String(decoding: message.payload[..<separator], as: UTF8.self)
                        let id = String(decoding: message.payload[(separator + 1)...], as: UTF8.self)
                        local.withLock { $0.bump(type: type, id: id) }
                    }
                }
                await subscription.close()
            } catch {
                if failures == 0 { logger.notice("near cache off: the invalidation subscription failed", metadata: ["error": "\(error)"]) }
            }
            local.withLock { $0.stopListening() }
            failures += 1
            if Task.isCancelled { break }
            try? await Task.sleep(for: .milliseconds(Int64(min(5000, 100 << min(failures, 6))) ) * Double.random(in: 0.5...1))
        }
        local.withLock { $0.stopListening() }
    }

    // MARK: Entries

    private struct Entry {
        var object: HubSpotObject?
        var notFound: Bool
        var age: Duration
        var version: Int64
        /// The cache generation the entry was read under (with `version`, where a fill goes).
        var generation = "0"
        /// Which Redis fill this came from (nil: not read from Redis).
        var fill: Fill? = nil
    }

    /// A fill written to Redis, told apart by its fetch time and size: an in-process copy of the
    /// same fill needs no second JSON decoding.
    private struct Fill: Equatable {
        var fetched: Int64
        var length: Int
    }

    private func versionKey(_ type: String, _ id: String) -> String { "\(configuration.keyPrefix):version:\(type):\(id)" }
    /// The cache generation, moved when invalidations were lost track of (see `PendingInvalidations`).
    private var generationKey: String { "\(configuration.keyPrefix):generation" }
    private func entryPrefix(_ type: String, _ id: String) -> String { "\(configuration.keyPrefix):object:\(type):\(id):" }

    /// Reads the cache generation, the object's version and the entry under both in one round trip.
    static let lookupScript = RedisScript("""
        local generation = redis.call('GET', KEYS[2]) or '0'
        local version = redis.call('GET', KEYS[1]) or '0'
        return {version, redis.call('GET', ARGV[1] .. generation .. ':' .. version .. ':' .. ARGV[2]), generation}
        """)

    private func lookup(type: String, id: String, properties: String) async -> Entry? {
        guard let redis else { return local.withLock { $0.get(type: type, id: id, properties: properties) } }
        do {
            // Redis's entry of an object written during an outage may be older than the write:
            // make that invalidation first (the retry loop makes the others), or skip Redis.
            let objectKey = LocalEntries.objectKey(type, id)
            if pending.withLock({ $0.blocks(objectKey) }) {
                do { try await flushPendingInvalidations(redis, only: objectKey) } catch { return nil }
            }
            let reply = try await redis.evaluate(Self.lookupScript, keys: [.init(versionKey(type, id)), .init(generationKey)],
                                                 arguments: [.init(entryPrefix(type, id)), .init(properties)], timeout: configuration.redisTimeout)
            guard case .array(let values) = reply, values.count == 3, case .bulkString(let versionBytes) = values[0],
                  case .bulkString(let generationBytes) = values[2] else { return nil }
            let version = Int64(String(decoding: versionBytes, as: UTF8.self)) ?? 0
            let generation = String(decoding: generationBytes, as: UTF8.self)
            guard case .bulkString(let stored) = values[1], var entry = decode(stored, type: type, id: id, properties: properties) else {
                // A miss that knows the version to fill under.
                return Entry(object: nil, notFound: false, age: .seconds(1 << 40), version: version, generation: generation)
            }
            entry.version = version
            entry.generation = generation
            return entry
        } catch {
            logger.debug("cache lookup failed; reading through", metadata: ["error": "\(error)"])
            metrics.increment(GatewayMetrics.Name.redisFallbacks, [("component", "cache")])
            return local.withLock { $0.get(type: type, id: id, properties: properties) }
        }
    }

    private func store(_ object: HubSpotObject?, type: String, id: String, properties: String, at slot: (generation: String, version: Int64)?, ticket: UInt64) async {
        local.withLock { $0.keep(object, type: type, id: id, properties: properties, age: .zero, ticket: ticket, fill: nil) }
        // Without a version read from Redis (no Redis, or it failed) nothing is written there.
        guard let redis, let slot, slot.version >= 0 else { return }
        let keep = object == nil ? configuration.notFoundTTL : configuration.ttl + configuration.staleTTL
        do {
            _ = try await redis.set(.init(entryPrefix(type, id) + "\(slot.generation):\(slot.version):" + properties), .init(Self.encode(object)),
                expiration: .milliseconds(Int(max(1, keep.milliseconds))), timeout: configuration.redisTimeout)
        } catch {
            logger.debug("cache fill failed", metadata: ["error": "\(error)"])
        }
    }

    /// `<fetched at, ms since 1970>\n<JSON object or empty for not found>`
    private static func encode(_ object: HubSpotObject?) -> [UInt8] {
        var bytes = Array(String(Int64(Date().timeIntervalSince1970 * 1000)).utf8)
        bytes.append(UInt8(ascii: "\n"))
        if let object, let json = try? entryEncoder.encode(object) { bytes.append(contentsOf: json) }
        return bytes
    }

    /// Dates as HubSpot writes them (ISO-8601 with milliseconds), which is what
    /// `HubSpotObject`'s decoding reads back. Made once: JSON coders are not cheap to build.
    private static let entryEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(HubSpotTimestamp.format(date))
        }
        return encoder
    }()

    /// `HubSpotObject` decodes its own timestamps; no date strategy is needed.
    private static let entryDecoder = JSONDecoder()

    /// The entry stored in Redis; its JSON is decoded only when no in-process copy of the same
    /// fill exists (a hot entry is read from Redis on every hit while the near cache is off).
    private func decode(_ bytes: [UInt8], type: String, id: String, properties: String) -> Entry? {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")), let fetched = Int64(String(decoding: bytes[..<newline], as: UTF8.self)) else { return nil }
        let age = Duration.milliseconds(max(0, Int64(Date().timeIntervalSince1970 * 1000) - fetched))
        let fill = Fill(fetched: fetched, length: bytes.count)
        let body = bytes[(newline + 1)...]
        if body.isEmpty { return Entry(object: nil, notFound: true, age: age, version: 0, fill: fill) }
        if let known = local.withLock({ $0.object(type: type, id: id, properties: properties, from: fill) }) {
            return Entry(object: known, notFound: false, age: age, version: 0, fill: fill)
        }
        guard let object = try? Self.entryDecoder.decode(HubSpotObject.self, from: Data(body)) else { return nil }
        return Entry(object: object, notFound: false, age: age, version: 0, fill: fill)
    }

    // MARK: Single flight

    private func singleFlight(_ key: String, _ work: @escaping @Sendable () async throws -> HubSpotObject?) async throws -> HubSpotObject? {
        let task: Task<HubSpotObject?, any Error> = inFlight.withLock { flights in
            if let running = flights[key] { return running }
            let task = Task { try await work() }
            flights[key] = task
            return task
        }
        defer { _ = inFlight.withLock { flights in flights[key] == task ? flights.removeValue(forKey: key) : nil } }
        return try await task.value
    }

    // MARK: In-process fallback

    /// The in-process entries: the fallback cache without Redis, and the near cache while
    /// invalidations are heard. Both are bounded: entries by `capacity` (least recently used
    /// go first), and the memory of invalidations by `invalidationMemory`.
    private struct LocalEntries {
        struct Copy {
            var object: HubSpotObject?
            var fetched: ContinuousClock.Instant
            var stored: ContinuousClock.Instant
            var fill: Fill?
            /// `type\0id`, to find the object's other copies.
            var objectKey: String
        }

        /// How many recent invalidations are remembered for reads that overlap them.
        static func invalidationMemory(capacity: Int) -> Int { max(10_000, capacity * 10) }

        var entries: LRUMap<String, Copy>
        /// Keys of each object's copies (one per property set), so an invalidation drops all.
        var copies: [String: [String]] = [:]
        /// Sequence number of each recent invalidation, by `type\0id`.
        var invalidations: LRUMap<String, UInt64>
        /// The latest invalidation counted (a read's ticket).
        var sequence: UInt64 = 0
        /// The newest invalidation forgotten: an object not remembered may have been
        /// invalidated as late as this.
        var forgotten: UInt64 = 0
        /// Invalidations are heard (the near cache may serve).
        var listening = false

        init(capacity: Int) {
            entries = LRUMap(capacity: max(1, capacity))
            invalidations = LRUMap(capacity: Self.invalidationMemory(capacity: capacity))
        }

        func key(_ objectKey: String, _ properties: String) -> String { objectKey + "\u{0}" + properties }
        static func objectKey(_ type: String, _ id: String) -> String { "\(type)\u{0}\(id)" }

        /// Taken before a read: the copy it brings back is kept only if the object was not
        /// invalidated after this.
        func ticket() -> UInt64 { sequence }

        /// The fallback read (Redis unreachable).
        mutating func get(type: String, id: String, properties: String) -> Entry? {
            guard let hit = entries.get(key(Self.objectKey(type, id), properties)) else { return nil }
            return Entry(object: hit.object, notFound: hit.object == nil, age: .now - hit.fetched, version: -1)
        }

        /// The near read: only while listening, and only entries kept within `within`.
        mutating func near(type: String, id: String, properties: String, within: Duration) -> Entry? {
            guard listening, let hit = entries.get(key(Self.objectKey(type, id), properties)), .now - hit.stored <= within else { return nil }
            return Entry(object: hit.object, notFound: hit.object == nil, age: .now - hit.fetched, version: -1)
        }

        /// The object of the current copy when it came from `fill`.
        mutating func object(type: String, id: String, properties: String, from fill: Fill) -> HubSpotObject? {
            guard let hit = entries.get(key(Self.objectKey(type, id), properties)), hit.fill == fill else { return nil }
            return hit.object
        }

        /// Keeps a copy `age` old, unless the object was invalidated after `ticket` was taken.
        mutating func keep(_ object: HubSpotObject?, type: String, id: String, properties: String, age: Duration, ticket: UInt64, fill: Fill?) {
            let objectKey = Self.objectKey(type, id)
            guard (invalidations.peek(objectKey) ?? forgotten) <= ticket else { return }
            let key = key(objectKey, properties)
            let now = ContinuousClock.now
            let isNew = entries.peek(key) == nil
            if let evicted = entries.set(key, Copy(object: object, fetched: now - age, stored: now, fill: fill, objectKey: objectKey)) {
                forget(evicted.key, of: evicted.value.objectKey)
            }
            if isNew { copies[objectKey, default: []].append(key) }
        }

        mutating func bump(type: String, id: String) {
            let objectKey = Self.objectKey(type, id)
            sequence += 1
            if let evicted = invalidations.set(objectKey, sequence) { forgotten = max(forgotten, evicted.value) }
            for key in copies.removeValue(forKey: objectKey) ?? [] { entries.remove(key) }
        }

        private mutating func forget(_ key: String, of objectKey: String) {
            guard var keys = copies[objectKey] else { return }
            keys.removeAll { $0 == key }
            copies[objectKey] = keys.isEmpty ? nil : keys
        }

        mutating func removeAll() {
            entries.removeAll()
            copies.removeAll(keepingCapacity: true)
        }

        /// Turns the near cache on; true when it was off. What was kept while off may have
        /// missed invalidations, so it goes.
        mutating func startListening() -> Bool {
            guard !listening else { return false }
            removeAll()
            listening = true
            return true
        }

        mutating func stopListening() {
            if listening { removeAll() }
            listening = false
        }
    }
}
