import Foundation
import Logging
import RedisClient
import Synchronization
import Time

/// HubSpot's metadata (pipelines, properties, owners, association types) in the shared cache:
/// it changes rarely, so it is kept for its own TTL, fetched once at a time per item across
/// callers of a replica (single flight), served stale when HubSpot cannot be asked, and
/// flushed fleet-wide on demand (a generation counter in Redis).
public final class MetadataCache: Sendable {
    public struct Configuration: Sendable {
        public var keyPrefix = "hubspot-gateway:metadata"
        /// How long an item is served without asking HubSpot.
        public var ttl: Duration = .seconds(600)
        /// How much longer an item is kept to be served when HubSpot cannot be asked.
        public var staleTTL: Duration = .seconds(24 * 3600)
        public var redisTimeout: Duration = .milliseconds(200)
        /// How long a replica reuses its last look at an item for `freshValue` (asked on every
        /// write, for its schema check): a flush elsewhere reaches those checks within this.
        public var lookupMemo: Duration = .seconds(2)

        public init() {}
    }

    public let configuration: Configuration
    let redis: RedisClient?
    let logger: Logger
    /// Without Redis (or while it is away): this replica's own copies, by key.
    private let local = Mutex<[String: (bytes: [UInt8], fetchedMs: Int64)]>([:])
    private let localGeneration = Atomic<Int>(0)
    private let flights = Mutex<[String: Task<[UInt8], any Error>]>([:])
    /// `freshValue`'s recent looks, decoded (nil: nothing fresh), by item.
    private let looks = Mutex<[String: (at: ContinuousClock.Instant, value: (any Sendable)?)]>([:])

    public init(redis: RedisClient?, configuration: Configuration = .init(), logger: Logger = Logger(label: "metadata"))
    {
        self.redis = redis
        self.configuration = configuration
        self.logger = logger
    }

    /// Where a copy came from, and how old it is.
    public struct Freshness: Sendable, Equatable {
        public var fromCache: Bool
        public var age: Duration
        /// Older than the TTL: HubSpot could not be asked.
        public var stale: Bool
    }

    var generationKey: RESPArgument { .init("\(configuration.keyPrefix):generation") }

    /// The item `name`: from the cache when younger than the TTL, else from `fetch` (one at a
    /// time per item); when `fetch` fails, a copy younger than TTL + stale TTL.
    public func value<T: Codable & Sendable>(
        _ name: String, as type: T.Type = T.self, fetch: @escaping @Sendable () async throws -> T
    ) async throws -> (T, Freshness) {
        let key = await entryKey(name)
        let nowMs = Date().epochMilliseconds
        let stored = await read(key)
        if let stored, nowMs - stored.fetchedMs <= configuration.ttl.milliseconds,
            let value = try? JSONDecoder().decode(T.self, from: Data(stored.bytes))
        {
            return (value, Freshness(fromCache: true, age: .milliseconds(nowMs - stored.fetchedMs), stale: false))
        }
        do {
            let bytes = try await singleFlight(key) {
                let bytes = Array(try JSONEncoder().encode(try await fetch()))
                await self.write(key, bytes)
                return bytes
            }
            // The next `freshValue` of the item sees the new copy.
            _ = looks.withLock { $0.removeValue(forKey: name) }
            return (
                try JSONDecoder().decode(T.self, from: Data(bytes)),
                Freshness(fromCache: false, age: .zero, stale: false)
            )
        } catch {
            guard let stored, nowMs - stored.fetchedMs <= (configuration.ttl + configuration.staleTTL).milliseconds,
                let value = try? JSONDecoder().decode(T.self, from: Data(stored.bytes))
            else { throw error }
            logger.debug("serving stale metadata", metadata: ["item": "\(name)", "error": "\(error)"])
            return (value, Freshness(fromCache: true, age: .milliseconds(nowMs - stored.fetchedMs), stale: true))
        }
    }

    /// The item `name` only when a copy younger than the TTL is at hand; never asks HubSpot.
    /// Looks are reused for `lookupMemo`: no Redis round trip or decoding per write.
    public func freshValue<T: Codable & Sendable>(_ name: String, as type: T.Type = T.self) async -> T? {
        let now = ContinuousClock.now
        if let look = looks.withLock({ $0[name] }), now - look.at < configuration.lookupMemo {
            return look.value as? T
        }
        let key = await entryKey(name)
        var value: T? = nil
        if let stored = await read(key), Date().epochMilliseconds - stored.fetchedMs <= configuration.ttl.milliseconds {
            value = try? JSONDecoder().decode(T.self, from: Data(stored.bytes))
        }
        looks.withLock { $0[name] = (now, value) }
        return value
    }

