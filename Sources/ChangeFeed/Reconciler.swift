import ServiceLifecycle
import Foundation
import GatewayCore
import JSONCore
import Logging
import RedisClient
import Time

/// Settings of the reconciler (`--reconcile-*` options).
public struct ReconcilerConfiguration: Sendable {
    /// The object types polled.
    public var objectTypes = ["contacts", "companies", "deals", "tickets"]
    /// Pause between passes over every type.
    public var interval: Duration = .seconds(30)
    /// How far behind its watermark a pass starts again: HubSpot's search lags behind writes.
    public var lookback: Duration = .seconds(300)
    /// Pause between two scans of the archived records for deletions (each scan lists every
    /// archived record of a type: HubSpot cannot filter that list by time).
    public var deletionsInterval: Duration = .seconds(300)
    /// The reconciler's share of the budget: at most this many HubSpot calls a second (its
    /// searches and archived-list pages together), on top of bulk priority.
    public var callsPerSecond = 1.0
    /// Results per search call (HubSpot's maximum is 200).
    public var pageSize = 200
    /// Longest wait of one call for the budget and HubSpot.
    public var callTimeout: Duration = .seconds(60)
    /// Where the watermarks live.
    public var keyPrefix = "hubspot-gateway:reconciler"
    /// Results one search query can page through (HubSpot stops at 10,000).
    public var searchWindow = 10_000
    /// Per type, the properties whose values the reconciler keeps and compares, so that its
    /// UPDATED events name which of them changed (`--reconcile-properties`).
    public var comparedProperties: [String: [String]] = [:]
    /// How long the compared values of a record are kept after its last change, and its
    /// associations after the last scan that saw it.
    public var comparedValuesTTL: Duration = .seconds(7 * 24 * 3600)
    /// Pause between two scans of a type's associations (nil: no scan). HubSpot's modification
    /// times do not move when only associations change, so a scan reads every record's
    /// associations (`scannedAssociations`) and compares them with what it kept.
    public var associationScanInterval: Duration? = .seconds(600)
    /// Pages (100 records each, one call) of the association scan in each pass, so that a long
    /// scan never holds up the passes' changes.
    public var associationScanPagesPerPass = 5

    public init() {}
}

/// Publishes into the feed the changes HubSpot's webhooks did not deliver (a misconfigured
/// subscription, a token without a public app, a type nobody subscribed to), by searching each
/// type for records modified since its watermark, and the archived list for deletions — on one
/// replica at a time, under a lease, at bulk priority through the door and paced. One event per
/// (record, modification time) whichever intake sees it first: a re-read of the lookback
/// publishes nothing twice, nor does a change a webhook already delivered (the feed's change
/// keys).
public struct Reconciler: Service, Sendable {
    let crm: CRM
    let feed: ChangeFeed
    let lease: FeedLease
    let replica: String
    public let configuration: ReconcilerConfiguration
    let pacer: IntervalPacer
    let logger: Logger

    public init(
        crm: CRM, feed: ChangeFeed, lease: FeedLease, replica: String, configuration: ReconcilerConfiguration = .init(),
        logger: Logger
    ) {
        self.crm = crm
        self.feed = feed
        self.lease = lease
        self.replica = replica
        self.configuration = configuration
        self.pacer = IntervalPacer(perSecond: configuration.callsPerSecond)
        self.logger = logger
    }

    /// Where the watermark of `type` lives: the newest modification time a pass reached.
    public func watermarkKey(_ type: String) -> String { "\(configuration.keyPrefix):watermark:\(type)" }
    func deletionsWatermarkKey(_ type: String) -> String { "\(configuration.keyPrefix):deletions:\(type)" }
    func mergedKey(_ type: String, _ id: String) -> String { "\(configuration.keyPrefix):merged:\(type):\(id)" }
    func comparedKey(_ type: String, _ id: String) -> String { "\(configuration.keyPrefix):compared:\(type):\(id)" }
    /// Where the association scan of `type` stands: the list cursor of its next page ("" at
    /// the start), or `done <ms>` between scans.
    func associationScanKey(_ type: String) -> String { "\(configuration.keyPrefix):association-scan:\(type)" }

