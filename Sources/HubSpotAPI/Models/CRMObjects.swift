import Foundation
import Time

/// A CRM record as HubSpot returns it (`SimplePublicObject` and its relatives). Unknown fields
/// are ignored; property values are strings or null.
public struct HubSpotObject: Codable, Sendable, Equatable {
    public var id: String
    public var properties: [String: String?]
    public var propertiesWithHistory: [String: [PropertyVersion]]?
    public var createdAt: Date?
    public var updatedAt: Date?
    public var archived: Bool?
    public var archivedAt: Date?
    /// v3 associations of a single read, by target type (`contacts`, `companies`, …).
    public var associations: [String: AssociationIds]?
    /// Upsert results say whether the record was created.
    public var new: Bool?

    public init(
        id: String, properties: [String: String?], createdAt: Date? = nil, updatedAt: Date? = nil, archived: Bool? = nil
    ) {
        self.id = id
        self.properties = properties
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.archived = archived
    }

    /// The value of a property, or nil when unset or not returned.
    public subscript(property: String) -> String? { properties[property] ?? nil }

    private enum CodingKeys: String, CodingKey {
        case id, properties, propertiesWithHistory, createdAt, updatedAt, archived, archivedAt, associations, new
    }

    /// Decodes timestamps directly (this runs for every record read, so it avoids the
    /// decoder's per-date strategy callback).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func date(_ key: CodingKeys) throws -> Date? {
            guard let text = try container.decodeIfPresent(String.self, forKey: key) else { return nil }
            if let date = HubSpotTimestamp.parse(text) { return date }
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container, debugDescription: "not an ISO-8601 timestamp: \(text)")
        }
        id = try container.decode(String.self, forKey: .id)
        properties = try container.decodeIfPresent([String: String?].self, forKey: .properties) ?? [:]
        propertiesWithHistory = try container.decodeIfPresent(
            [String: [PropertyVersion]].self, forKey: .propertiesWithHistory)
        createdAt = try date(.createdAt)
        updatedAt = try date(.updatedAt)
        archived = try container.decodeIfPresent(Bool.self, forKey: .archived)
        archivedAt = try date(.archivedAt)
        associations = try container.decodeIfPresent([String: AssociationIds].self, forKey: .associations)
        new = try container.decodeIfPresent(Bool.self, forKey: .new)
    }
}

/// One historical value of a property.
public struct PropertyVersion: Codable, Sendable, Equatable {
    public var value: String
    public var timestamp: Date?
    public var sourceType: String?
    public var sourceId: String?
}

/// The v3 `associations` block of a read: ids of associated records with their type names.
public struct AssociationIds: Codable, Sendable, Equatable {
    public struct Item: Codable, Sendable, Equatable {
        public var id: String
        public var type: String
    }

    public var results: [Item]
    public var paging: Paging?
}

/// A list or search cursor.
public struct Paging: Codable, Sendable, Equatable {
    public struct Next: Codable, Sendable, Equatable {
        public var after: String
        public var link: String?
    }

    public var next: Next?
}

/// One page of `GET /crm/v3/objects/{type}`.
public struct ObjectPage: Codable, Sendable {
    public var results: [HubSpotObject]
    public var paging: Paging?

    /// The cursor of the next page; nil on the last.
    public var nextAfter: String? { paging?.next?.after }
}

/// One page of search results.
public struct SearchPage: Codable, Sendable {
    public var total: Int
    public var results: [HubSpotObject]
    public var paging: Paging?

    public var nextAfter: String? { paging?.next?.after }
}

/// A batch response. HubSpot answers 207 when some inputs failed: `errors` says which.
public struct BatchResult: Sendable {
    public var status: String
    public var results: [HubSpotObject]
    public var errors: [BatchItemError]
    public var startedAt: Date?
    public var completedAt: Date?
    /// 200, 201 or 207.
    public var httpStatus: Int
    /// `X-HubSpot-Correlation-Id` of the response.
    public var correlationId: String?
}

/// One failed input (or group of ids) of a batch call.
public struct BatchItemError: Codable, Sendable, Equatable {
    public var status: String?
    public var category: String?
    public var subCategory: String?
    public var message: String
    /// e.g. `["ids": ["1", "2"]]` or `["objectWriteTraceId": ["t1"]]`.
    public var context: [String: [String]]?
    public var errors: [ErrorDetail]?
}

/// A detail of an error (`errors[]` of HubSpot's error bodies).
public struct ErrorDetail: Codable, Sendable, Equatable {
    public var message: String
    public var code: String?
    public var subCategory: String?
    public var `in`: String?
    public var context: [String: [String]]?
}

/// An input of a batch create: properties, associations and an optional trace id that makes
/// HubSpot report this input's failure separately (207) instead of failing the whole batch.
public struct BatchCreateInput: Encodable, Sendable {
    public var properties: [String: String]
    public var associations: [AssociationInput]?
    public var objectWriteTraceId: String?

    public init(
        properties: [String: String], associations: [AssociationInput]? = nil, objectWriteTraceId: String? = nil
    ) {
        self.properties = properties
        self.associations = associations
        self.objectWriteTraceId = objectWriteTraceId
    }
}

/// An input of a batch update (by id, or by a unique `idProperty`).
public struct BatchUpdateInput: Encodable, Sendable {
    public var id: String
    public var idProperty: String?
    /// nil values clear the property.
    public var properties: [String: String?]
    public var objectWriteTraceId: String?

    public init(id: String, properties: [String: String?], idProperty: String? = nil, objectWriteTraceId: String? = nil)
    {
        self.id = id
        self.idProperty = idProperty
        self.properties = properties
        self.objectWriteTraceId = objectWriteTraceId
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encodeIfPresent(idProperty, forKey: .idProperty)
        try container.encode(properties.mapValues { $0 ?? "" }, forKey: .properties)
        try container.encodeIfPresent(objectWriteTraceId, forKey: .objectWriteTraceId)
    }

    private enum CodingKeys: String, CodingKey { case id, idProperty, properties, objectWriteTraceId }
}

/// An association to create together with a record.
public struct AssociationInput: Encodable, Sendable {
    public struct Target: Encodable, Sendable { public var id: String }

    public var to: Target
    public var types: [AssociationSpec]

    public init(toId: String, types: [AssociationSpec]) {
        to = Target(id: toId)
        self.types = types
    }
}

/// A property of an object type (`GET /crm/v3/properties/{type}`).
public struct PropertyDefinition: Codable, Sendable, Equatable {
    public struct Option: Codable, Sendable, Equatable {
        public var label: String
        public var value: String
        public var hidden: Bool?
        public var displayOrder: Int?
    }

    public var name: String
    public var label: String?
    public var type: String
    public var fieldType: String?
    public var description: String?
    public var groupName: String?
    public var options: [Option]?
    public var hasUniqueValue: Bool?
    public var calculated: Bool?
    public var hidden: Bool?
    public var modificationMetadata: ModificationMetadata?

    public struct ModificationMetadata: Codable, Sendable, Equatable {
        /// Values are set by HubSpot only (e.g. `createdate`).
        public var readOnlyValue: Bool?
        public var readOnlyDefinition: Bool?
        public var archivable: Bool?
    }
}
