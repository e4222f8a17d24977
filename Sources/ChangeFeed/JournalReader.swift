import ServiceLifecycle
import CoreMetrics
import Foundation
import GatewayCore
import HubSpotAPI
import JSONCore
import Logging
import RedisClient
import Time

/// Settings of the journal intake (`--journal-*` options).
public struct JournalReaderConfiguration: Sendable {
    /// Where a reader without a stored offset starts.
    public enum Start: String, Sendable, CaseIterable {
        /// The oldest entry HubSpot still keeps (up to 3 days of changes; the feed drops what it has).
        case earliest
        /// The newest entry: only changes from now on.
        case latest
    }

    /// The object types subscribed to (and caught up by the reconciler after a loss).
    public var objectTypes = ["contacts", "companies", "deals", "tickets"]
    /// The journal actions subscribed to.
    public var actions = ["CREATE", "UPDATE", "DELETE", "MERGE", "RESTORE", "ASSOCIATION_ADDED", "ASSOCIATION_REMOVED"]
    /// Create or update the journal subscriptions at start (idempotent).
    public var manageSubscriptions = true
    /// One account's local journal (`.local(nil)`: the fleet's portal's), or the app's global
    /// journal (every installing account's; other portals' events are dropped).
    public var scope: JournalScope = .local(portalId: nil)
    public var start: Start = .earliest
    /// Pause after the reader caught up (HubSpot had no newer entry).
    public var pollInterval: Duration = .seconds(5)
    /// Longest wait of one journal call for the budget and HubSpot, and of one download.
    public var callTimeout: Duration = .seconds(30)
    /// Where the offset and the newest published change live.
    public var keyPrefix = "hubspot-gateway:journal"

    public init() {}
}

/// The third intake of the change feed: HubSpot's webhooks journal, pulled (no inbound traffic
/// at all). One replica at a time reads it, under its own lease: entry after entry from the
/// offset stored in Redis, each entry's data downloaded from the URL HubSpot names, turned
/// into the feed's events and appended (the feed drops what another intake or an earlier read
/// already stored), and only then the offset moved on — so a reader killed mid-entry leaves
/// its successor to read that entry again, and nothing is lost or stored twice. An offset
/// HubSpot no longer keeps (the gateway was behind for more than the journal's 3 days) is
/// reported loudly and the reconciler publishes again everything since the last change the
/// journal delivered.
public struct JournalReader: Service, Sendable {
    /// Metric names.
    public enum Name {
        /// Entries read, and events they held (by whether the feed stored them or had them).
        public static let entries = "gateway_journal_entries_total"
        public static let events = "gateway_journal_events_total"
        /// Offsets HubSpot no longer had (alert on any: the reconciler had to catch up).
        public static let offsetsExpired = "gateway_journal_offset_expired_total"
        /// Seconds between the newest change of the last entry read and its reading.
        public static let lag = "gateway_journal_lag_seconds"
        /// Journal calls or downloads that failed (retried after `pollInterval`).
        public static let failures = "gateway_journal_failures_total"
    }

    let upstream: HubSpotUpstream
    let feed: ChangeFeed
    let lease: FeedLease
    let replica: String
    public let configuration: JournalReaderConfiguration
    /// Called after an expired offset with the newest change the journal delivered (ms).
    let catchUp: @Sendable (Int64) async throws -> Void
    let metrics: any MetricsFactory
    let logger: Logger
    /// Drops the events of other portals (the global journal holds every installing account's),
    /// and names the portal of a local journal given none (nil: every event is kept).
    let portals: PortalFilter?

    /// - Parameters:
    ///   - upstream: the door, holding the app's developer-platform client (its client
    ///     credentials with the journal's scopes); every journal call goes through it.
    ///   - catchUp: asks the reconciler to publish again every change since the millisecond
    ///     given (`Reconciler.catchUp`).
    public init(
        upstream: HubSpotUpstream, feed: ChangeFeed, lease: FeedLease, replica: String,
        configuration: JournalReaderConfiguration = .init(),
        catchUp: @escaping @Sendable (Int64) async throws -> Void, portals: PortalFilter? = nil,
        metrics: (any MetricsFactory)? = nil, logger: Logger
    ) {
        self.portals = portals
        self.upstream = upstream
        self.feed = feed
        self.lease = lease
        self.replica = replica
        self.configuration = configuration
        self.catchUp = catchUp
        self.metrics = metrics ?? MetricsSystem.factory
        self.logger = logger
    }

    /// The offset of the last entry published ("": start again at the earliest entry).
    public var offsetKey: String { "\(configuration.keyPrefix):offset" }
    /// The newest change (ms) the journal delivered: where a catch-up starts.
    public var watermarkKey: String { "\(configuration.keyPrefix):watermark" }

    /// Reads while this replica holds the lease; returns when cancelled or the replica shuts down.
    public func run() async { await cancelWhenGracefulShutdown { await self.loop() } }

    func loop() async {
        await lease.hold(as: replica) { token in
            if configuration.manageSubscriptions {
                do {
                    try await ensureSubscriptions()
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    logger.error(
                        "could not create the webhooks-journal subscriptions; reading what exists",
                        metadata: ["error": "\(error)"])
                }
            }
            while true {
                let read: Bool
                do {
                    read = try await step(token: token)
                } catch let lost as LeaseLost {
                    throw lost
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    Counter(label: Name.failures, factory: metrics).increment()
                    logger.warning(
                        "reading the webhooks journal failed; trying again from the same offset",
                        metadata: ["error": "\(error)"])
                    read = false
                }
                if !read { try await Task.sleep(for: configuration.pollInterval) }
            }
        }
    }