    /// The associations the scan compares, per type: between the standard objects.
    static let scannedAssociations: [String: [String]] = [
        "contacts": ["companies", "deals", "tickets"], "companies": ["contacts", "deals", "tickets"],
        "deals": ["contacts", "companies", "tickets"], "tickets": ["contacts", "companies", "deals"],
    ]

    /// KEYS: the records' compared-values keys; ARGV: ttl seconds, then one value per key.
    static let keepComparedScript = RedisScript(
        """
        for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ARGV[1]) end
        return #KEYS
        """)

    /// The compared properties' values of `record`, as kept in Redis.
    static func comparedValues(_ record: CRMRecord, _ names: [String]) -> [UInt8] {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        for name in names.sorted() {
            w.key(name)
            w.optionalString(record[name])
        }
        w.endObject()
        return w.bytes
    }

    /// Which of `names` differ between the kept values and `record`; nil without kept values.
    static func changed(_ kept: [UInt8]?, _ record: CRMRecord, _ names: [String]) -> [String]? {
        guard let kept, let before = try? JSONParser.parse(kept), case .object = before else { return nil }
        return names.sorted().filter { name in
            let old = before[name].flatMap { $0.isNull ? nil : $0.stringValue }
            return old != record[name]
        }
    }

    /// Polls while this replica holds the lease; returns when cancelled or the replica shuts down.
    public func run() async { await cancelWhenGracefulShutdown { await self.loop() } }

    func loop() async {
        await lease.hold(as: replica) { token in
            var lastDeletionScan: ContinuousClock.Instant? = nil
            while true {
                let scanDeletions = lastDeletionScan.map { .now - $0 >= configuration.deletionsInterval } ?? true
                if scanDeletions { lastDeletionScan = .now }
                for type in configuration.objectTypes {
                    do {
                        _ = try await reconcile(type, token: token)
                        if scanDeletions { _ = try await reconcileDeletions(type, token: token) }
                        _ = try await reconcileAssociations(type, token: token)
                    } catch let lost as LeaseLost {
                        throw lost
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        logger.warning(
                            "a reconciling pass failed; the next one starts from the same watermark",
                            metadata: ["type": "\(type)", "error": "\(error)"])
                    }
                }
                try await Task.sleep(for: configuration.interval)
            }
        }
    }

    var terms: @Sendable () -> CallTerms {
        { [timeout = configuration.callTimeout] in CallTerms(priority: .bulk, deadline: .now + timeout) }
    }

