/// The type of a CRM property, which decides how values are validated, compared and searched.
public enum PropertyType: String, Sendable {
    case string
    case number
    case datetime
    case date
    case enumeration
    case bool

    var fieldType: String {
        switch self {
        case .string: "text"
        case .number: "number"
        case .datetime, .date: "date"
        case .enumeration: "select"
        case .bool: "booleancheckbox"
        }
    }
}

/// One property of an object type.
public struct PropertyDefinition: Sendable {
    public var name: String
    public var type: PropertyType
    /// Allowed values of an enumeration; empty means any.
    public var options: [String]
    /// Values must be unique across records of the type (usable as `idProperty`).
    public var hasUniqueValue: Bool
    /// Maintained by the simulator; writes are refused.
    public var readOnly: Bool

    public init(
        _ name: String, _ type: PropertyType = .string, options: [String] = [], unique: Bool = false,
        readOnly: Bool = false
    ) {
        self.name = name
        self.type = type
        self.options = options
        self.hasUniqueValue = unique
        self.readOnly = readOnly
    }
}

/// A CRM object type: its names, properties and the defaults HubSpot returns.
public struct ObjectTypeDefinition: Sendable {
    /// Plural path name, e.g. `contacts`.
    public var name: String
    /// HubSpot's object type id, e.g. `0-1`.
    public var objectTypeId: String
    /// Singular name used in association type names and messages (`contact`).
    public var singular: String
    public var properties: [String: PropertyDefinition]
    /// Returned when a read names no properties.
    public var defaultProperties: [String]
    /// Searched by the free-text `query` of the search endpoint.
    public var queryProperties: [String]
    /// Name of the "last modified" property the simulator maintains.
    public var lastModifiedProperty: String
    /// At least one of these must be set on create (empty: no rule).
    public var requiredOneOf: [String]

    public init(
        name: String,
        objectTypeId: String,
        singular: String,
        properties: [PropertyDefinition],
        defaultProperties: [String],
        queryProperties: [String],
        lastModifiedProperty: String = "hs_lastmodifieddate",
        requiredOneOf: [String] = []
    ) {
        self.name = name
        self.objectTypeId = objectTypeId
        self.singular = singular
        var all: [String: PropertyDefinition] = [:]
        let system = [
            PropertyDefinition("hs_object_id", .number, readOnly: true),
            PropertyDefinition("createdate", .datetime),
            PropertyDefinition(lastModifiedProperty, .datetime, readOnly: true),
            PropertyDefinition("hs_lastmodifieddate", .datetime, readOnly: true),
            PropertyDefinition("hs_merged_object_ids", .string, readOnly: true),
        ]
        for property in system + properties { all[property.name] = property }
        self.properties = all
        self.defaultProperties = defaultProperties
        self.queryProperties = queryProperties
        self.lastModifiedProperty = lastModifiedProperty
        self.requiredOneOf = requiredOneOf
    }

    /// HubSpot's name for the type in error messages (`CONTACT`).
    var upperName: String { singular.uppercased() }
}

extension ObjectTypeDefinition {
    static let lifecycleStages = [
        "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist",
        "other",
    ]
    static let dealStages = [
        "appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent",
        "closedwon", "closedlost",
    ]

    /// HubSpot's standard contacts.
    public static let contacts = ObjectTypeDefinition(
        name: "contacts", objectTypeId: "0-1", singular: "contact",
        properties: [
            PropertyDefinition("email", unique: true),
            PropertyDefinition("hs_additional_emails"),
            PropertyDefinition("firstname"), PropertyDefinition("lastname"),
            PropertyDefinition("phone"), PropertyDefinition("mobilephone"), PropertyDefinition("fax"),
            PropertyDefinition("company"), PropertyDefinition("jobtitle"), PropertyDefinition("website"),
            PropertyDefinition("address"), PropertyDefinition("city"), PropertyDefinition("state"),
            PropertyDefinition("zip"), PropertyDefinition("country"),
            PropertyDefinition("lifecyclestage", .enumeration, options: lifecycleStages),
            PropertyDefinition(
                "hs_lead_status", .enumeration,
                options: [
                    "NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED",
                    "BAD_TIMING",
                ]),
            PropertyDefinition("hubspot_owner_id", .enumeration),
            PropertyDefinition("annualrevenue", .number),
            PropertyDefinition("num_employees", .number),
            PropertyDefinition("hs_marketable_until_renewal", .enumeration, options: ["true", "false"]),
            PropertyDefinition("date_of_birth", .date),
        ],
        defaultProperties: ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
        queryProperties: [
            "firstname", "lastname", "email", "phone", "hs_additional_emails", "fax", "mobilephone", "company",
            "hs_marketable_until_renewal",
        ],
        lastModifiedProperty: "lastmodifieddate",
        requiredOneOf: ["email", "firstname", "lastname"]
    )

