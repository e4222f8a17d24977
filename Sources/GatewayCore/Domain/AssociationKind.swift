/// One kind of association between two records: who defined it, its numeric id, and its label
/// (nil for HubSpot's unlabelled default).
public struct AssociationKind: Sendable, Hashable {
    public enum Category: Sendable, Hashable {
        case hubspotDefined, userDefined, integratorDefined
    }

    public var category: Category
    public var typeId: Int
    public var label: String?

    public init(_ category: Category, _ typeId: Int, label: String? = nil) {
        self.category = category
        self.typeId = typeId
        self.label = label
    }

    /// A kind named by its label only (type id 0), found among the pair's kinds by the domain
    /// (`Associations.resolve`).
    public static func labelled(_ label: String) -> AssociationKind {
        AssociationKind(.userDefined, 0, label: label)
    }

    /// HubSpot's default (unlabelled) association from `fromType` to `toType` between standard
    /// objects; nil where HubSpot has none (custom objects name their kinds).
    public static func `default`(from fromType: String, to toType: String) -> AssociationKind? {
        defaultTypeIds[fromType]?[toType].map { AssociationKind(.hubspotDefined, $0) }
    }

    static let defaultTypeIds: [String: [String: Int]] = {
        var ids: [String: [String: Int]] = [
            "contacts": ["companies": 279, "deals": 4, "tickets": 15],
            "companies": ["contacts": 280, "deals": 342, "tickets": 340],
            "deals": ["contacts": 3, "companies": 341, "tickets": 27, "line_items": 19],
            "line_items": ["deals": 20],
            "tickets": ["contacts": 16, "companies": 339, "deals": 28],
        ]
        for (engagement, record, forward, backward) in engagementTypeIds {
            ids[engagement, default: [:]][record] = forward
            ids[record, default: [:]][engagement] = backward
        }
        return ids
    }()

    /// HubSpot's defaults between each engagement type and the records it is logged on:
    /// (engagement, record, engagement → record, record → engagement).
    static let engagementTypeIds: [(String, String, Int, Int)] = [
        ("notes", "contacts", 202, 201), ("notes", "companies", 190, 189), ("notes", "deals", 214, 213),
        ("notes", "tickets", 228, 227), ("calls", "contacts", 194, 193), ("calls", "companies", 182, 181),
        ("calls", "deals", 206, 205), ("calls", "tickets", 220, 219), ("emails", "contacts", 198, 197),
        ("emails", "companies", 186, 185), ("emails", "deals", 210, 209), ("emails", "tickets", 224, 223),
        ("meetings", "contacts", 200, 199), ("meetings", "companies", 188, 187), ("meetings", "deals", 212, 211),
        ("meetings", "tickets", 226, 225), ("tasks", "contacts", 204, 203), ("tasks", "companies", 192, 191),
        ("tasks", "deals", 216, 215), ("tasks", "tickets", 230, 229),
    ]
}

/// An association made together with a new record.
public struct NewAssociation: Sendable, Equatable {
    public var to: RecordRef
    /// Never empty: the API layer resolves HubSpot's default (`AssociationKind.default`).
    public var kinds: [AssociationKind]

    public init(to: RecordRef, kinds: [AssociationKind]) {
        self.to = to
        self.kinds = kinds
    }
}

/// A record associated with another, and the kinds that link them.
public struct Association: Sendable, Equatable {
    public var toId: String
    public var kinds: [AssociationKind]
}

/// A page of one record's associations to one type.
public struct AssociationPage: Sendable {
    public var associations: [Association]
    /// Where the next page starts; nil on the last.
    public var next: String?
}
