/// A search request (`POST /crm/v3/objects/{type}/search`): groups are ORed, the filters of a
/// group ANDed, at most one sort.
public struct SearchRequest: Encodable, Sendable, Equatable {
    public var filterGroups: [FilterGroup]
    public var sorts: [Sort]
    public var query: String?
    public var properties: [String]
    public var limit: Int
    public var after: String?

    public init(
        filterGroups: [FilterGroup] = [], sorts: [Sort] = [], query: String? = nil, properties: [String] = [],
        limit: Int = 10, after: String? = nil
    ) {
        self.filterGroups = filterGroups
        self.sorts = sorts
        self.query = query
        self.properties = properties
        self.limit = limit
        self.after = after
    }
}

public struct FilterGroup: Encodable, Sendable, Equatable {
    public var filters: [Filter]
    public init(_ filters: [Filter]) { self.filters = filters }
}

public struct Filter: Encodable, Sendable, Equatable {
    public enum Operator: String, Encodable, Sendable, CaseIterable {
        case eq = "EQ", neq = "NEQ", lt = "LT", lte = "LTE", gt = "GT", gte = "GTE", between = "BETWEEN"
        case `in` = "IN", notIn = "NOT_IN", hasProperty = "HAS_PROPERTY", notHasProperty = "NOT_HAS_PROPERTY"
        case containsToken = "CONTAINS_TOKEN", notContainsToken = "NOT_CONTAINS_TOKEN"
    }

    public var propertyName: String
    public var `operator`: Operator
    public var value: String?
    public var highValue: String?
    public var values: [String]?

    public init(
        _ propertyName: String, _ op: Operator, value: String? = nil, highValue: String? = nil, values: [String]? = nil
    ) {
        self.propertyName = propertyName
        self.operator = op
        self.value = value
        self.highValue = highValue
        self.values = values
    }
}

public struct Sort: Encodable, Sendable, Equatable {
    public enum Direction: String, Encodable, Sendable { case ascending = "ASCENDING", descending = "DESCENDING" }

    public var propertyName: String
    public var direction: Direction

    public init(_ propertyName: String, _ direction: Direction = .ascending) {
        self.propertyName = propertyName
        self.direction = direction
    }
}

// MARK: Associations v4

/// Who defined an association type.
public enum AssociationCategory: String, Codable, Sendable {
    case hubspotDefined = "HUBSPOT_DEFINED", userDefined = "USER_DEFINED", integratorDefined = "INTEGRATOR_DEFINED"
}

/// An association type to create (`{associationCategory, associationTypeId}`).
public struct AssociationSpec: Codable, Sendable, Equatable {
    public var associationCategory: AssociationCategory
    public var associationTypeId: Int

    public init(_ category: AssociationCategory, _ typeId: Int) {
        associationCategory = category
        associationTypeId = typeId
    }
}

/// An association type as v4 lists it.
public struct AssociationType: Codable, Sendable, Equatable {
    public var category: AssociationCategory
    public var typeId: Int
    public var label: String?
}

/// One associated record and the types that link it.
public struct AssociatedObject: Codable, Sendable, Equatable {
    /// HubSpot sends a JSON number here; kept as text like every other id.
    public var toObjectId: String
    public var associationTypes: [AssociationType]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let number = try? container.decode(Int64.self, forKey: .toObjectId) {
            toObjectId = String(number)
        } else {
            toObjectId = try container.decode(String.self, forKey: .toObjectId)
        }
        associationTypes = try container.decode([AssociationType].self, forKey: .associationTypes)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(toObjectId, forKey: .toObjectId)
        try container.encode(associationTypes, forKey: .associationTypes)
    }

    private enum CodingKeys: String, CodingKey { case toObjectId, associationTypes }
}

/// One page of a record's associations to one type.
public struct AssociationPage: Codable, Sendable {
    public var results: [AssociatedObject]
    public var paging: Paging?

    public var nextAfter: String? { paging?.next?.after }
}

/// The answer of a batch association read: per source id, its associated records.
public struct AssociationBatchResult: Sendable {
    public struct Item: Codable, Sendable {
        public struct Source: Codable, Sendable { public var id: String }
        public var from: Source
        public var to: [AssociatedObject]
        public var paging: Paging?
    }

    public var results: [Item]
    public var errors: [BatchItemError]
    public var httpStatus: Int
}

/// The labels between two records after a labelled association.
public struct AssociationLabels: Codable, Sendable, Equatable {
    public var labels: [String]
}
