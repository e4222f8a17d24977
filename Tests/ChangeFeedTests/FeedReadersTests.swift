import ChangeFeed
import Foundation
import GatewayCore
import HubSpotAPI
import RedisClient
import Synchronization
import Testing
import TestSupport

/// Subscribers' reads on a real redis-server: replay then live without a gap, cursors out of
/// range, consumer groups sharing and taking over.
@Suite struct FeedReadersTests {
    static func events(_ ids: ClosedRange<Int>, type: String = "contacts.creation") -> [ChangeEvent] {
        ids.map {
            ChangeEvent(
                objectType: "contacts", objectId: String($0), kind: .created, eventId: "e\($0)",
                subscriptionType: "contact.creation", occurredAt: 1_700_000_000_000)
        }
    }

    @Test func aCursorReaderReplaysWhatIsRetainedThenWaitsForNewEventsWithoutAGap() async throws {
        try await FeedRig.with { rig in
            _ = try await rig.feed.append(Self.events(1...5))
            let reader = FeedCursorReader(feed: rig.feed)
            let first = try await reader.next(
                after: try await reader.startCursor(.oldest), count: 3, block: .seconds(1))
            #expect(first.map(\.objectId) == ["1", "2", "3"])
            let rest = try await reader.next(after: first.last!.cursor!, count: 10, block: .seconds(1))
            #expect(rest.map(\.objectId) == ["4", "5"])
            // Live: a read waiting after the last cursor gets the next append.
            let waiting = Task { try await reader.next(after: rest.last!.cursor!, block: .seconds(5)) }
            try await eventually("Redis holds the waiting read") {
                let info = try await rig.client.send("INFO", ["clients"])
                guard case .bulkString(let text) = info else { return false }
                return !String(decoding: text, as: UTF8.self).contains("blocked_clients:0")
            }
            _ = try await rig.feed.append(Self.events(6...6))
            #expect(try await waiting.value.map(\.objectId) == ["6"])
            // "Now" starts after the newest.
            let now = try await reader.startCursor(.now)
            #expect(try await reader.next(after: now, block: .milliseconds(10)).isEmpty)
        }
    }

    @Test func aCursorOlderThanWhatIsRetainedIsOutOfRange() async throws {
        try await FeedRig.with(configure: { $0.maxLength = 0 }) { rig in
            let appended = try await rig.feed.append(Self.events(1...3))
            let first = try #require(appended.cursors[0])
            // Trim the first two away, as retention does.
            _ = try await rig.client.send(
                "XTRIM", [.init(rig.feed.configuration.keyPrefix + ":events"), "MAXLEN", "1"])
            let reader = FeedCursorReader(feed: rig.feed)
            do {
                _ = try await reader.startCursor(.after(first))
                Issue.record("a trimmed cursor must be out of range")
            } catch let error as CursorOutOfRange {
                #expect(error.oldest == appended.cursors[2])
            }
            // The newest cursor is fine.
            #expect(try await reader.startCursor(.after(appended.cursors[2]!)) == appended.cursors[2])
        }
    }

    @Test func groupMembersShareEventsAndTakeOverWhatAMemberLeftUnacknowledged() async throws {
        try await FeedRig.with { rig in
            // Long enough that a's events stay a's between the two first reads on a loaded
            // machine; b takes them over once it has passed.
            let a = FeedGroupMember(
                feed: rig.feed, group: "analytics", member: "a", visibilityTimeout: .seconds(2))
            let b = FeedGroupMember(
                feed: rig.feed, group: "analytics", member: "b", visibilityTimeout: .seconds(2))
            try await a.join(.now)
            _ = try await rig.feed.append(Self.events(1...4))
            let toA = try await a.next(count: 2, block: .seconds(1))
            let toB = try await b.next(count: 10, block: .seconds(1))
            #expect(toA.map(\.objectId) == ["1", "2"])
            #expect(toB.map(\.objectId) == ["3", "4"], "each event goes to one member")
            #expect(try await b.acknowledge(toB.compactMap(\.cursor)) == 2)
            // a dies without acknowledging; after the visibility timeout b gets a's events.
            var claimed: [ChangeEvent] = []
            try await eventually("b takes over a's events") {
                claimed += try await b.next(count: 10, block: .milliseconds(50))
                return claimed.count >= 2
            }
            #expect(claimed.map(\.objectId) == ["1", "2"])
            #expect(try await b.acknowledge(claimed.compactMap(\.cursor)) == 2)
            // a reconnecting under its name finds nothing pending: b handled it.
            #expect(try await a.pending().isEmpty)
        }
    }

    @Test func aMemberReconnectingUnderItsNameGetsItsUnacknowledgedEventsFirst() async throws {
        try await FeedRig.with { rig in
            let member = FeedGroupMember(feed: rig.feed, group: "orders", member: "o1", visibilityTimeout: .seconds(60))
            try await member.join(.now)
            _ = try await rig.feed.append(Self.events(1...3))
            let delivered = try await member.next(block: .seconds(1))
            #expect(delivered.count == 3)
            _ = try await member.acknowledge([delivered[0].cursor!])
            let again = FeedGroupMember(feed: rig.feed, group: "orders", member: "o1", visibilityTimeout: .seconds(60))
            #expect(try await again.pending().map(\.objectId) == ["2", "3"])
        }
    }

    @Test func storedChangesInvalidateTheirRecordsAndAMergeRedirectsTheOldId() async throws {
        try await FeedRig.with { rig in
            var cacheConfiguration = ObjectCache.Configuration()
            cacheConfiguration.keyPrefix = rig.feed.configuration.keyPrefix + ":cache"
            // The production default (50 ms) is for a quiet network, not for a loaded test machine.
            cacheConfiguration.redisTimeout = .seconds(2)
            let cache = ObjectCache(redis: rig.client, configuration: cacheConfiguration, logger: quietLogger())
            let fetches = Fetches()
            func read(_ id: String) async throws -> ObjectCache.Read {
                try await cache.read(type: "contacts", id: id, properties: []) {
                    fetches.count(id)
                    return HubSpotObject(id: id, properties: ["email": "\(id)@example.com"])
                }
            }
            _ = try await read("101")
            _ = try await read("102")
            #expect(try await read("101").source == .cache)
            let invalidator = FeedInvalidator(
                feed: rig.feed, cache: cache, consumer: "replica-1", logger: quietLogger())
            let running = Task { await invalidator.run() }
            defer { running.cancel() }
            // The group exists once the invalidator runs; what is appended after is invalidated.
            try await eventually("the invalidation group exists") {
                let groups = try? await rig.client.send(
                    "XINFO", ["GROUPS", .init(rig.feed.configuration.keyPrefix + ":events")])
                return (groups?.array?.count ?? 0) > 0
            }
            var merge = ChangeEvent(
                objectType: "contacts", objectId: "101", kind: .merged, eventId: "m1",
                subscriptionType: "contact.merge",
                occurredAt: 1_700_000_000_000)
            merge.mergedObjectIds = ["102"]
            merge.primaryObjectId = "101"
            _ = try await rig.feed.append([merge])
            try await eventually("the survivor is refetched") {
                _ = try await read("101")
                return fetches.of("101") == 2
            }
            // The merged-away id is not refetched: its reads go to the survivor from now on.
            await #expect(throws: RecordMerged(type: "contacts", id: "102", survivorId: "101")) {
                _ = try await read("102")
            }
            #expect(fetches.of("102") == 1)
        }
    }
}

final class Fetches: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    func count(_ id: String) { counts.withLock { $0[id, default: 0] += 1 } }
    func of(_ id: String) -> Int { counts.withLock { $0[id] ?? 0 } }
}
