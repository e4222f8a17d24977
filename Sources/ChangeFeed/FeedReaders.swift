import CoreMetrics
import RedisClient

/// Where a subscription starts.
public enum FeedStart: Sendable, Equatable {
    /// After this cursor (the last event the subscriber handled).
    case after(String)
    /// With what arrives from now on.
    case now
    /// With the oldest retained event.
    case oldest
}

/// The subscriber's cursor is older than what the feed retains: events after it were trimmed.
public struct CursorOutOfRange: Error, Sendable, CustomStringConvertible {
    public var cursor: String
    /// The oldest cursor retained (nil: the feed is empty).
    public var oldest: String?
    public var description: String {
        "cursor \(cursor) is older than the feed retains (events after it were trimmed); the oldest retained cursor is \(oldest ?? "none (the feed is empty)"): resynchronize, then subscribe from there"
    }
}

extension ChangeFeed {
    /// Fails with `CursorOutOfRange` when events after `cursor` may have been trimmed: it is
    /// older than the oldest event retained and retention removed some. (A cursor that was
    /// exactly the newest event trimmed missed nothing, but cannot be told apart: the caller
    /// resynchronizes, which is safe; skipping silently would not be.)
    func checkRetained(_ cursor: String) async throws {
        let extent = try await extent()
        if extent.trimmed, let oldest = extent.oldest, FeedCursor.precedes(cursor, oldest) {
            throw CursorOutOfRange(cursor: cursor, oldest: oldest)
        }
        if extent.trimmed, extent.oldest == nil, let last = extent.lastGenerated, FeedCursor.precedes(cursor, last) {
            throw CursorOutOfRange(cursor: cursor, oldest: nil)
        }
    }
}

/// A plain subscription: the caller keeps the cursor; reads replay what is retained after it
/// and then wait for new events, so the switch from replay to live has no gap and no duplicate
/// (both are reads after the last cursor delivered).
public struct FeedCursorReader: Sendable {
    let feed: ChangeFeed

    public init(feed: ChangeFeed) { self.feed = feed }

    /// The cursor to read after for `start`; fails with `CursorOutOfRange` when events after
    /// the given cursor were trimmed.
    public func startCursor(_ start: FeedStart) async throws -> String {
        switch start {
        case .oldest: return "0-0"
        case .now: return try await feed.extent().newest ?? "0-0"
        case .after(let cursor):
            try await feed.checkRetained(cursor)
            return cursor
        }
    }

    /// Up to `count` events after `cursor`, waiting up to `block` when there are none yet
    /// (only then on a blocking read, which takes a connection of its own).
    public func next(after cursor: String, count: Int = 100, block: Duration) async throws -> [ChangeEvent] {
        let ready = try await feed.read(after: cursor, count: count)
        if !ready.isEmpty { return ready }
        return try await feed.read(after: cursor, count: count, block: block)
    }
}

/// A member of a consumer group: the group's members share the feed (each event goes to one
/// of them), acknowledge what they handled, and take over what a member left unacknowledged
/// for `visibilityTimeout`.
public struct FeedGroupMember: Sendable {
    public static let redeliveriesMetric = "gateway_feed_redeliveries_total"

    let feed: ChangeFeed
    public let group: String
    public let member: String
    let visibilityTimeout: Duration

    public init(feed: ChangeFeed, group: String, member: String, visibilityTimeout: Duration) {
        self.feed = feed
        self.group = group
        self.member = member
        self.visibilityTimeout = visibilityTimeout
    }

    var stream: RESPArgument { .init(feed.configuration.streamKey) }

    /// Creates the group if it does not exist yet, starting at `start`; an existing group
    /// keeps its position (the group's, not the member's).
    public func join(_ start: FeedStart) async throws {
        let startAt: String
        switch start {
        case .now: startAt = "$"
        case .oldest: startAt = "0"
        case .after(let cursor):
            try await feed.checkRetained(cursor)
            startAt = cursor
        }
        try await feed.redis.createGroup(
            stream, group: group, startAt: startAt, timeout: feed.configuration.redisTimeout)
    }

    /// What this member was given and has not acknowledged (after a reconnect with the same
    /// member name), from `after` on.
    public func pending(after cursor: String = "0", count: Int = 100) async throws -> [ChangeEvent] {
        try await feed.redis.xreadgroup(
            group: group, consumer: member, stream, after: cursor, count: count,
            timeout: feed.configuration.redisTimeout
        ).compactMap(ChangeEvent.init)
    }

    /// Events other members left unacknowledged for `visibilityTimeout`, then new events
    /// (waiting up to `block` for them).
    public func next(count: Int = 100, block: Duration) async throws -> [ChangeEvent] {
        let (_, claimed) = try await feed.redis.xautoclaim(
            stream, group: group, consumer: member, minIdle: visibilityTimeout, count: count,
            timeout: feed.configuration.redisTimeout)
        if !claimed.isEmpty {
            Counter(label: Self.redeliveriesMetric, dimensions: [("group", group)]).increment(by: claimed.count)
            return claimed.compactMap(ChangeEvent.init)
        }
        let ready = try await feed.redis.xreadgroup(
            group: group, consumer: member, stream, count: count, timeout: feed.configuration.redisTimeout)
        if !ready.isEmpty { return ready.compactMap(ChangeEvent.init) }
        return try await feed.redis.xreadgroup(
            group: group, consumer: member, stream, count: count, block: block,
            timeout: block + feed.configuration.redisTimeout
        ).compactMap(ChangeEvent.init)
    }

    /// Acknowledges handled events; answers how many were pending.
    public func acknowledge(_ cursors: [String]) async throws -> Int {
        guard !cursors.isEmpty else { return 0 }
        return try await feed.redis.xack(stream, group: group, ids: cursors, timeout: feed.configuration.redisTimeout)
    }
}