    /// HubSpot's standard companies.
    public static let companies = ObjectTypeDefinition(
        name: "companies", objectTypeId: "0-2", singular: "company",
        properties: [
            PropertyDefinition("name"), PropertyDefinition("domain"), PropertyDefinition("website"),
            PropertyDefinition("phone"), PropertyDefinition("city"), PropertyDefinition("state"),
            PropertyDefinition("country"), PropertyDefinition("industry"), PropertyDefinition("description"),
            PropertyDefinition("numberofemployees", .number), PropertyDefinition("annualrevenue", .number),
            PropertyDefinition("lifecyclestage", .enumeration, options: lifecycleStages),
            PropertyDefinition("hubspot_owner_id", .enumeration),
        ],
        defaultProperties: ["name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"],
        queryProperties: ["website", "phone", "name", "domain"]
    )

    /// HubSpot's standard deals.
    public static let deals = ObjectTypeDefinition(
        name: "deals", objectTypeId: "0-3", singular: "deal",
        properties: [
            PropertyDefinition("dealname"), PropertyDefinition("amount", .number),
            PropertyDefinition("closedate", .datetime), PropertyDefinition("pipeline", .enumeration),
            PropertyDefinition("dealstage", .enumeration),
            PropertyDefinition("dealtype", .enumeration, options: ["newbusiness", "existingbusiness"]),
            PropertyDefinition("description"), PropertyDefinition("hubspot_owner_id", .enumeration),
            PropertyDefinition("hs_priority", .enumeration, options: ["low", "medium", "high"]),
        ],
        defaultProperties: [
            "dealname", "amount", "closedate", "pipeline", "dealstage", "createdate", "hs_lastmodifieddate",
            "hs_object_id",
        ],
        queryProperties: ["dealname", "pipeline", "dealstage", "description", "dealtype"]
    )

    /// HubSpot's standard tickets.
    public static let tickets = ObjectTypeDefinition(
        name: "tickets", objectTypeId: "0-5", singular: "ticket",
        properties: [
            PropertyDefinition("subject"), PropertyDefinition("content"),
            PropertyDefinition("hs_pipeline", .enumeration), PropertyDefinition("hs_pipeline_stage", .enumeration),
            PropertyDefinition("hs_ticket_category", .enumeration),
            PropertyDefinition("hs_ticket_priority", .enumeration, options: ["LOW", "MEDIUM", "HIGH", "URGENT"]),
            PropertyDefinition("hs_ticket_id", .number, readOnly: true),
            PropertyDefinition("hubspot_owner_id", .enumeration),
        ],
        defaultProperties: [
            "content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_category", "hs_ticket_priority", "subject",
            "createdate", "hs_lastmodifieddate", "hs_object_id",
        ],
        queryProperties: ["subject", "content", "hs_pipeline_stage", "hs_ticket_category", "hs_ticket_id"]
    )

    /// HubSpot's standard products (the catalogue line items can point at).
    public static let products = ObjectTypeDefinition(
        name: "products", objectTypeId: "0-7", singular: "product",
        properties: [
            PropertyDefinition("name"), PropertyDefinition("price", .number), PropertyDefinition("hs_sku"),
            PropertyDefinition("description"),
        ],
        defaultProperties: ["name", "price", "hs_sku", "createdate", "hs_lastmodifieddate", "hs_object_id"],
        queryProperties: ["name", "hs_sku", "description"]
    )

