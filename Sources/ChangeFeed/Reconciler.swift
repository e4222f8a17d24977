import Foundation
import GatewayCore
import Logging
import RedisClient
import TimeConversions

/// Settings of the reconciler (`--reconcile-*` options).
public struct ReconcilerConfiguration: Sendable {
    /// The object types polled.
    public var objectTypes = ["contacts", "companies", "deals", "tickets"]
    /// Pause between passes over every type.
    public var interval: Duration = .seconds(30)
    /// How far behind its watermark a pass starts again: HubSpot's search lags behind writes.
    public var lookback: Duration = .seconds(300)
    /// Results per search call (HubSpot's maximum is 200).
    public var pageSize = 200
    /// Longest wait of one search call for the budget and HubSpot.
    public var callTimeout: Duration = .seconds(60)
    /// Where the watermarks live.
    public var keyPrefix = "hubspot-gateway:reconciler"
    /// Results one search query can page through (HubSpot stops at 10,000); a window restarts
    /// from the last timestamp seen before reaching it.
    public var searchWindow = 10_000

    public init() {}
}

/// Publishes into the feed the changes HubSpot's webhooks did not deliver (a misconfigured
/// subscription, a token without a public app, a type nobody subscribed to), by searching each
/// type for records modified since its watermark — on one replica at a time, under a lease,
/// at bulk priority through the door. An event per (record, modification time): a re-read of
/// the lookback publishes nothing twice (the feed drops repeated event ids).
public struct Reconciler: Sendable {
    let crm: CRM
    let feed: ChangeFeed
    let lease: FeedLease
    let replica: String
    public let configuration: ReconcilerConfiguration
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
        self.logger = logger
    }

    /// The property a type's search must sort and filter on: contacts keep theirs under
    /// another name than every other type (a classic mistake of integrations).
    public static func modifiedProperty(of type: String) -> String {
        type == "contacts" ? "lastmodifieddate" : "hs_lastmodifieddate"
    }

    func watermarkKey(_ type: String) -> String { "\(configuration.keyPrefix):watermark:\(type)" }

    /// Polls while this replica holds the lease; returns when cancelled.
    public func run() async {
        await lease.hold(as: replica) { token in
            while true {
                for type in configuration.objectTypes {
                    do {
                        _ = try await reconcile(type, token: token)
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

    /// One pass over `type`: every record modified since its watermark (less the lookback)
    /// published; the watermark moved to the newest modification seen. Returns the events the
    /// feed did not have yet. Throws `LeaseLost` when another replica took over meanwhile.
    public func reconcile(_ type: String, token: Int64, now: Date = Date()) async throws -> Int {
        let nowMs = Int64(now.timeIntervalSince1970 * 1000)
        let stored = try await feed.redis.get(.init(watermarkKey(type)), timeout: feed.configuration.redisTimeout)
            .flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
        // A first pass starts at the lookback: history is the export's job, not the feed's.
        let watermark = stored ?? nowMs
        var lower = watermark - configuration.lookback.milliseconds
        var newest = watermark
        var published = 0
        var last: (ms: Int64, id: String)? = nil
        var after: String? = nil
        var offset = 0
        let property = Self.modifiedProperty(of: type)
        while true {
            let query = RecordQuery(
                filterGroups: [[RecordQuery.Filter(property, .gte, value: String(lower))]],
                sorts: [RecordQuery.Sort(property)], properties: [property],
                limit: configuration.pageSize, after: after)
            let page = try await crm.records.search(
                type, query, CallTerms(priority: .bulk, deadline: .now + configuration.callTimeout))
            var events: [ChangeEvent] = []
            for record in page.records {
                guard let updated = record.updatedAt else { continue }
                let ms = Int64(updated.timeIntervalSince1970 * 1000)
                // Re-read after a window restart: what sorted before the last one seen is done.
                if let last, ms < last.ms || (ms == last.ms && record.id <= last.id) { continue }
                var event = ChangeEvent(
                    objectType: type, objectId: record.id,
                    kind: record.createdAt.map { Int64($0.timeIntervalSince1970 * 1000) == ms } == true
                        ? .created : .updated,
                    eventId: "reconciler:\(type):\(record.id):\(ms)", subscriptionType: "", occurredAt: ms)
                event.source = .reconciler
                events.append(event)
                last = (ms, record.id)
                newest = max(newest, ms)
            }
            if !events.isEmpty { published += try await feed.append(events).storedCount }
            offset += page.records.count
            guard let next = page.next, !page.records.isEmpty else { break }
            if offset + configuration.pageSize > configuration.searchWindow, let last {
                // Near the 10,000 cap: a new window from the last timestamp seen; records of
                // that timestamp already seen are skipped above (ties broken by id).
                guard last.ms > lower else {
                    throw ReconcileStalled(type: type, timestamp: last.ms)
                }
                lower = last.ms
                after = nil
                offset = 0
            } else {
                after = next
            }
        }
        guard try await lease.write(watermarkKey(type), String(newest), token: token) else { throw LeaseLost() }
        if published > 0 {
            logger.info("reconciled changes webhooks missed", metadata: ["type": "\(type)", "events": "\(published)"])
        }
        return published
    }
}

/// Another replica holds the reconciler's lease now: this one stops.
public struct LeaseLost: Error {}

/// More than 10,000 records of one type share one modification timestamp: search cannot page
/// past them by time.
public struct ReconcileStalled: Error, CustomStringConvertible {
    public var type: String
    public var timestamp: Int64
    public var description: String {
        "over 10,000 \(type) records share the modification time \(timestamp); search cannot window past them"
    }
}
