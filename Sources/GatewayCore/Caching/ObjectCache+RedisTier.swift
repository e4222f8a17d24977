import Foundation
import HubSpotAPI
import Logging
import RedisClient
import Synchronization
import Time

/// The shared tier: versioned entries in Redis and their encoding.
extension ObjectCache {
    // MARK: Entries

    struct Entry {
        var object: HubSpotObject?
        var notFound: Bool
        var age: Duration
        var version: Int64
        /// The cache generation the entry was read under (with `version`, where a fill goes).
        var generation = "0"
        /// Which Redis fill this came from (nil: not read from Redis).
        var fill: Fill? = nil
        /// The record was merged into this one: read that instead.
        var mergedInto: String? = nil
    }

    /// A fill written to Redis, told apart by its fetch time and size: an in-process copy of the
    /// same fill needs no second JSON decoding.
    struct Fill: Equatable {
        var fetched: Int64
        var length: Int
    }

    func versionKey(_ type: String, _ id: String) -> String { "\(configuration.keyPrefix):version:\(type):\(id)" }
    /// The cache generation, moved when invalidations were lost track of (see `PendingInvalidations`).
    var generationKey: String { "\(configuration.keyPrefix):generation" }
    func entryPrefix(_ type: String, _ id: String) -> String { "\(configuration.keyPrefix):object:\(type):\(id):" }

    /// Reads the cache generation, the object's version and the entry under both in one round trip.
    /// …and whether the record was merged into another (KEYS[3]), in the same round trip.
    static let lookupScript = RedisScript(
        """
        local generation = redis.call('GET', KEYS[2]) or '0'
        local version = redis.call('GET', KEYS[1]) or '0'
        return {version, redis.call('GET', ARGV[1] .. generation .. ':' .. version .. ':' .. ARGV[2]), generation,
                redis.call('GET', KEYS[3]) or ''}
        """)

    func lookup(type: String, id: String, properties: String) async -> Entry? {
        guard let redis else {
            return local.withLock { $0.get(type: type, id: id, properties: properties, now: time.now) }
        }
        do {
            // Redis's entry of an object written during an outage may be older than the write:
            // make that invalidation first (the retry loop makes the others), or skip Redis.
            let objectKey = LocalEntries.objectKey(type, id)
            if pending.withLock({ $0.blocks(objectKey) }) {
                do { try await flushPendingInvalidations(redis, only: objectKey) } catch { return nil }
            }
            let reply = try await redis.evaluate(
                Self.lookupScript,
                keys: [.init(versionKey(type, id)), .init(generationKey), .init(mergeKey(type, id))],
                arguments: [.init(entryPrefix(type, id)), .init(properties)], timeout: configuration.redisTimeout)
            guard case .array(let values) = reply, values.count == 4, case .bulkString(let versionBytes) = values[0],
                case .bulkString(let generationBytes) = values[2]
            else { return nil }
            if case .bulkString(let survivor) = values[3], !survivor.isEmpty {
                return Entry(
                    object: nil, notFound: false, age: .zero, version: -1,
                    mergedInto: String(decoding: survivor, as: UTF8.self))
            }
            let version = Int64(String(decoding: versionBytes, as: UTF8.self)) ?? 0
            let generation = String(decoding: generationBytes, as: UTF8.self)
            guard case .bulkString(let stored) = values[1],
                var entry = decode(stored, type: type, id: id, properties: properties)
            else {
                // A miss that knows the version to fill under.
                return Entry(
                    object: nil, notFound: false, age: .seconds(1 << 40), version: version, generation: generation)
            }
            entry.version = version
            entry.generation = generation
            return entry
        } catch {
            logger.debug("cache lookup failed; reading through", metadata: ["error": "\(error)"])
            metrics.increment(GatewayMetrics.Name.redisFallbacks, [("component", "cache")])
            return local.withLock { $0.get(type: type, id: id, properties: properties, now: time.now) }
        }
    }

    func store(
        _ object: HubSpotObject?, type: String, id: String, properties: String,
        at slot: (generation: String, version: Int64)?, ticket: UInt64
    ) async {
        local.withLock {
            $0.keep(
                object, type: type, id: id, properties: properties, age: .zero, ticket: ticket, fill: nil, now: time.now
            )
        }
        // Without a version read from Redis (no Redis, or it failed) nothing is written there.
        guard let redis, let slot, slot.version >= 0 else { return }
        let keep = object == nil ? configuration.notFoundTTL : configuration.ttl + configuration.staleTTL
        do {
            _ = try await redis.set(
                .init(entryPrefix(type, id) + "\(slot.generation):\(slot.version):" + properties),
                .init(Self.encode(object, fetchedAt: time.wallMilliseconds)),
                expiration: .milliseconds(Int(max(1, keep.milliseconds))), timeout: configuration.redisTimeout)
        } catch {
            logger.debug("cache fill failed", metadata: ["error": "\(error)"])
        }
    }

    /// `<fetched at, ms since 1970>\n<JSON object or empty for not found>`
    static func encode(_ object: HubSpotObject?, fetchedAt: Int64) -> [UInt8] {
        var bytes = Array(String(fetchedAt).utf8)
        bytes.append(UInt8(ascii: "\n"))
        if let object, let json = try? entryEncoder.encode(object) { bytes.append(contentsOf: json) }
        return bytes
    }

    /// Dates as HubSpot writes them (ISO-8601 with milliseconds), which is what
    /// `HubSpotObject`'s decoding reads back.
    static var entryEncoder: JSONEncoder { JSONCoding.encoder }

    /// `HubSpotObject` decodes its own timestamps; no date strategy is needed.
    static let entryDecoder = JSONDecoder()

    /// The entry stored in Redis; its JSON is decoded only when no in-process copy of the same
    /// fill exists (a hot entry is read from Redis on every hit while the near cache is off).
    func decode(_ bytes: [UInt8], type: String, id: String, properties: String) -> Entry? {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")),
            let fetched = Int64(String(decoding: bytes[..<newline], as: UTF8.self))
        else { return nil }
        let age = Duration.milliseconds(max(0, time.wallMilliseconds - fetched))
        let fill = Fill(fetched: fetched, length: bytes.count)
        let body = bytes[(newline + 1)...]
        if body.isEmpty { return Entry(object: nil, notFound: true, age: age, version: 0, fill: fill) }
        if let known = local.withLock({ $0.object(type: type, id: id, properties: properties, from: fill) }) {
            return Entry(object: known, notFound: false, age: age, version: 0, fill: fill)
        }
        guard let object = try? Self.entryDecoder.decode(HubSpotObject.self, from: Data(body)) else { return nil }
        return Entry(object: object, notFound: false, age: age, version: 0, fill: fill)
    }
}
