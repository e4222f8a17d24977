import Foundation

/// A CRM record as every API of the gateway sees it: HubSpot's id, its properties (a value is
/// nil when HubSpot has the property unset) and its timestamps.
public struct CRMRecord: Sendable, Equatable {
    public var id: String
    public var properties: [String: String?]
    public var createdAt: Date?
    public var updatedAt: Date?
    public var archived: Bool
    /// When HubSpot archived the record (archived records only).
    public var archivedAt: Date?
    /// Upserts say whether the record was created (nil for every other operation).
    public var created: Bool?
    /// Earlier values of the properties a history read asked for, newest first (empty otherwise).
    public var history: [String: [PropertyValueChange]] = [:]

    public init(
        id: String, properties: [String: String?], createdAt: Date? = nil, updatedAt: Date? = nil,
        archived: Bool = false, archivedAt: Date? = nil, created: Bool? = nil
    ) {
        self.id = id
        self.properties = properties
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.archived = archived
        self.archivedAt = archivedAt
        self.created = created
    }

    /// The value of a property, or nil when unset or not asked for.
    public subscript(property: String) -> String? { properties[property] ?? nil }
}

/// One value a property held: when it was set, and by what (`sourceType`: `CRM_UI`, `API`,
/// `IMPORT`, `WORKFLOW`, …; `sourceId`: which app, user or workflow).
public struct PropertyValueChange: Sendable, Equatable {
    public var value: String
    public var timestamp: Date?
    public var sourceType: String?
    public var sourceId: String?

    public init(value: String, timestamp: Date?, sourceType: String?, sourceId: String?) {
        self.value = value
        self.timestamp = timestamp
        self.sourceType = sourceType
        self.sourceId = sourceId
    }
}

/// One record read through the shared cache, and how fresh the answer is.
public struct RecordRead: Sendable {
    /// nil: HubSpot has no such record.
    public var record: CRMRecord?
    public var source: ObjectCache.Source
    /// Age of the data (zero when just fetched from HubSpot).
    public var age: Duration
}

/// A page of records (a list in HubSpot's order, or search results).
public struct RecordPage: Sendable {
    public var records: [CRMRecord]
    /// Where the next page starts; nil on the last.
    public var next: String?
    /// Search only: how many records match in all.
    public var total: Int?
}

/// A record of a type, named by HubSpot id.
public struct RecordRef: Sendable, Hashable, CustomStringConvertible {
    public var type: String
    public var id: String

    public init(_ type: String, _ id: String) {
        self.type = type
        self.id = id
    }

    public var description: String { "\(type) \(id)" }
}
