import Foundation
import HubSpotAPI
import Time

/// HubSpot's engagement (activity) types, the entries of a record's timeline.
public enum EngagementType: String, Sendable, CaseIterable, Hashable {
    case note = "notes"
    case call = "calls"
    case email = "emails"
    case meeting = "meetings"
    case task = "tasks"

    /// What a timeline reads of each type: when it happened, its owner, and the type's own
    /// properties (HubSpot's activity APIs' names).
    public var properties: [String] {
        let own: [String] =
            switch self {
            case .note: ["hs_note_body", "hs_attachment_ids"]
            case .call:
                [
                    "hs_call_title", "hs_call_body", "hs_call_duration", "hs_call_direction", "hs_call_status",
                    "hs_call_disposition",
                ]
            case .email: ["hs_email_subject", "hs_email_text", "hs_email_direction", "hs_email_status"]
            case .meeting:
                [
                    "hs_meeting_title", "hs_meeting_body", "hs_meeting_location", "hs_meeting_start_time",
                    "hs_meeting_end_time", "hs_meeting_outcome",
                ]
            case .task: ["hs_task_subject", "hs_task_body", "hs_task_status", "hs_task_priority", "hs_task_type"]
            }
        return ["hs_timestamp", "hubspot_owner_id"] + own
    }

    /// Entries of the same time are ordered by type (this order, last first), then by id.
    var rank: Int { Self.allCases.firstIndex(of: self)! }
}

/// One engagement on a record's timeline.
public struct TimelineEntry: Sendable {
    public var type: EngagementType
    public var record: CRMRecord
    /// `hs_timestamp` (when it happened; a task's due date), or its creation when HubSpot has none.
    public var timestamp: Date

    init(_ type: EngagementType, _ record: CRMRecord) {
        self.type = type
        self.record = record
        timestamp =
            record["hs_timestamp"].flatMap(HubSpotTimestamp.parse) ?? record.createdAt ?? Date(epochMilliseconds: 0)
    }

    /// The timeline's order, descending: newest first, ties broken by type and id.
    fileprivate var key: TimelinePosition.Key { (timestamp.epochMilliseconds, type.rank, Int64(record.id) ?? 0) }
}

/// A page of a record's timeline.
public struct TimelinePage: Sendable {
    public var entries: [TimelineEntry]
    /// Where the next page starts; nil on the last.
    public var next: TimelinePosition?
    /// How many engagements of the asked types the record has.
    public var total: Int
}

/// The last entry a timeline page handed out. The next page starts at the next older entry, so
/// engagements logged meanwhile neither repeat nor skip an entry of the pages still to come.
public struct TimelinePosition: Sendable, Equatable {
    public var record: RecordRef
    public var timestampMs: Int64
    public var type: EngagementType
    public var id: String

    typealias Key = (timestampMs: Int64, rank: Int, id: Int64)
    var key: Key { (timestampMs, type.rank, Int64(id) ?? 0) }

    init(record: RecordRef, after entry: TimelineEntry) {
        self.record = record
        timestampMs = entry.timestamp.epochMilliseconds
        type = entry.type
        id = entry.record.id
    }

    /// The opaque text handed to callers.
    public var text: String {
        CursorText.encode(["t1", record.type, record.id, String(timestampMs), type.rawValue, id])
    }

    /// Reads a position this gateway handed out; nil for anything else.
    public init?(text: String) {
        guard let fields = CursorText.decode(text), fields.count == 6, fields[0] == "t1",
            let timestampMs = Int64(fields[3]), let type = EngagementType(rawValue: fields[4]), !fields[5].isEmpty
        else { return nil }
        record = RecordRef(fields[1], fields[2])
        self.timestampMs = timestampMs
        self.type = type
        id = fields[5]
    }
}

/// A record's activity — the notes, calls, emails, meetings and tasks associated with it — read
/// as its timeline, and engagements logged on records.
public struct Engagements: Sendable {
    let upstream: HubSpotUpstream
    let records: Records
    let associations: Associations

    /// A page of `record`'s engagements of `types`, newest first. HubSpot has no timeline read,
    /// so it is made of the fewest calls its APIs allow: one read of the record with its
    /// associations to every type (the associations API for a type with more than that read
    /// holds), then the engagements through the shared cache and the batch reads every caller
    /// shares (100 a call; none for those cached). Every page reads all of the record's
    /// engagements — the order is by `hs_timestamp`, which HubSpot's association lists do not
    /// give — so later pages are answered from the cache the first one filled.
    public func timeline(
        of record: RecordRef, types: [EngagementType] = EngagementType.allCases, limit: Int,
        after position: TimelinePosition?, properties: [String] = [], maxStaleness: Duration? = nil,
        _ terms: CallTerms
    ) async throws -> TimelinePage {
        try Caller.authorize(.read, record.type)
        let types = types.isEmpty ? EngagementType.allCases : Array(Set(types)).sorted { $0.rank < $1.rank }
        for type in types { try Caller.authorize(.read, type.rawValue) }
        if let position, position.record != record {
            throw CRMError(
                .invalidRequest,
                "the page cursor belongs to the timeline of \(position.record), not of \(record); start without one")
        }
        let ids = try await engagementIds(of: record, types, terms)
        var entries = try await withThrowingTaskGroup(of: [TimelineEntry].self) { group in
            for (type, ids) in ids where !ids.isEmpty {
                group.addTask {
                    try await records.get(
                        type.rawValue, ids: ids, properties: type.properties + properties, maxStaleness: maxStaleness,
                        terms
                    ).compactMap { $0.map { TimelineEntry(type, $0) } }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        entries.sort { $0.key > $1.key }
        let total = entries.count
        if let position {
            let after = position.key
            entries.removeFirst(entries.prefix { $0.key >= after }.count)
        }
        let page = Array(entries.prefix(limit))
        return TimelinePage(
            entries: page,
            next: entries.count > limit ? page.last.map { TimelinePosition(record: record, after: $0) } : nil,
            total: total)
    }

    /// The ids of `record`'s engagements of each type: the record read with its associations to
    /// every type in one call; a type with more than the read holds (it says so by paging) is
    /// listed whole through the associations API, 500 a call.
    func engagementIds(of record: RecordRef, _ types: [EngagementType], _ terms: CallTerms) async throws
        -> [EngagementType: [String]]
    {
        let read = try await upstream.perform(terms) {
            try await $0.getObject(
                record.type, id: record.id, properties: ["hs_object_id"], associations: types.map(\.rawValue),
                options: $1)
        }
        var ids: [EngagementType: [String]] = [:]
        for type in types {
            ids[type] = try await associations.ids(
                read.associations?[type.rawValue], of: record, toType: type.rawValue, terms)
        }
        return ids
    }

    /// Logs an engagement of `type` at `timestamp` on the records `on` names (at least one), in
    /// one HubSpot call: the engagement is created with its associations (HubSpot's default
    /// kind for each pair unless one is named).
    public func log(
        _ type: EngagementType, at timestamp: Date, properties: [String: String], on targets: [NewAssociation],
        _ terms: CallTerms
    ) async throws -> TimelineEntry {
        guard !targets.isEmpty else {
            throw CRMError(
                .invalidRequest,
                "an engagement is logged on at least one record: name one in its associations (e.g. a contact or a deal)"
            )
        }
        for target in targets { try Caller.authorize(.read, target.to.type) }
        var properties = properties
        properties["hs_timestamp"] = HubSpotTimestamp.format(timestamp)
        let record = try await records.write(
            type.rawValue, .create(properties: properties, associations: targets), terms)
        return TimelineEntry(type, record)
    }
}