    /// One pass over `type`: every record modified since its watermark (less the lookback)
    /// published, the watermark moved along after each page (a successor resumes mid-walk).
    /// Returns the events the feed did not have yet. Throws `LeaseLost` when another replica
    /// took over meanwhile.
    public func reconcile(_ type: String, token: Int64, now: Date = Date()) async throws -> Int {
        // A first pass starts at the lookback: history is the export's job, not the feed's. A
        // catch-up asked for (the journal lost entries) starts earlier.
        let stored = try await feed.storedMilliseconds(watermarkKey(type)) ?? now.epochMilliseconds
        let requested = try await feed.storedMilliseconds(catchUpKey(type))
        let watermark = requested.map { min($0, stored) } ?? stored
        let start = ModificationPosition(modifiedMs: watermark - configuration.lookback.milliseconds)
        var published = 0
        let compared = configuration.comparedProperties[type] ?? []
        let walk = ModifiedWalkTerms(
            properties: ["hs_merged_object_ids"] + compared, pageSize: configuration.pageSize,
            resultCap: configuration.searchWindow, terms: terms, beforeCall: { [pacer] in try await pacer.wait() })
        let reached = try await crm.records.walkModified(type, after: start, walk) { batch in
            var events: [ChangeEvent] = []
            var merges: [String] = []
            let kept =
                compared.isEmpty
                ? []
                : try await feed.redis.mget(
                    batch.map { .init(comparedKey(type, $0.record.id)) }, timeout: feed.configuration.redisTimeout)
            for (index, found) in batch.enumerated() {
                let ms = found.position.modifiedMs
                let record = found.record
                var event = ChangeEvent(
                    objectType: type, objectId: record.id,
                    kind: record.createdAt?.epochMilliseconds == ms ? .created : .updated,
                    eventId: "reconciler:\(type):\(record.id):\(ms)", subscriptionType: "", occurredAt: ms)
                event.source = .reconciler
                if event.kind == .updated, !compared.isEmpty {
                    event.changedProperties = Self.changed(kept[index], record, compared)
                }
                let merged = (record["hs_merged_object_ids"] ?? "").split(separator: ";").map(String.init)
                    .filter { $0 != record.id && !$0.isEmpty }
                if !merged.isEmpty {
                    // Merges already reported (the mark is set once the event is in the feed).
                    let marks = try await feed.redis.mget(
                        merged.map { .init(mergedKey(type, $0)) }, timeout: feed.configuration.redisTimeout)
                    let fresh = zip(merged, marks).filter { $0.1 == nil }.map(\.0)
                    if !fresh.isEmpty {
                        event.kind = .merged
                        event.mergedObjectIds = [record.id] + fresh
                        event.primaryObjectId = record.id
                        merges += fresh
                    }
                }
                events.append(event)
            }
            published += try await feed.append(events).storedCount
            if !compared.isEmpty {
                _ = try await feed.redis.evaluate(
                    Self.keepComparedScript, keys: batch.map { .init(comparedKey(type, $0.record.id)) },
                    arguments: [RESPArgument(max(1, configuration.comparedValuesTTL.components.seconds))]
                        + batch.map { RESPArgument(Self.comparedValues($0.record, compared)) },
                    timeout: feed.configuration.redisTimeout)
            }
            for id in merges {
                _ = try await feed.redis.set(
                    .init(mergedKey(type, id)), "1",
                    expiration: .seconds(Int(feed.configuration.deduplicationWindow.components.seconds)),
                    timeout: feed.configuration.redisTimeout)
            }
            let newest = max(watermark, batch[batch.count - 1].position.modifiedMs)
            guard try await lease.write(watermarkKey(type), String(newest), token: token) else { throw LeaseLost() }
        }
        // Also after a pass that found nothing: a first pass stores where it began.
        guard try await lease.write(watermarkKey(type), String(max(watermark, reached.modifiedMs)), token: token)
        else { throw LeaseLost() }
        if requested != nil {
            _ = try await feed.redis.send("DEL", [.init(catchUpKey(type))], timeout: feed.configuration.redisTimeout)
            logger.notice(
                "caught up after the journal's loss", metadata: ["type": "\(type)", "events": "\(published)"])
        }
        if published > 0 {
            logger.info("reconciled changes webhooks missed", metadata: ["type": "\(type)", "events": "\(published)"])
        }
        return published
    }

    /// Where a catch-up request of `type` waits for the next pass: the millisecond to start from.
    public func catchUpKey(_ type: String) -> String { "\(configuration.keyPrefix):catch-up:\(type)" }

    /// KEYS: the request key; ARGV: milliseconds. Keeps the earliest request.
    static let requestCatchUpScript = RedisScript(
        """
        local current = redis.call('GET', KEYS[1])
        if current == false or tonumber(current) > tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
        return 1
        """)

