import GatewayCore
import ChangeFeed
import CoreMetrics
import Foundation
import GatewayProto
import GRPCCore
import Logging
import SwiftProtobuf
import Synchronization

/// `hubspot.gateway.v1.ChangesService`: the change feed as a resumable gRPC stream, plain (the
/// caller keeps its cursor) or shared by the members of a consumer group.
public struct ChangesService: Hubspot_Gateway_V1_ChangesService.ServiceProtocol {
    public struct Configuration: Sendable {
        /// How long an event delivered to a group member may stay unacknowledged before
        /// another member gets it.
        public var visibilityTimeout: Duration = .seconds(30)
        /// How long a subscriber may leave the gateway unable to write (it stopped reading)
        /// before its stream ends with RESOURCE_EXHAUSTED; memory per subscriber stays bounded
        /// by one batch either way.
        public var stallTimeout: Duration = .seconds(30)
        /// Longest wait of one read for new events (also how soon a cancelled stream notices).
        public var pollInterval: Duration = .seconds(5)
        /// Events read from Redis at a time.
        public var batchSize = 100

        public init() {}
    }

    /// nil without Redis: the feed lives there.
    let feed: ChangeFeed?
    let configuration: Configuration
    let drain: SubscriptionDrain
    let logger: Logger

    public init(
        feed: ChangeFeed?, configuration: Configuration = .init(), drain: SubscriptionDrain = SubscriptionDrain(),
        logger: Logger = Logger(label: "changes")
    ) {
        self.feed = feed
        self.configuration = configuration
        self.drain = drain
        self.logger = logger
    }

    public static let subscribersMetric = "gateway_feed_subscribers"

    private func requireFeed() throws(RPCError) -> ChangeFeed {
        guard let feed else {
            throw GatewayErrors.error(
                .featureNotConfigured, "the change feed needs Redis; this gateway runs without one (--redis-url)")
        }
        return feed
    }

    public func subscribe(request: ServerRequest<Hubspot_Gateway_V1_SubscribeRequest>, context: ServerContext)
        async throws -> StreamingServerResponse<Hubspot_Gateway_V1_ChangeEvent>
    {
        let feed = try requireFeed()
        let message = request.message
        let filter = try ChangeTranslation.filter(message)
        let start = try ChangeTranslation.start(message)
        if drain.isDraining {
            throw GatewayErrors.error(.replicaShuttingDown, "this gateway replica is shutting down; subscribe again")
        }
        if message.group.isEmpty {
            let reader = FeedCursorReader(feed: feed)
            let cursor = try await mapped { try await reader.startCursor(start) }
            return StreamingServerResponse { writer in
                try await deliver(group: "") { send in
                    var cursor = cursor
                    while true {
                        // Reads do not end early when cancelled (a blocking read returns within
                        // `pollInterval`), so the loop asks.
                        try Task.checkCancellation()
                        let events = try await mapped {
                            try await reader.next(
                                after: cursor, count: configuration.batchSize, block: configuration.pollInterval)
                        }
                        for event in events where filter.matches(event) { try await send(event) }
                        if let last = events.last?.cursor { cursor = last }
                    }
                } write: {
                    try await writer.write($0)
                }
                return [:]
            }
        }
        try ChangeTranslation.name(message.group, field: "group")
        if !message.member.isEmpty { try ChangeTranslation.name(message.member, field: "member") }
        let member = FeedGroupMember(
            feed: feed, group: message.group,
            member: message.member.isEmpty ? "member-" + UUID().uuidString.lowercased() : message.member,
            visibilityTimeout: configuration.visibilityTimeout)
        try await mapped { try await member.join(start) }
        return StreamingServerResponse { writer in
            try await deliver(group: member.group) { send in
                // What this member was given before a reconnect comes first.
                var pending = try await mapped { try await member.pending(count: configuration.batchSize) }
                while !pending.isEmpty {
                    try await handOver(pending, filter, member, send)
                    let last = pending.last!.cursor!
                    pending = try await mapped { try await member.pending(after: last, count: configuration.batchSize) }
                }
                while true {
                    try Task.checkCancellation()
                    // Waits no longer than half the visibility timeout, so that events another
                    // member left are taken over soon after they become due.
                    let block = min(configuration.pollInterval, configuration.visibilityTimeout / 2)
                    let events = try await mapped {
                        try await member.next(count: configuration.batchSize, block: block)
                    }
                    try await handOver(events, filter, member, send)
                }
            } write: {
                try await writer.write($0)
            }
            return [:]
        }
    }