    /// HubSpot's standard line items (an order's lines, associated with its deal).
    public static let lineItems = ObjectTypeDefinition(
        name: "line_items", objectTypeId: "0-8", singular: "line_item",
        properties: [
            PropertyDefinition("name"), PropertyDefinition("price", .number), PropertyDefinition("quantity", .number),
            PropertyDefinition("hs_product_id", .number), PropertyDefinition("amount", .number),
            PropertyDefinition("hs_sku"), PropertyDefinition("hs_position_on_quote", .number),
        ],
        defaultProperties: [
            "name", "price", "quantity", "hs_product_id", "amount", "createdate", "hs_lastmodifieddate",
            "hs_object_id",
        ],
        queryProperties: ["name", "hs_sku"]
    )

    /// A custom object type as declared at start-up (`NAME:PROP[:TYPE][!],…`).
    ///
    /// The first property is the primary display property and the default read set.
    public static func custom(name: String, index: Int, properties: [PropertyDefinition]) -> ObjectTypeDefinition {
        ObjectTypeDefinition(
            name: name, objectTypeId: "2-\(index)", singular: name,
            properties: properties,
            defaultProperties: (properties.first.map { [$0.name] } ?? []) + [
                "createdate", "hs_lastmodifieddate", "hs_object_id",
            ],
            queryProperties: properties.filter { $0.type == .string }.map(\.name)
        )
    }

    /// Parses a custom type declaration such as `cars:vin!,make,model,year:number`.
    public static func parseCustom(_ declaration: String, index: Int) throws(SimulatorConfigurationError)
        -> ObjectTypeDefinition
    {
        let parts = declaration.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, isValidName(parts[0]) else {
            throw SimulatorConfigurationError(
                "custom object type '\(declaration)' must look like NAME:PROP[:TYPE][!],… e.g. cars:vin!,make,year:number"
            )
        }
        var properties: [PropertyDefinition] = []
        for spec in parts[1].split(separator: ",") {
            var text = String(spec)
            let unique = text.hasSuffix("!")
            if unique { text.removeLast() }
            let nameAndType = text.split(separator: ":").map(String.init)
            guard let propertyName = nameAndType.first, isValidName(propertyName), nameAndType.count <= 2 else {
                throw SimulatorConfigurationError(
                    "property '\(spec)' of custom object type '\(parts[0])' must look like NAME[:TYPE][!]")
            }
            var type = PropertyType.string
            if nameAndType.count == 2 {
                guard let parsed = PropertyType(rawValue: nameAndType[1]) else {
                    throw SimulatorConfigurationError(
                        "property type '\(nameAndType[1])' is not one of string, number, datetime, date, enumeration, bool"
                    )
                }
                type = parsed
            }
            properties.append(PropertyDefinition(propertyName, type, unique: unique))
        }
        guard !properties.isEmpty else {
            throw SimulatorConfigurationError("custom object type '\(parts[0])' needs at least one property")
        }
        return custom(name: parts[0], index: index, properties: properties)
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }
}

/// A configuration value that cannot be used, with a message saying how to fix it.
public struct SimulatorConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// All object types of one simulated portal, resolved by name, singular or type id.
struct ObjectSchema: Sendable {
    private(set) var types: [ObjectTypeDefinition]
    private var byAlias: [String: Int] = [:]

    init(customTypes: [ObjectTypeDefinition]) {
        types =
            [
                .contacts, .companies, .deals, .tickets, .products, .lineItems, .notes, .calls, .emails, .meetings,
                .tasks,
            ]
            + customTypes
        for (index, type) in types.enumerated() {
            for alias in [type.name, type.singular, type.objectTypeId, "p_\(type.name)"] {
                byAlias[alias.lowercased()] = index
            }
        }
    }

    func resolve(_ name: String) -> ObjectTypeDefinition? {
        byAlias[name.lowercased()].map { types[$0] }
    }
}

/// HubSpot-defined association type ids between the standard types, with their inverses.
enum AssociationCatalog {
    struct Entry {
        var from: String
        var to: String
        var typeId: Int
        var inverse: Int
        var label: String?
        /// v3 name, e.g. `contact_to_company`.
        var name: String
        var isDefault: Bool
    }

    static let entries = standardEntries + engagementEntries

