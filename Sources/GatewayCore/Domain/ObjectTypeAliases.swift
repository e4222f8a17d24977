/// The names HubSpot accepts for one object type, reduced to the one the gateway keys its
/// cache, feed and budget bookkeeping by (the path name: `contacts`). HubSpot answers
/// `/crm/v3/objects/0-1/…` and `/crm/v3/objects/contacts/…` alike; if the gateway kept both,
/// a record read as `0-1` would be cached apart from `contacts` and a webhook about it
/// (generic `object.*` events name `objectTypeId`) would never invalidate it.
public enum ObjectTypeAliases {
    /// HubSpot's object type ids of standard objects → their path names
    /// (HubSpot's "Using the object APIs" table).
    public static let standardTypeIds: [String: String] = [
        "0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-5": "tickets", "0-7": "products",
        "0-8": "line_items", "0-14": "quotes", "0-18": "communications", "0-19": "feedback_submissions",
        "0-27": "tasks", "0-46": "notes", "0-47": "meetings", "0-48": "calls", "0-49": "emails",
        "0-53": "invoices", "0-54": "marketing_events", "0-69": "subscriptions", "0-101": "payments",
        "0-115": "users", "0-116": "postal_mail", "0-123": "orders", "0-136": "leads", "0-142": "carts",
    ]

    /// Singular names (webhook subscription prefixes, HubSpot's v1-era names) → path names.
    public static let singularNames: [String: String] = [
        "contact": "contacts", "company": "companies", "deal": "deals", "ticket": "tickets",
        "product": "products", "line_item": "line_items", "quote": "quotes", "call": "calls",
        "email": "emails", "meeting": "meetings", "note": "notes", "task": "tasks",
        "communication": "communications", "conversation": "conversations", "invoice": "invoices",
        "order": "orders", "lead": "leads", "cart": "carts", "payment": "payments",
    ]

    /// The gateway's name of `type`: standard ids and singular names become path names;
    /// custom types (`2-…`, `p_…`) and names already canonical come back unchanged.
    public static func canonical(_ type: String) -> String {
        standardTypeIds[type] ?? singularNames[type] ?? type
    }

    /// HubSpot's object type id of `type` (`contacts` → `0-1`; a custom type's `2-…` id as
    /// is); nil for a name HubSpot's table does not have.
    public static func objectTypeId(of type: String) -> String? {
        if type.hasPrefix("0-") || type.hasPrefix("2-") { return type }
        let name = canonical(type)
        return typeIdsByName[name]
    }

    /// HubSpot's singular name of a standard type (`companies` → `company`, as association
    /// types name them); any other type as it is.
    public static func singular(of type: String) -> String { singularByName[canonical(type)] ?? type }

    private static let singularByName = Dictionary(uniqueKeysWithValues: singularNames.map { ($1, $0) })

    private static let typeIdsByName = Dictionary(uniqueKeysWithValues: standardTypeIds.map { ($1, $0) })
}
