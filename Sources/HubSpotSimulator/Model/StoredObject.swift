/// One version of a property value, as `propertiesWithHistory` shows it.
struct PropertyVersion: Sendable {
    var value: String
    var timestamp: EpochMilliseconds
    var sourceType: String
}

/// A CRM record as the simulator keeps it. Values are HubSpot's strings; an unset property is absent.
struct StoredObject: Sendable {
    var id: Int64
    var properties: [String: String]
    var history: [String: [PropertyVersion]]
    var createdAt: EpochMilliseconds
    var updatedAt: EpochMilliseconds
    var archived: Bool = false
    var archivedAt: EpochMilliseconds?
}

/// An association between two records with its types, as v4 lists it.
struct AssociationType: Sendable, Hashable {
    var category: String
    var typeId: Int
    var label: String?
}

/// A record plus what a renderer needs besides it.
struct ObjectSnapshot: Sendable {
    var object: StoredObject
    var type: ObjectTypeDefinition
    /// v3 `associations` of a single read, by target type name.
    var associations: [(name: String, items: [(id: Int64, typeName: String)])] = []
    /// `new` of an upsert result.
    var isNew: Bool? = nil
}
