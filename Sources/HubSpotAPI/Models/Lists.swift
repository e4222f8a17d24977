import Foundation

/// A list of records (HubSpot's Lists v3).
public struct HubSpotList: Codable, Sendable, Equatable {
    public var listId: String
    public var name: String
    public var objectTypeId: String
    /// MANUAL (static), DYNAMIC (by filters) or SNAPSHOT.
    public var processingType: String
    public var size: Int?
    public var createdAt: Date?
    public var updatedAt: Date?
}

/// A page of `POST /crm/v3/lists/search`.
public struct ListSearchPage: Codable, Sendable {
    public var lists: [HubSpotList]
    public var offset: Int
    public var hasMore: Bool
    public var total: Int?
}

/// A page of a list's members.
public struct ListMembershipPage: Codable, Sendable {
    public struct Member: Codable, Sendable, Equatable {
        public var recordId: String
        public var membershipTimestamp: Date?
    }

    public var results: [Member]
    public var paging: Paging?

    public var nextAfter: String? { paging?.next?.after }
}

/// What a membership change did.
public struct ListMembershipChange: Codable, Sendable, Equatable {
    public var recordIdsAdded: [String]?
    public var recordIdsRemoved: [String]?
    public var recordIdsMissing: [String]?
}

/// A list's filters as HubSpot's Lists v3 writes them (`filterBranch`): an OR branch of AND
/// branches, each with property filters.
public struct ListFilterBranch: Codable, Sendable, Equatable {
    public var filterBranchType: String
    public var filterBranches: [ListFilterBranch]
    public var filters: [ListPropertyFilter]

    public init(filterBranchType: String, filterBranches: [ListFilterBranch] = [], filters: [ListPropertyFilter] = []) {
        self.filterBranchType = filterBranchType
        self.filterBranches = filterBranches
        self.filters = filters
    }
}

/// One property filter of a list (`filterType: PROPERTY`).
public struct ListPropertyFilter: Codable, Sendable, Equatable {
    public struct Operation: Codable, Sendable, Equatable {
        /// `MULTISTRING` (compares values), `ALL_PROPERTY` (known / unknown).
        public var operationType: String
        /// `IS_EQUAL_TO`, `IS_NOT_EQUAL_TO`, `CONTAINS`, `IS_KNOWN`, `IS_UNKNOWN`.
        public var `operator`: String
        public var values: [String]?

        public init(operationType: String, operator: String, values: [String]? = nil) {
            self.operationType = operationType
            self.operator = `operator`
            self.values = values
        }
    }

    public var filterType = "PROPERTY"
    public var property: String
    public var operation: Operation

    public init(property: String, operation: Operation) {
        self.property = property
        self.operation = operation
    }
}
