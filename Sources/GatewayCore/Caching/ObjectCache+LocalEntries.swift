import Foundation
import HubSpotAPI
import Logging
import RedisClient
import Synchronization
import Time

/// The in-process tier: the fallback without Redis and the near cache.
extension ObjectCache {
    // MARK: In-process fallback

    /// The in-process entries: the fallback cache without Redis, and the near cache while
    /// invalidations are heard. Both are bounded: entries by `capacity` (least recently used
    /// go first), and the memory of invalidations by `invalidationMemory`.
    struct LocalEntries {
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
        mutating func get(type: String, id: String, properties: String, now: ContinuousClock.Instant) -> Entry? {
            guard let hit = entries.get(key(Self.objectKey(type, id), properties)) else { return nil }
            return Entry(object: hit.object, notFound: hit.object == nil, age: now - hit.fetched, version: -1)
        }

        /// The near read: only while listening, and only entries kept within `within`.
        mutating func near(
            type: String, id: String, properties: String, within: Duration, now: ContinuousClock.Instant
        ) -> Entry? {
            guard listening, let hit = entries.get(key(Self.objectKey(type, id), properties)),
                now - hit.stored <= within
            else { return nil }
            return Entry(object: hit.object, notFound: hit.object == nil, age: now - hit.fetched, version: -1)
        }

        /// The object of the current copy when it came from `fill`.
        mutating func object(type: String, id: String, properties: String, from fill: Fill) -> HubSpotObject? {
            guard let hit = entries.get(key(Self.objectKey(type, id), properties)), hit.fill == fill else { return nil }
            return hit.object
        }

        /// Whether no invalidation of the object was heard after `ticket` was taken.
        func unchanged(_ objectKey: String, since ticket: UInt64) -> Bool {
            (invalidations.peek(objectKey) ?? forgotten) <= ticket
        }

        /// Keeps a copy `age` old, unless the object was invalidated after `ticket` was taken.
        mutating func keep(
            _ object: HubSpotObject?, type: String, id: String, properties: String, age: Duration, ticket: UInt64,
            fill: Fill?, now: ContinuousClock.Instant
        ) {
            let objectKey = Self.objectKey(type, id)
            guard unchanged(objectKey, since: ticket) else { return }
            let key = key(objectKey, properties)
            let isNew = entries.peek(key) == nil
            if let evicted = entries.set(
                key, Copy(object: object, fetched: now - age, stored: now, fill: fill, objectKey: objectKey))
            {
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
