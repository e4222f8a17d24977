import ChangeFeed
import Foundation
import GatewayCore
import HubSpotAPI
import HubSpotSimulator
import Logging
import RedisClient
import Synchronization
import Testing
import TestSupport

/// The reconciler against hubspot-sim (webhooks off) and a real redis-server, through the door.
@Suite struct ReconcilerTests {
    struct Rig {
        let feed: FeedRig
        let reconciler: Reconciler
        let lease: FeedLease
        let admin: CurlTransport
        let baseURL: String
        let crm: CRM
        let client: HubSpotClient

        /// Changes a record as a person in HubSpot's UI would (no webhook: none configured).
        func ui(_ method: HTTPRequest.Method, _ path: String, _ body: String) async throws -> [String: Any] {
            let response = try await admin.send(
                HTTPRequest(
                    method: method, url: baseURL + "/_sim/ui/objects/" + path,
                    headers: [("Content-Type", "application/json")], body: Array(body.utf8)), timeout: .seconds(30))
            #expect((200..<300).contains(response.status), "\(String(decoding: response.body, as: UTF8.self))")
            return (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        }

        /// Creates `count` contacts in the simulator's UI; their ids, in creation order.
        func createContacts(_ count: Int, prefix: String) async throws -> [String] {
            var ids: [String] = []
            for n in 0..<count {
                let created = try await ui(
                    .post, "contacts", #"{"properties": {"email": "\#(prefix)\#(n)@example.com"}}"#)
                ids.append(created["id"] as? String ?? "")
            }
            return ids
        }

        /// Every id of a type in the simulator's store (its list endpoint, which has no lag).
        func storedIds(_ type: String, archived: Bool = false) async throws -> Set<String> {
            var ids: Set<String> = []
            var after: String? = nil
            repeat {
                let page = try await client.listObjects(type, limit: 100, after: after, archived: archived)
                ids.formUnion(page.results.map(\.id))
                after = page.nextAfter
            } while after != nil
            return ids
        }
    }

    static func with(
        simulator configureSimulator: (inout SimulatorConfiguration) -> Void = { _ in },
        configure: (inout ReconcilerConfiguration) -> Void = { _ in }, _ body: (Rig) async throws -> Void
    ) async throws {
        try await FeedRig.with { feed in
            var simulator = SimulatorConfiguration()
            simulator.dailyLimit = 0
            simulator.burstLimit = 0
            simulator.searchPerSecondLimit = 0
            configureSimulator(&simulator)
            try await HubSpotSimulator.withRunning(simulator, logger: quietLogger()) { _, baseURL in
                let transport = CurlTransport()
                let admin = CurlTransport()
                defer {
                    transport.shutdown()
                    admin.shutdown()
                }
                var door = DoorConfiguration(baseURL: baseURL)
                door.prefixKeys(feed.feed.configuration.keyPrefix)
                door.redisTimeout = .seconds(2)
                // Fast enough for 25,000 records: 100 calls and 50 searches a second (bulk
                // searches take every other 20 ms window).
                door.limits.generalPerSecond = 100
                door.limits.searchPerSecond = 50
                door.limits.windowEndGuard = .milliseconds(2)
                let crm = CRM(
                    door: door, credentials: .privateAppToken(Secret(simulator.token)), redis: feed.client,
                    transport: transport, logger: quietLogger())
                let client = HubSpotClient(
                    transport: transport, credentials: .privateAppToken(Secret(simulator.token)),
                    configuration: HubSpotClientConfiguration(baseURL: baseURL))
                var configuration = ReconcilerConfiguration()
                configuration.objectTypes = ["contacts"]
                configuration.keyPrefix = feed.feed.configuration.keyPrefix + ":reconciler"
                configuration.callsPerSecond = 0
                configure(&configuration)
                let lease = FeedLease(
                    name: "reconciler", redis: feed.client, keyPrefix: feed.feed.configuration.keyPrefix)
                let reconciler = Reconciler(
                    crm: crm, feed: feed.feed, lease: lease, replica: "replica-1", configuration: configuration,
                    logger: quietLogger())
                try await body(
                    Rig(
                        feed: feed, reconciler: reconciler, lease: lease, admin: admin, baseURL: baseURL, crm: crm,
                        client: client))
            }
        }
    }

    @Test func changesNoWebhookReportedAreFoundOncePublishedAndNotRepublished() async throws {
        try await Self.with { rig in
            let ids = try await rig.createContacts(30, prefix: "r")
            let token = try #require(try await rig.lease.take(as: "replica-1"))
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 30)
            let first = try await rig.feed.stored()
            #expect(Set(first.map(\.objectId)) == Set(ids))
            #expect(first.allSatisfy { $0.source == .reconciler && $0.kind == .created && $0.objectType == "contacts" })
            // The lookback is read again: nothing twice.
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 0)
            for id in ids.prefix(5) {
                _ = try await rig.ui(.patch, "contacts/\(id)", #"{"properties": {"firstname": "Changed"}}"#)
            }
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 5)
            let updates = try await rig.feed.stored().filter { $0.kind == .updated }
            #expect(Set(updates.map(\.objectId)) == Set(ids.prefix(5)))
        }
    }

