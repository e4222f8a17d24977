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