    /// Sends the events the member wants; acknowledges at once those it filtered out.
    private func handOver(
        _ events: [ChangeEvent], _ filter: ChangeFilter, _ member: FeedGroupMember,
        _ send: (ChangeEvent) async throws -> Void
    ) async throws {
        var skipped: [String] = []
        for event in events {
            if filter.matches(event) {
                try await send(event)
            } else if let cursor = event.cursor {
                skipped.append(cursor)
            }
        }
        if !skipped.isEmpty { _ = try await mapped { try await member.acknowledge(skipped) } }
    }

    public func ackChanges(request: ServerRequest<Hubspot_Gateway_V1_AckChangesRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_AckChangesResponse>
    {
        let feed = try requireFeed()
        let message = request.message
        try ChangeTranslation.name(message.group, field: "group")
        guard message.cursors.count <= 1000 else {
            throw GatewayErrors.error(
                .invalidRequest, "at most 1000 cursors per call (\(message.cursors.count) given)", field: "cursors")
        }
        for (index, cursor) in message.cursors.enumerated() where !FeedCursor.isValid(cursor) {
            throw GatewayErrors.error(
                .invalidRequest, "cursors[\(index)] \"\(cursor.prefix(40))\" is not a feed cursor",
                field: "cursors[\(index)]")
        }
        let member = FeedGroupMember(
            feed: feed, group: message.group, member: "", visibilityTimeout: configuration.visibilityTimeout)
        let acknowledged = try await mapped { try await member.acknowledge(message.cursors) }
        return ServerResponse(message: .with { $0.acknowledged = Int32(acknowledged) })
    }

    /// Runs `produce` (which calls `send` per event) until it fails, the subscriber stalls past
    /// `stallTimeout`, or the replica drains; maps each ending to its status.
    private func deliver(
        group: String, _ produce: @escaping @Sendable (_ send: (ChangeEvent) async throws -> Void) async throws -> Void,
        write: @escaping @Sendable (Hubspot_Gateway_V1_ChangeEvent) async throws -> Void
    ) async throws {
        let gauge = Gauge(label: Self.subscribersMetric, dimensions: [("group", group.isEmpty ? "none" : group)])
        let open = Self.openSubscriptions.withLock { counts in
            counts[group, default: 0] += 1
            return counts[group]!
        }
        gauge.record(open)
        defer {
            let left = Self.openSubscriptions.withLock { counts in
                counts[group, default: 1] -= 1
                return counts[group]!
            }
            gauge.record(left)
        }
        let writing = PendingWrite()
        let stallTimeout = configuration.stallTimeout
        let drain = drain
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try await produce { event in
                    writing.began()
                    try await write(Hubspot_Gateway_V1_ChangeEvent(event))
                    writing.ended()
                }
            }
            tasks.addTask {
                let check = min(.seconds(1), stallTimeout / 4)
                while true {
                    try await Task.sleep(for: check)
                    if let waited = writing.waited, waited > stallTimeout {
                        throw GatewayErrors.error(
                            .subscriberTooSlow,
                            "the subscriber read nothing for \(stallTimeout); resubscribe from the last cursor received"
                        )
                    }
                }
            }
            tasks.addTask {
                await drain.wait()
                try Task.checkCancellation()
                throw GatewayErrors.error(
                    .replicaShuttingDown,
                    "this gateway replica is shutting down; subscribe again (from the last cursor received)")
            }
            defer { tasks.cancelAll() }
            try await tasks.next()
        }
    }

    private static let openSubscriptions = Mutex<[String: Int]>([:])

    /// Maps the feed's errors to statuses.
    private func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RPCError {
            throw error
        } catch let error as CursorOutOfRange {
            throw GatewayErrors.error(.feedCursorExpired, "\(error)")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.warning("the change feed could not be read", metadata: ["error": "\(error)"])
            throw GatewayErrors.error(
                .gatewayStateUnavailable, "the change feed cannot be read now (\(error)); subscribe again later",
                retryAfter: GatewayFailure.unavailableRetryDelay)
        }
    }
}

/// How long the write in progress has waited for the subscriber (nil: none in progress).
final class PendingWrite: Sendable {
    /// When the write began (uptime nanoseconds); 0 while none waits.
    private let since = Atomic<UInt64>(0)

    func began() { since.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed) }
    func ended() { since.store(0, ordering: .relaxed) }

    var waited: Duration? {
        let began = since.load(ordering: .relaxed)
        guard began != 0 else { return nil }
        return .nanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- began))
    }
}
