/// A pipeline of deals or tickets, with its stages in display order.
public struct CRMPipeline: Sendable, Equatable {
    public struct Stage: Sendable, Equatable {
        public var id: String
        public var label: String
        public var displayOrder: Int
        /// Deals: the chance of winning at this stage (0–1).
        public var probability: Double?
        /// Deals: whether the stage ends the deal (won or lost).
        public var isClosed: Bool?
    }

    public var id: String
    public var label: String
    public var displayOrder: Int
    public var stages: [Stage]
}

/// A HubSpot user who can own records.
public struct CRMOwner: Sendable, Equatable {
    public var id: String
    public var email: String
    public var firstName: String
    public var lastName: String
    public var userId: Int?
    public var archived: Bool
}

/// A page of owners.
public struct CRMOwnerPage: Sendable {
    public var owners: [CRMOwner]
    public var next: String?
}

/// A property of an object type.
public struct CRMProperty: Sendable, Equatable {
    public struct Option: Sendable, Equatable {
        public var label: String
        public var value: String
    }

    public var name: String
    public var label: String
    /// string, number, date, datetime, enumeration, bool.
    public var type: String
    /// text, textarea, select, checkbox, …
    public var fieldType: String
    public var groupName: String
    public var options: [Option]
    public var hasUniqueValue: Bool
    public var calculated: Bool
    /// Set by HubSpot only.
    public var readOnly: Bool
}