    @Test func aWindowNearTheSearchCapRestartsFromTheLastTimestampAndLosesNothing() async throws {
        try await Self.with(configure: {
            $0.pageSize = 7
            $0.searchWindow = 20
        }) { rig in
            let ids = Set(try await rig.createContacts(60, prefix: "w"))
            let token = try #require(try await rig.lease.take(as: "replica-1"))
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 60)
            let stored = try await rig.feed.stored()
            #expect(Set(stored.map(\.objectId)) == ids)
            #expect(stored.count == 60, "each record once")
        }
    }

    @Test func aReplicaThatLostTheLeaseCannotMoveTheWatermark() async throws {
        try await Self.with { rig in
            let old = try #require(try await rig.lease.take(as: "replica-1"))
            try await rig.lease.release(as: "replica-1", token: old)
            _ = try #require(try await rig.lease.take(as: "replica-2"))
            await #expect(throws: LeaseLost.self) {
                _ = try await rig.reconciler.reconcile("contacts", token: old)
            }
        }
    }

    @Test func deletionsAreFoundInTheArchivedListAndPublishedOnce() async throws {
        try await Self.with { rig in
            let ids = try await rig.createContacts(6, prefix: "d")
            let token = try #require(try await rig.lease.take(as: "replica-1"))
            // The first scan stores where it began: archived before it is history.
            #expect(try await rig.reconciler.reconcileDeletions("contacts", token: token) == 0)
            for id in ids.prefix(3) { _ = try await rig.ui(.delete, "contacts/\(id)", "") }
            #expect(try await rig.reconciler.reconcileDeletions("contacts", token: token) == 3)
            #expect(try await rig.reconciler.reconcileDeletions("contacts", token: token) == 0)
            let deleted = try await rig.feed.stored().filter { $0.kind == .deleted }
            #expect(Set(deleted.map(\.objectId)) == Set(ids.prefix(3)))
            #expect(deleted.allSatisfy { $0.source == .reconciler && $0.occurredAt > 0 })
        }
    }

    @Test func aMergeFoundBySearchIsPublishedAsMergedOnceNamingTheMergedRecord() async throws {
        try await Self.with { rig in
            let ids = try await rig.createContacts(2, prefix: "m")
            let token = try #require(try await rig.lease.take(as: "replica-1"))
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 2)
            _ = try await rig.ui(
                .post, "contacts/merge", #"{"primaryObjectId": "\#(ids[0])", "objectIdToMerge": "\#(ids[1])"}"#)
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 1)
            let merged = try #require(try await rig.feed.stored().last)
            #expect(merged.kind == .merged && merged.objectId == ids[0])
            #expect(Set(merged.mergedObjectIds) == Set(ids))
            // A later change of the surviving record is an update, not the merge again.
            _ = try await rig.ui(.patch, "contacts/\(ids[0])", #"{"properties": {"firstname": "After"}}"#)
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 1)
            #expect(try await rig.feed.stored().last?.kind == .updated)
        }
    }

    @Test func aChangeSeenByBothIntakesIsInTheFeedOnceWhicheverCameFirst() async throws {
        try await Self.with { rig in
            let ids = try await rig.createContacts(2, prefix: "b")
            let token = try #require(try await rig.lease.take(as: "replica-1"))
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 2)
            let records = try await rig.crm.records.get(
                "contacts", ids: ids, properties: ["lastmodifieddate"], maxStaleness: .zero,
                CallTerms(deadline: .now + .seconds(5)))
            func webhookEvent(_ id: String, _ n: Int, kind: ChangeEvent.Kind) throws -> ChangeEvent {
                let record = try #require(records.compactMap { $0 }.first { $0.id == id })
                let ms = try #require(ModificationPosition(of: record, type: "contacts")).modifiedMs
                return ChangeEvent(
                    objectType: "contacts", objectId: id, kind: kind, eventId: "hubspot-\(id)-\(n)",
                    subscriptionType: "contact.creation", occurredAt: ms)
            }
            // The reconciler came first: HubSpot's late webhook for the same change is dropped.
            #expect(try await rig.feed.feed.append([try webhookEvent(ids[0], 1, kind: .created)]).storedCount == 0)
            // The webhook came first: the reconciler's re-read publishes nothing for it, while
            // every property event of the webhook's delivery is kept.
            _ = try await rig.ui(.patch, "contacts/\(ids[1])", #"{"properties": {"firstname": "W", "lastname": "X"}}"#)
            let updated = try #require(
                try await rig.crm.records.get(
                    "contacts", id: ids[1], properties: ["lastmodifieddate"], maxStaleness: .zero,
                    CallTerms(deadline: .now + .seconds(5))
                ).record)
            let ms = try #require(ModificationPosition(of: updated, type: "contacts")).modifiedMs
            let delivery = (1...2).map { n in
                ChangeEvent(
                    objectType: "contacts", objectId: ids[1], kind: .updated, eventId: "hubspot-upd-\(n)",
                    subscriptionType: "contact.propertyChange", occurredAt: ms)
            }
            #expect(try await rig.feed.feed.append(delivery).storedCount == 2)
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 0)
            let forUpdate = try await rig.feed.stored().filter { $0.objectId == ids[1] && $0.occurredAt == ms }
            #expect(forUpdate.count == 2 && forUpdate.allSatisfy { $0.source == .webhook })
        }
    }

    @Test func aChangeHeardThroughTheWebhookAndTheJournalIsStoredOnceAndEachOfItsPropertiesKept() async throws {
        try await Self.with { rig in
            func event(_ id: String, _ property: String, source: ChangeEvent.Source, eventId: String) -> ChangeEvent {
                var event = ChangeEvent(
                    objectType: "contacts", objectId: id, kind: .updated, eventId: eventId,
                    subscriptionType: "contact.propertyChange", occurredAt: 1_700_000_000_000)
                event.propertyName = property
                event.propertyValue = "v"
                event.source = source
                return event
            }
            // HubSpot's two deliveries of one change (two properties), under different event ids.
            let webhook = [
                event("9001", "firstname", source: .webhook, eventId: "101"),
                event("9001", "lastname", source: .webhook, eventId: "102"),
            ]
            let journal = [
                event("9001", "firstname", source: .journal, eventId: "j5001"),
                event("9001", "lastname", source: .journal, eventId: "j5002"),
                event("9001", "jobtitle", source: .journal, eventId: "j5003"),
            ]
            #expect(try await rig.feed.feed.append(webhook).storedCount == 2)
            let fromJournal = try await rig.feed.feed.append(journal)
            #expect(fromJournal.cursors.map { $0 != nil } == [false, false, true], "only what the webhook did not say")
            // The journal read again after a crash: nothing new.
            #expect(try await rig.feed.feed.append(journal).storedCount == 0)
            let stored = try await rig.feed.stored().filter { $0.objectId == "9001" }
            #expect(stored.map(\.propertyName) == ["firstname", "lastname", "jobtitle"])
            #expect(stored.map(\.source) == [.webhook, .webhook, .journal])
        }
    }

    @Test func anUpdateNamesWhichComparedPropertiesChangedOnceEarlierValuesAreKnown() async throws {
        try await Self.with(configure: { $0.comparedProperties = ["contacts": ["firstname", "lastname"]] }) { rig in
            let ids = try await rig.createContacts(1, prefix: "c")
            let token = try #require(try await rig.lease.take(as: "replica-1"))
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 1)
            _ = try await rig.ui(.patch, "contacts/\(ids[0])", #"{"properties": {"firstname": "Ada"}}"#)
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 1)
            #expect(try await rig.feed.stored().last?.changedProperties == ["firstname"])
            // A change of a property nobody compares: known to concern none of them.
            _ = try await rig.ui(.patch, "contacts/\(ids[0])", #"{"properties": {"phone": "+1 555 0100"}}"#)
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 1)
            let last = try #require(try await rig.feed.stored().last)
            #expect(last.changedProperties == [])
            #expect(!ChangeFilter(propertyNames: ["firstname"]).matches(last))
            #expect(ChangeFilter(propertyNames: ["firstname"]).matches(try await rig.feed.stored()[1]))
        }
    }

    @Test func anUpdateWithoutEarlierValuesNamesNoPropertyAndPassesEveryPropertyFilter() async throws {
        try await Self.with { rig in
            let ids = try await rig.createContacts(1, prefix: "n")
            let token = try #require(try await rig.lease.take(as: "replica-1"))
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 1)
            _ = try await rig.ui(.patch, "contacts/\(ids[0])", #"{"properties": {"firstname": "Ada"}}"#)
            #expect(try await rig.reconciler.reconcile("contacts", token: token) == 1)
            let update = try #require(try await rig.feed.stored().last)
            #expect(update.kind == .updated && update.changedProperties == nil && update.propertyName == nil)
            #expect(ChangeFilter(propertyNames: ["lastname"]).matches(update), "it may concern any property")
        }
    }

    /// Short form: 10,500 records in one millisecond; long form: 25,000 in two.
    @Test func moreThanTenThousandRecordsInOneMillisecondAreEachWalkedExportedAndPublishedOnce() async throws {
        let count = TestScale.pick(short: 10_500, long: 25_000)
        let timestamps = TestScale.pick(short: 1, long: 2)
        try await Self.with(simulator: {
            $0.seedContacts = count
            $0.seedDistinctTimestamps = timestamps
        }) { rig in
            let ids = try await rig.storedIds("contacts")
            #expect(ids.count == count)
            // The walk: every record once, in (modification, id) order.
            let seen = Seen()
            let start = ModificationPosition(modifiedMs: 0)
            try await rig.crm.records.walkModified(
                "contacts", after: start,
                ModifiedWalkTerms(terms: { CallTerms(priority: .bulk, deadline: .now + .seconds(30)) })
            ) { batch in seen.add(batch.map(\.position)) }
            let positions = seen.positions
            #expect(positions.count == count)
            #expect(Set(positions.compactMap { $0.id.map(String.init) }) == ids)
            #expect(zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 }, "strictly ascending")
            #expect(Set(positions.map(\.modifiedMs)).count == timestamps)
            // The export from before the seeded times (search, as the reconciler walks): each once.
            let exported = ExportedIds()
            try await rig.crm.records.export(
                from: Records.exportStart(of: "contacts", since: 0),
                ExportTerms(settle: .zero, terms: { CallTerms(priority: .bulk, deadline: .now + .seconds(30)) })
            ) { batch in exported.add(batch.map(\.record.id)) }
            #expect(exported.ids.count == count && Set(exported.ids) == ids)
            // The reconciler from before the seeded times: an event for each.
            let token = try #require(try await rig.lease.take(as: "replica-1"))
            let before = positions[0].modifiedMs - 1
            _ = try await rig.lease.write(rig.reconciler.watermarkKey("contacts"), String(before), token: token)
            #expect(try await rig.reconciler.reconcile("contacts", token: token, now: Date()) == count)
            #expect(Set(try await rig.feed.stored().map(\.objectId)) == ids)
        }
    }
}

/// What a walk delivered, in order.
final class Seen: Sendable {
    private let state = Mutex<[ModificationPosition]>([])
    func add(_ positions: [ModificationPosition]) { state.withLock { $0 += positions } }
    var positions: [ModificationPosition] { state.withLock { $0 } }
}

/// Ids an export handed out, in order.
final class ExportedIds: Sendable {
    private let state = Mutex<[String]>([])
    func add(_ ids: [String]) { state.withLock { $0 += ids } }
    var ids: [String] { state.withLock { $0 } }
}