    /// Reads, publishes and passes one entry; false when there was none newer. Throws
    /// `LeaseLost` when another replica took the lease meanwhile.
    @discardableResult
    public func step(token: Int64) async throws -> Bool {
        let stored = try await feed.redis.get(.init(offsetKey), timeout: feed.configuration.redisTimeout)
            .map { String(decoding: $0, as: UTF8.self) }
        let position: JournalPosition =
            switch stored {
            case nil: configuration.start == .latest ? .latest : .earliest
            case ""?: .earliest
            case let offset?: .next(after: offset)
            }
        let deadline = ContinuousClock.now + configuration.callTimeout
        let entry: JournalEntry?
        do {
            entry = try await upstream.journalEntry(position, in: await scope(), deadline: deadline)
        } catch let error as HubSpotError where error.status == 404 {
            guard case .next(let offset) = position else { throw error }
            try await expired(offset, token: token)
            return true
        }
        guard let entry else { return false }
        let data = try await upstream.journalData(of: entry, deadline: .now + configuration.callTimeout)
        let delivered = try JournalEntryData.events(data)
        let events = portals?.keep(delivered, intake: "journal") ?? delivered
        let appended = events.isEmpty ? nil : try await feed.append(events)
        guard try await lease.write(offsetKey, entry.currentOffset, token: token) else { throw LeaseLost() }
        if let newest = events.map(\.occurredAt).max() {
            if newest > (try await feed.storedMilliseconds(watermarkKey)) ?? .min {
                guard try await lease.write(watermarkKey, String(newest), token: token) else { throw LeaseLost() }
            }
            Recorder(label: Name.lag, factory: metrics).record(
                Double(Date().epochMilliseconds - newest) / 1000)
        }
        Counter(label: Name.entries, factory: metrics).increment()
        let storedCount = appended?.storedCount ?? 0
        Counter(label: Name.events, dimensions: [("result", "stored")], factory: metrics).increment(by: storedCount)
        Counter(label: Name.events, dimensions: [("result", "known")], factory: metrics).increment(
            by: events.count - storedCount)
        return true
    }

    /// HubSpot no longer has `offset`: say so loudly, have the reconciler publish every change
    /// since the newest the journal delivered, and read again from the earliest entry kept.
    func expired(_ offset: String, token: Int64) async throws {
        let since = try await feed.storedMilliseconds(watermarkKey)
        logger.error(
            "the webhooks journal no longer has the stored offset: changes were lost to it; the reconciler publishes everything since the last change the journal delivered",
            metadata: [
                "offset": "\(offset)", "since_ms": "\(since.map(String.init) ?? "none (nothing read yet)")",
            ])
        // Counted once said: whoever sees the count can find the log line.
        Counter(label: Name.offsetsExpired, factory: metrics).increment()
        if let since { try await catchUp(since) }
        guard try await lease.write(offsetKey, "", token: token) else { throw LeaseLost() }
    }

    /// The journal to read: a local one given no portal is the fleet's portal's (waiting until
    /// the portal is known, from `--hubspot-portal-id` or HubSpot's account-info).
    func scope() async -> JournalScope {
        guard case .local(nil) = configuration.scope, let portals else { return configuration.scope }
        return .local(portalId: await portals.portal.value())
    }

    /// Creates or updates a subscription per configured type (HubSpot upserts by type).
    func ensureSubscriptions() async throws {
        let deadline = ContinuousClock.now + configuration.callTimeout
        let existing = try await upstream.journalSubscriptions(deadline: deadline)
        let portal: Int? = if case .local(let portal) = await scope() { portal } else { nil }
        for type in configuration.objectTypes {
            guard let typeId = ObjectTypeAliases.objectTypeId(of: type) else {
                logger.warning(
                    "no HubSpot object type id known for a journal type; subscribe to it by its id (2-…)",
                    metadata: ["type": "\(type)"])
                continue
            }
            let wanted = Set(configuration.actions)
            if existing.contains(where: {
                $0.objectTypeId == typeId && Set($0.actions) == wanted && $0.properties.isEmpty
            }) {
                continue
            }
            try await upstream.upsertJournalSubscription(
                JournalSubscription(objectTypeId: typeId, actions: configuration.actions.sorted(), portalId: portal),
                deadline: deadline)
            logger.notice(
                "subscribed to the webhooks journal", metadata: ["type": "\(type)", "objectTypeId": "\(typeId)"])
        }
    }
}

/// The data of one journal entry, as the simulator writes it (`{"currentOffset", "events": […]}`,
/// each event as a webhook delivers it): the one place that reads it, to change if HubSpot's
/// files turn out otherwise.
enum JournalEntryData {
    static func events(_ data: [UInt8]) throws -> [ChangeEvent] {
        let json = try JSONParser.parse(data)
        guard let items = json["events"]?.arrayValue else {
            throw WebhookEvents.Malformed(message: "a journal entry's data has no events array")
        }
        return try items.enumerated().map { index, item in
            var event = try WebhookEvents.event(item, index: index)
            // Journal event ids are their own sequence: kept apart from webhook ids.
            event.eventId = "j" + event.eventId
            event.source = .journal
            return event
        }
    }
}