    /// Changes of `types` since `from` (milliseconds) are published again by the next pass (an
    /// intake lost some: the journal's offset expired). The pass runs here at once when no
    /// replica holds the reconciler's lease (a gateway that runs no reconciler); otherwise the
    /// holder's next pass starts there. Returns whether the pass ran here.
    public func catchUp(types: [String], from: Int64) async throws -> Bool {
        for type in types {
            _ = try await feed.redis.evaluate(
                Self.requestCatchUpScript, keys: [.init(catchUpKey(type))], arguments: [RESPArgument(from)],
                timeout: feed.configuration.redisTimeout)
        }
        guard let token = try await lease.take(as: replica) else { return false }
        do {
            for type in types { _ = try await reconcile(type, token: token) }
        } catch {
            try? await lease.release(as: replica, token: token)
            throw error
        }
        try await lease.release(as: replica, token: token)
        return true
    }

    /// Deletions of `type` since its deletions watermark (less the lookback): search never
    /// finds archived records, so the archived list is paged through (100 a call; HubSpot
    /// cannot filter it by time) and a DELETED event published for each record archived since.
    public func reconcileDeletions(_ type: String, token: Int64, now: Date = Date()) async throws -> Int {
        let scanStart = now.epochMilliseconds
        let watermark = try await feed.storedMilliseconds(deletionsWatermarkKey(type)) ?? scanStart
        let lower = watermark - configuration.lookback.milliseconds
        var published = 0
        var after: String? = nil
        repeat {
            try await pacer.wait()
            let page = try await crm.records.list(
                type, limit: 100, after: after, properties: [], archived: true, terms())
            let events = page.records.compactMap { record -> ChangeEvent? in
                guard let ms = record.archivedAt?.epochMilliseconds, ms >= lower else { return nil }
                var event = ChangeEvent(
                    objectType: type, objectId: record.id, kind: .deleted,
                    eventId: "reconciler:\(type):\(record.id):deleted:\(ms)", subscriptionType: "", occurredAt: ms)
                event.source = .reconciler
                return event
            }
            if !events.isEmpty { published += try await feed.append(events).storedCount }
            after = page.records.isEmpty ? nil : page.next
        } while after != nil
        guard try await lease.write(deletionsWatermarkKey(type), String(scanStart), token: token) else {
            throw LeaseLost()
        }
        if published > 0 {
            logger.info(
                "reconciled deletions webhooks missed", metadata: ["type": "\(type)", "events": "\(published)"])
        }
        return published
    }
}

extension Reconciler {
    /// KEYS: records' kept associations; ARGV: TTL seconds, then per key its entry count and
    /// entries. A record kept before answers its entries (`_` among them); one seen for the
    /// first time keeps these as its baseline and answers nothing. Every key's TTL is renewed.
    static let keptAssociationsScript = RedisScript(
        """
        local out = {}
        local a = 2
        for k = 1, #KEYS do
          local n = tonumber(ARGV[a])
          if redis.call('EXISTS', KEYS[k]) == 1 then
            out[k] = redis.call('HKEYS', KEYS[k])
          else
            redis.call('HSET', KEYS[k], '_', '1')
            for j = 1, n do redis.call('HSET', KEYS[k], ARGV[a + j], '1') end
            out[k] = {}
          end
          redis.call('EXPIRE', KEYS[k], ARGV[1])
          a = a + n + 1
        end
        return out
        """)

