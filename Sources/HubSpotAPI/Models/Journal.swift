import Foundation

/// Which of HubSpot's webhooks journals to read: the app's global one (every installing
/// account) or one account's local journal.
public enum JournalScope: Sendable, Equatable {
    case global
    case local(portalId: Int?)

    var pathPrefix: String {
        switch self {
        case .global: "/webhooks-journal/journal/2026-03"
        case .local: "/webhooks-journal/journal-local/2026-03"
        }
    }
}

/// Where to look in a journal.
public enum JournalPosition: Sendable, Equatable {
    case earliest
    case latest
    /// The entry after this offset (an expired or unknown offset answers 404).
    case next(after: String)
}

/// One journal entry: its offset and where its data is downloaded from.
public struct JournalEntry: Sendable, Equatable, Decodable {
    public var currentOffset: String
    public var url: String
    public var expiresAt: String?

    public init(currentOffset: String, url: String, expiresAt: String? = nil) {
        self.currentOffset = currentOffset
        self.url = url
        self.expiresAt = expiresAt
    }
}

/// A subscription of the webhooks journal (2026-03 management API): which actions on which
/// object type (and, for updates, which properties) are written to the journal.
public struct JournalSubscription: Sendable, Equatable, Codable {
    public var id: Int64?
    public var subscriptionType: String = "OBJECT"
    public var portalId: Int?
    /// CREATE, UPDATE, DELETE, MERGE, RESTORE, ASSOCIATION_ADDED, ASSOCIATION_REMOVED, …
    public var actions: [String]
    /// HubSpot's object type id (`0-1` contacts, `0-2` companies, `0-3` deals, `0-5` tickets, …).
    public var objectTypeId: String
    public var objectIds: [Int64] = []
    /// Properties whose changes are journalled (empty: every property).
    public var properties: [String] = []

    public init(objectTypeId: String, actions: [String], properties: [String] = [], portalId: Int? = nil) {
        self.objectTypeId = objectTypeId
        self.actions = actions
        self.properties = properties
        self.portalId = portalId
    }
}
