import HubSpotAPI
import Logging
import Synchronization
import Time
import RedisClient

/// Reads by a unique property (`email`): which record holds a value is remembered next to the
/// records. The memory is only a hint: the door reads that record through the cache and uses
/// it only if it still holds the value (a write can move an email to another record), so it
/// needs no invalidation of its own.
extension ObjectCache {
    func uniqueKey(_ type: String, _ property: String, _ value: String) -> String {
        "\(configuration.keyPrefix):unique:\(type):\(property):\(UniqueValues.normalized(value, of: property))"
    }

    /// The id of the record last seen holding `value` of the unique `property`, if remembered.
    func uniqueId(type: String, property: String, value: String) async -> String? {
        let key = uniqueKey(type, property, value)
        if let redis {
            do {
                guard let id = try await redis.get(.init(key), timeout: configuration.redisTimeout) else { return nil }
                return String(decoding: id, as: UTF8.self)
            } catch {
                metrics.increment(GatewayMetrics.Name.redisFallbacks, [("component", "cache")])
            }
        }
        return localUniqueIds.withLock { $0.get(key) }
    }

    /// Remembers that the record `id` holds `value` of the unique `property`, for as long as
    /// its entries are kept.
    func rememberUnique(type: String, property: String, value: String, id: String) async {
        let key = uniqueKey(type, property, value)
        _ = localUniqueIds.withLock { $0.set(key, id) }
        guard let redis else { return }
        do {
            _ = try await redis.set(
                .init(key), .init(id),
                expiration: .milliseconds(Int((configuration.ttl + configuration.staleTTL).milliseconds)),
                timeout: configuration.redisTimeout)
        } catch {
            logger.debug("could not remember a unique value's record", metadata: ["error": "\(error)"])
        }
    }

    /// Taken before fetching a record whose id is not known yet (see `fill(_:properties:since:)`).
    func invalidationTicket() -> UInt64 { local.withLock { $0.ticket() } }

    /// Caches a record fetched by a unique value, as a read by id would have. That fetch took
    /// no version first (the id was not known), so the record is kept only while this replica
    /// hears invalidations and heard none of the record since `ticket`; otherwise the next read
    /// by id fetches it. (An invalidation still in flight in Redis pub/sub is the window left,
    /// the same one the near cache lives with.)
    func fill(_ object: HubSpotObject, type: String, properties: [String], since ticket: UInt64) async {
        let names = properties.joined(separator: ",")
        let objectKey = LocalEntries.objectKey(type, object.id)
        guard redis == nil || isListening, local.withLock({ $0.unchanged(objectKey, since: ticket) }) else { return }
        let entry = await lookup(type: type, id: object.id, properties: names)
        guard local.withLock({ $0.unchanged(objectKey, since: ticket) }) else { return }
        await store(
            object, type: type, id: object.id, properties: names, at: entry.map { ($0.generation, $0.version) },
            ticket: ticket)
    }
}

/// How HubSpot compares unique values: emails case-insensitively, other unique properties as given.
enum UniqueValues {
    static func normalized(_ value: String, of property: String) -> String {
        property == "email" || property == "hs_additional_emails" ? value.lowercased() : value
    }

    static func matches(_ held: String?, _ value: String, of property: String) -> Bool {
        guard let held else { return false }
        return normalized(held, of: property) == normalized(value, of: property)
    }
}
