import Foundation

/// A pipeline of deals or tickets and its stages (`/crm/v3/pipelines/{type}`).
public struct Pipeline: Codable, Sendable, Equatable {
    public struct Stage: Codable, Sendable, Equatable {
        public var id: String
        public var label: String
        public var displayOrder: Int?
        public var archived: Bool?
        /// Deals: `probability` ("0.2") and `isClosed` ("true"); tickets: `ticketState`.
        public var metadata: [String: String]?
    }

    public var id: String
    public var label: String
    public var displayOrder: Int?
    public var archived: Bool?
    public var stages: [Stage]
}

/// A HubSpot user who can own records (`/crm/v3/owners`).
public struct Owner: Codable, Sendable, Equatable {
    public var id: String
    public var email: String?
    public var firstName: String?
    public var lastName: String?
    public var userId: Int?
    public var archived: Bool?
}

/// A page of owners.
public struct OwnerPage: Codable, Sendable {
    public var results: [Owner]
    public var paging: Paging?

    public var nextAfter: String? { paging?.next?.after }
}

/// One association type from a type to another (`/crm/v4/associations/{from}/{to}/labels`).
public struct AssociationLabel: Codable, Sendable, Equatable {
    public var category: AssociationCategory
    public var typeId: Int
    /// nil for an unlabelled type (HubSpot's default between two types).
    public var label: String?
}