    private static let standardEntries: [Entry] = [
        Entry(
            from: "contacts", to: "companies", typeId: 279, inverse: 280, label: nil,
            name: "contact_to_company_unlabeled", isDefault: true),
        Entry(
            from: "companies", to: "contacts", typeId: 280, inverse: 279, label: nil,
            name: "company_to_contact_unlabeled", isDefault: true),
        Entry(
            from: "contacts", to: "companies", typeId: 1, inverse: 2, label: "Primary", name: "contact_to_company",
            isDefault: false),
        Entry(
            from: "companies", to: "contacts", typeId: 2, inverse: 1, label: "Primary", name: "company_to_contact",
            isDefault: false),
        Entry(
            from: "deals", to: "contacts", typeId: 3, inverse: 4, label: nil, name: "deal_to_contact", isDefault: true),
        Entry(
            from: "contacts", to: "deals", typeId: 4, inverse: 3, label: nil, name: "contact_to_deal", isDefault: true),
        Entry(
            from: "deals", to: "companies", typeId: 341, inverse: 342, label: nil, name: "deal_to_company_unlabeled",
            isDefault: true),
        Entry(
            from: "companies", to: "deals", typeId: 342, inverse: 341, label: nil, name: "company_to_deal_unlabeled",
            isDefault: true),
        Entry(
            from: "deals", to: "companies", typeId: 5, inverse: 6, label: "Primary", name: "deal_to_company",
            isDefault: false),
        Entry(
            from: "companies", to: "deals", typeId: 6, inverse: 5, label: "Primary", name: "company_to_deal",
            isDefault: false),
        Entry(
            from: "contacts", to: "tickets", typeId: 15, inverse: 16, label: nil, name: "contact_to_ticket",
            isDefault: true),
        Entry(
            from: "tickets", to: "contacts", typeId: 16, inverse: 15, label: nil, name: "ticket_to_contact",
            isDefault: true),
        Entry(
            from: "tickets", to: "companies", typeId: 339, inverse: 340, label: nil,
            name: "ticket_to_company_unlabeled", isDefault: true),
        Entry(
            from: "companies", to: "tickets", typeId: 340, inverse: 339, label: nil,
            name: "company_to_ticket_unlabeled", isDefault: true),
        Entry(
            from: "tickets", to: "companies", typeId: 26, inverse: 25, label: "Primary", name: "ticket_to_company",
            isDefault: false),
        Entry(
            from: "companies", to: "tickets", typeId: 25, inverse: 26, label: "Primary", name: "company_to_ticket",
            isDefault: false),
        Entry(
            from: "deals", to: "tickets", typeId: 27, inverse: 28, label: nil, name: "deal_to_ticket", isDefault: true),
        Entry(
            from: "tickets", to: "deals", typeId: 28, inverse: 27, label: nil, name: "ticket_to_deal", isDefault: true),
        Entry(
            from: "deals", to: "line_items", typeId: 19, inverse: 20, label: nil, name: "deal_to_line_item",
            isDefault: true),
        Entry(
            from: "line_items", to: "deals", typeId: 20, inverse: 19, label: nil, name: "line_item_to_deal",
            isDefault: true),
    ]

    static func entry(from: String, to: String, typeId: Int) -> Entry? {
        entries.first { $0.from == from && $0.to == to && $0.typeId == typeId }
    }

    /// The default (unlabelled) HubSpot-defined type between two types. Pairs without a
    /// catalogued type (e.g. custom objects) get a synthetic one so default associations work.
    static func defaultEntry(from: String, to: String, fromSingular: String, toSingular: String) -> Entry {
        if let entry = entries.first(where: { $0.from == from && $0.to == to && $0.isDefault }) { return entry }
        let forward = syntheticTypeId(from: from, to: to)
        let backward = syntheticTypeId(from: to, to: from)
        return Entry(
            from: from, to: to, typeId: forward, inverse: backward, label: nil,
            name: "\(fromSingular)_to_\(toSingular)", isDefault: true)
    }

    /// A stable id above HubSpot's defined range for a pair the catalogue does not know.
    static func syntheticTypeId(from: String, to: String) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in "\(from)>\(to)".utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return 100_000 + Int(hash % 800_000)
    }
}