    /// A step of the scan of `type`'s associations: up to `associationScanPagesPerPass` pages
    /// of its records with their associations, compared with what was kept of each. A change
    /// is published once in both directions (`ASSOCIATION_ADDED`/`_REMOVED`, as HubSpot's
    /// webhooks report it on each record), deduplicated with the webhook and journal copies
    /// (`ChangeFeed.appendScript`); a record seen for the first time is only kept. A new scan
    /// starts `associationScanInterval` after the last one ended. Returns the events the feed
    /// did not have.
    public func reconcileAssociations(_ type: String, token: Int64, now: Date = Date()) async throws -> Int {
        guard let interval = configuration.associationScanInterval, let toTypes = Self.scannedAssociations[type] else {
            return 0
        }
        let key = associationScanKey(type)
        let place = try await feed.redis.get(.init(key), timeout: feed.configuration.redisTimeout)
            .map { String(decoding: $0, as: UTF8.self) }
        if let place, place.hasPrefix("done "), let ended = Int64(place.dropFirst(5)),
            now.epochMilliseconds - ended < interval.milliseconds
        {
            return 0
        }
        var after = place.flatMap { $0.isEmpty || $0.hasPrefix("done ") ? nil : $0 }
        var published = 0
        for _ in 0..<max(1, configuration.associationScanPagesPerPass) {
            try await pacer.wait()
            let page = try await crm.associations.page(of: type, toTypes: toTypes, after: after, terms())
            published += try await compareAssociations(type, page.records, toTypes: toTypes, now: now)
            after = page.next
            guard try await lease.write(key, after ?? "done \(now.epochMilliseconds)", token: token) else {
                throw LeaseLost()
            }
            if after == nil { break }
        }
        if published > 0 {
            logger.info(
                "reconciled association changes webhooks missed",
                metadata: ["type": "\(type)", "events": "\(published)"])
        }
        return published
    }

    /// Publishes the differences between `records`' associations and what was kept of them.
    func compareAssociations(_ type: String, _ records: [RecordAssociations], toTypes: [String], now: Date)
        async throws -> Int
    {
        guard !records.isEmpty else { return 0 }
        let current = records.map { record in
            Set(toTypes.flatMap { toType in (record.associated[toType] ?? []).map { "\(toType):\($0)" } })
        }
        var arguments = [RESPArgument(max(1, configuration.comparedValuesTTL.components.seconds))]
        for entries in current {
            arguments.append(RESPArgument(entries.count))
            arguments += entries.sorted().map { RESPArgument($0) }
        }
        let reply = try await feed.redis.evaluate(
            Self.keptAssociationsScript, keys: records.map { .init(feed.keptAssociationsKey(type, $0.id)) },
            arguments: arguments, timeout: feed.configuration.redisTimeout)
        let kept = reply.array ?? []
        let ms = now.epochMilliseconds
        var events: [ChangeEvent] = []
        for (index, record) in records.enumerated() {
            let before = Set((index < kept.count ? kept[index].array ?? [] : []).compactMap(\.string))
            guard before.contains("_") else { continue }  // first seen: kept as it is
            let scanned = before.filter { entry in toTypes.contains { entry.hasPrefix($0 + ":") } }
            for (entries, added) in [
                (current[index].subtracting(scanned), true), (scanned.subtracting(current[index]), false),
            ] {
                for entry in entries.sorted() {
                    guard let colon = entry.firstIndex(of: ":") else { continue }
                    let (toType, toId) = (String(entry[..<colon]), String(entry[entry.index(after: colon)...]))
                    events.append(associationEvent(type, record.id, toType, toId, added: added, ms: ms))
                    events.append(associationEvent(toType, toId, type, record.id, added: added, ms: ms))
                }
            }
        }
        return events.isEmpty ? 0 : try await feed.append(events).storedCount
    }

    /// The reconciler's report that record `type:id` gained or lost its association with
    /// `toType:toId`, named as HubSpot's webhooks name it (`DEAL_TO_COMPANY`).
    func associationEvent(_ type: String, _ id: String, _ toType: String, _ toId: String, added: Bool, ms: Int64)
        -> ChangeEvent
    {
        var event = ChangeEvent(
            objectType: type, objectId: id, kind: added ? .associationAdded : .associationRemoved,
            eventId: "reconciler:\(type):\(id):\(added ? "+" : "-")\(toType):\(toId):\(ms)", subscriptionType: "",
            occurredAt: ms)
        event.associationType =
            "\(ObjectTypeAliases.singular(of: type))_TO_\(ObjectTypeAliases.singular(of: toType))".uppercased()
        event.toObjectId = toId
        event.source = .reconciler
        return event
    }
}

/// Another replica holds the reconciler's lease now: this one stops.
public struct LeaseLost: Error {}