    /// The items of `names` that have a copy younger than the TTL, in two Redis round trips
    /// for all (the generation, one MGET); never asks HubSpot, and keeps no replica-local look.
    public func freshValues<T: Codable & Sendable>(_ names: [String], as type: T.Type = T.self) async -> [String: T] {
        guard !names.isEmpty else { return [:] }
        let stored = await read(await entryKeys(names))
        let nowMs = Date().epochMilliseconds
        var found: [String: T] = [:]
        for (name, copy) in zip(names, stored) {
            guard let copy, nowMs - copy.fetchedMs <= configuration.ttl.milliseconds,
                let value = try? JSONDecoder().decode(T.self, from: Data(copy.bytes))
            else { continue }
            found[name] = value
        }
        return found
    }

    /// Keeps values the caller fetched from HubSpot itself (many at once), as `value` keeps
    /// what its `fetch` returns: in one Redis round trip.
    public func store<T: Codable & Sendable>(_ values: [String: T]) async {
        let names = Array(values.keys)
        let keys = await entryKeys(names)
        var items: [(key: String, bytes: [UInt8])] = []
        for (name, key) in zip(names, keys) {
            guard let bytes = try? JSONEncoder().encode(values[name]!) else { continue }
            items.append((key, Array(bytes)))
        }
        await write(items)
        looks.withLock { looks in for name in names { looks[name] = nil } }
    }

    /// Forgets the items `names`, fleet-wide (a change the gateway made to them itself).
    public func forget(_ names: [String]) async {
        for name in names {
            let key = await entryKey(name)
            local.withLock { $0[key] = nil }
            looks.withLock { $0[name] = nil }
            if let redis {
                do {
                    _ = try await redis.del([.init(key)], timeout: configuration.redisTimeout)
                } catch {
                    logger.warning(
                        "could not forget a metadata item in Redis; other replicas keep it until its TTL",
                        metadata: ["item": "\(name)", "error": "\(error)"])
                }
            }
        }
    }

    /// Forgets every item, fleet-wide (the next read of each asks HubSpot).
    public func flush() async throws {
        localGeneration.add(1, ordering: .relaxed)
        local.withLock { $0.removeAll() }
        looks.withLock { $0.removeAll() }
        if let redis { _ = try await redis.incr(generationKey, timeout: configuration.redisTimeout) }
    }

    private func entryKey(_ name: String) async -> String { await entryKeys([name])[0] }

    /// The keys of `names` under the fleet's current generation (one Redis read for all).
    private func entryKeys(_ names: [String]) async -> [String] {
        var generation = localGeneration.load(ordering: .relaxed)
        if let redis,
            let text = try? await redis.get(generationKey, timeout: configuration.redisTimeout),
            let shared = Int(String(decoding: text, as: UTF8.self))
        {
            generation = shared
        }
        return names.map { "\(configuration.keyPrefix):\(generation):\($0)" }
    }

    private func read(_ key: String) async -> (bytes: [UInt8], fetchedMs: Int64)? { await read([key])[0] }

    /// Stored copies (one MGET): 8 bytes of fetch time (ms, big-endian), then the JSON. When
    /// Redis answers, its word stands — a key another replica forgot is gone here too; this
    /// replica's own copies are read only while Redis cannot be asked.
    private func read(_ keys: [String]) async -> [(bytes: [UInt8], fetchedMs: Int64)?] {
        if let redis {
            do {
                return try await redis.mget(keys.map { .init($0) }, timeout: configuration.redisTimeout).map { raw in
                    guard let raw, raw.count > 8 else { return nil }
                    let fetched = raw.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
                    return (Array(raw.dropFirst(8)), fetched)
                }
            } catch {
                // Redis cannot be asked: this replica's own copies.
            }
        }
        return local.withLock { local in keys.map { local[$0] } }
    }

    private func write(_ key: String, _ bytes: [UInt8]) async { await write([(key, bytes)]) }

    /// KEYS: the items' keys; ARGV: the expiry in ms, then one stored copy per key.
    private static let writeScript = RedisScript(
        """
        for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[1]) end
        return #KEYS
        """)

    /// Stores copies fetched now, here and in Redis (one round trip for all).
    private func write(_ items: [(key: String, bytes: [UInt8])]) async {
        let nowMs = Date().epochMilliseconds
        local.withLock { local in for item in items { local[item.key] = (item.bytes, nowMs) } }
        guard let redis, !items.isEmpty else { return }
        let stamp = (0..<8).map { UInt8(truncatingIfNeeded: nowMs >> (56 - 8 * $0)) }
        do {
            _ = try await redis.evaluate(
                Self.writeScript, keys: items.map { .init($0.key) },
                arguments: [.init(Int((configuration.ttl + configuration.staleTTL).milliseconds))]
                    + items.map { .init(stamp + $0.bytes) },
                timeout: configuration.redisTimeout)
        } catch {
            logger.debug("could not store metadata in Redis", metadata: ["error": "\(error)"])
        }
    }

    private func singleFlight(_ key: String, _ body: @escaping @Sendable () async throws -> [UInt8]) async throws
        -> [UInt8]
    {
        let task = flights.withLock { flights in
            if let running = flights[key] { return running }
            let task = Task { try await body() }
            flights[key] = task
            return task
        }
        defer { flights.withLock { if $0[key] == task { $0[key] = nil } } }
        return try await task.value
    }
}
