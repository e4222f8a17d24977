import Foundation
import JSONCore
import Synchronization
import Time

/// HubSpot's webhooks journal (2026-03), simulated: subscriptions choose which changes are
/// written; changes gather into entries (at most `maxEventsPerEntry` each, sealed when full or
/// when a reader asks), each with a UUID offset and a file of its events that is downloaded
/// from a URL; entries older than the retention are gone, and so are their offsets (404).
///
/// The file's shape — `{"currentOffset", "portalId", "appId", "events": [...]}` with each event
/// as a webhook delivers it plus its journal `action` — is this simulator's reading of HubSpot's
/// guide, which does not publish an example file; the gateway parses it in one place
/// (`JournalEntryData`).
final class WebhookJournal: Sendable {
    struct Entry: Sendable {
        var offset: String
        var createdAt: Int64
        var events: [(ChangeEvent, eventId: Int64)]
    }

    private struct State: Sendable {
        var subscriptions: [JournalSubscriptionRecord] = []
        var nextSubscriptionId: Int64 = 1
        var entries: [Entry] = []
        var open: [(ChangeEvent, eventId: Int64)] = []
        var nextEventId: Int64 = 1_000_000_001
        var journalled = 0
    }

    private let state = Mutex(State())
    let configuration: JournalConfiguration
    let portalId: Int
    let appId: Int

    init(configuration: JournalConfiguration, portalId: Int, appId: Int) {
        self.configuration = configuration
        self.portalId = portalId
        self.appId = appId
    }

    // MARK: Writing

    /// Journals the changes some subscription asks for.
    func record(_ events: [ChangeEvent]) {
        state.withLock { state in
            guard !state.subscriptions.isEmpty else { return }
            for event in events where state.subscriptions.contains(where: { $0.matches(event) }) {
                state.open.append((event, state.nextEventId))
                state.nextEventId += 1
                state.journalled += 1
                if state.open.count >= configuration.maxEventsPerEntry { Self.seal(&state) }
            }
        }
    }

    private static func seal(_ state: inout State) {
        guard !state.open.isEmpty else { return }
        let createdAt = state.open.last!.0.occurredAt
        state.entries.append(Entry(offset: UUID().uuidString.lowercased(), createdAt: createdAt, events: state.open))
        state.open = []
    }

    // MARK: Reading

    enum Lookup {
        case entry(Entry)
        case none
        case expired
    }

    /// The entry a reader asks for; pending changes are sealed into an entry first.
    func lookup(_ position: Position, now: Int64) -> Lookup {
        state.withLock { state in
            Self.seal(&state)
            expire(&state, now: now)
            switch position {
            case .earliest: return state.entries.first.map(Lookup.entry) ?? .none
            case .latest: return state.entries.last.map(Lookup.entry) ?? .none
            case .next(let offset):
                guard let index = state.entries.firstIndex(where: { $0.offset == offset }) else { return .expired }
                return index + 1 < state.entries.count ? .entry(state.entries[index + 1]) : .none
            }
        }
    }

    enum Position {
        case earliest, latest
        case next(String)
    }

    /// The file of the entry at `offset` (nil once it expired).
    func file(offset: String, now: Int64) -> [UInt8]? {
        guard
            let entry = state.withLock({ state -> Entry? in
                expire(&state, now: now)
                return state.entries.first { $0.offset == offset }
            })
        else { return nil }
        var w = JSONWriter(capacity: 256 * entry.events.count)
        w.beginObject()
        w.member("currentOffset", entry.offset)
        w.member("portalId", portalId)
        w.member("appId", appId)
        w.key("events")
        w.beginArray()
        for (event, eventId) in entry.events {
            WebhookEventJSON.write(&w, event, eventId: eventId, portalId: portalId, appId: appId) { w in
                w.member("action", JournalSubscriptionRecord.action(of: event))
            }
        }
        w.endArray()
        w.endObject()
        return w.bytes
    }

    private func expire(_ state: inout State, now: Int64) {
        let oldest = now - configuration.retention.milliseconds
        state.entries.removeAll { $0.createdAt < oldest }
    }

    // MARK: Subscriptions

    /// Creates a subscription, or updates the one for the same object type and portal.
    func upsert(_ subscription: JournalSubscriptionRecord, now: Int64) -> JournalSubscriptionRecord {
        state.withLock { state in
            if let index = state.subscriptions.firstIndex(where: {
                $0.objectTypeId == subscription.objectTypeId && $0.portalId == subscription.portalId
            }) {
                var updated = subscription
                updated.id = state.subscriptions[index].id
                updated.createdAt = state.subscriptions[index].createdAt
                updated.updatedAt = now
                state.subscriptions[index] = updated
                return updated
            }
            var created = subscription
            created.id = state.nextSubscriptionId
            created.createdAt = now
            created.updatedAt = now
            state.nextSubscriptionId += 1
            state.subscriptions.append(created)
            return created
        }
    }

    var subscriptions: [JournalSubscriptionRecord] { state.withLock { $0.subscriptions } }

    func deleteSubscription(id: Int64) -> Bool {
        state.withLock { state in
            let before = state.subscriptions.count
            state.subscriptions.removeAll { $0.id == id }
            return state.subscriptions.count < before
        }
    }

    /// Entries kept and events journalled so far (`/_sim/journal`).
    var statistics: (entries: Int, journalled: Int, subscriptions: Int) {
        state.withLock { ($0.entries.count, $0.journalled, $0.subscriptions.count) }
    }

    func reset() { state.withLock { $0 = State() } }
}

/// A journal subscription as the simulator keeps it.
struct JournalSubscriptionRecord: Sendable {
    var id: Int64 = 0
    var objectTypeId: String
    var actions: Set<String>
    var properties: Set<String>
    var portalId: Int?
    var createdAt: Int64 = 0
    var updatedAt: Int64 = 0

    /// The journal's name for what a change did.
    static func action(of event: ChangeEvent) -> String {
        switch event.subscriptionType.split(separator: ".").last ?? "" {
        case "creation": "CREATE"
        case "propertyChange": "UPDATE"
        case "deletion", "privacyDeletion": "DELETE"
        case "merge": "MERGE"
        case "restore": "RESTORE"
        case "associationChange": event.association?.removed == true ? "ASSOCIATION_REMOVED" : "ASSOCIATION_ADDED"
        default: "UNKNOWN"
        }
    }

    func matches(_ event: ChangeEvent) -> Bool {
        guard event.objectTypeId == objectTypeId else { return false }
        let action = Self.action(of: event)
        guard actions.contains(action) else { return false }
        if action == "UPDATE", !properties.isEmpty { return event.propertyName.map(properties.contains) ?? false }
        return true
    }
}

/// Settings of the simulated journal.
public struct JournalConfiguration: Sendable {
    /// How long entries are kept (HubSpot: 3 days); shorten it to test an expired offset.
    public var retention: Duration = .seconds(3 * 24 * 3600)
    /// Events per entry (an entry is sealed when full, or when a reader asks).
    public var maxEventsPerEntry = 100

    public init() {}
}
