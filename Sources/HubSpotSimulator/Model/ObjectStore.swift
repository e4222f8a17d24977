import JSONCore
import Foundation
import Synchronization

/// A write to the store that a webhook subscriber hears about.
struct ChangeEvent: Sendable {
    var subscriptionType: String
    var objectTypeId: String
    var objectId: Int64
    var propertyName: String? = nil
    var propertyValue: String? = nil
    var changeFlag: String? = nil
    var mergedObjectIds: [Int64]? = nil
    var primaryObjectId: Int64? = nil
    var association: (type: String, from: Int64, to: Int64, removed: Bool)? = nil
    var occurredAt: EpochMilliseconds
    /// Who made the change, as HubSpot's `changeSource` says (API, CRM_UI, …).
    var changeSource = "API"
}

/// The state of one simulated HubSpot portal: records, unique-value indexes and associations.
///
/// Every operation takes the lock once and does its whole work inside it, so a batch is
/// applied atomically and concurrent requests see each other's writes in a total order.
final class ObjectStore: Sendable {
    struct TypeState: Sendable {
        var records: [Int64: StoredObject] = [:]
        /// Ids in creation order (ascending), for list paging.
        var ids: [Int64] = []
        /// Unique property → normalized value → owning id.
        var unique: [String: [String: Int64]] = [:]
    }

    struct AssociationKey: Hashable, Sendable {
        var fromType: String
        var fromId: Int64
        var toType: String
    }

    struct State: Sendable {
        var nextId: Int64 = 1001
        var types: [String: TypeState] = [:]
        var associations: [AssociationKey: [Int64: [AssociationType]]] = [:]
        /// Records merged away, by type: merged id → surviving id.
        var mergedInto: [String: [Int64: Int64]] = [:]
        /// The portal's own association labels (USER_DEFINED), by "from>to".
        var userLabels: [String: [UserLabel]] = [:]
        var nextLabelTypeId = 100
    }

    /// An association label the portal made: its type id one way, its inverse's the other.
    struct UserLabel: Sendable, Equatable {
        var typeId: Int
        var inverse: Int
        var label: String
        var name: String
    }

    let schema: ObjectSchema
    let portalId: Int
    private let state = Mutex(State())

    init(schema: ObjectSchema, portalId: Int) {
        self.schema = schema
        self.portalId = portalId
    }

    // MARK: Reads

    /// Whether a live record of `type` has this id.
    func exists(_ type: ObjectTypeDefinition, id: Int64) -> Bool {
        state.withLock { $0.types[type.name]?.records[id]?.archived == false }
    }

    /// A record by id, or by the value of a unique `idProperty`; follows merges.
    func get(
        _ type: ObjectTypeDefinition, id: String, idProperty: String?, archived: Bool,
        associationTypes: [ObjectTypeDefinition] = []
    ) throws(HubSpotErrorBody) -> ObjectSnapshot {
        try state.withLock { (state: inout State) throws(HubSpotErrorBody) -> ObjectSnapshot in
            guard let objectId = try Self.resolveId(&state, type, id: id, idProperty: idProperty),
                let object = state.types[type.name]?.records[objectId], object.archived == archived
            else { throw .notFound }
            var snapshot = ObjectSnapshot(object: object, type: type)
            snapshot.associations = associationTypes.map { toType in
                (toType.name, Self.v3Associations(state, from: type, id: objectId, to: toType))
            }
            return snapshot
        }
    }

    /// Several records, in input order, skipping ids that do not resolve (reported back).
    func batchRead(_ type: ObjectTypeDefinition, ids: [String], idProperty: String?, archived: Bool)
        throws(HubSpotErrorBody) -> (found: [ObjectSnapshot], missing: [String])
    {
        try state.withLock { (state: inout State) throws(HubSpotErrorBody) in
            var found: [ObjectSnapshot] = []
            var missing: [String] = []
            var seen = Set<Int64>()
            for id in ids {
                if let objectId = try Self.resolveId(&state, type, id: id, idProperty: idProperty),
                    let object = state.types[type.name]?.records[objectId], object.archived == archived
                {
                    if seen.insert(objectId).inserted { found.append(ObjectSnapshot(object: object, type: type)) }
                } else {
                    missing.append(id)
                }
            }
            return (found, missing)
        }
    }

    /// One page of records in id order, starting at the record whose id is `after`.
    func list(
        _ type: ObjectTypeDefinition, limit: Int, after: Int64?, archived: Bool,
        associationTypes: [ObjectTypeDefinition]
    ) -> (page: [ObjectSnapshot], next: Int64?) {
        state.withLock { state in
            guard let typeState = state.types[type.name] else { return ([], nil) }
            var start = 0
            if let after {
                // First index whose id >= after.
                var low = 0
                var high = typeState.ids.count
                while low < high {
                    let mid = (low + high) / 2
                    if typeState.ids[mid] < after { low = mid + 1 } else { high = mid }
                }
                start = low
            }
            var page: [ObjectSnapshot] = []
            var index = start
            while index < typeState.ids.count {
                let id = typeState.ids[index]
                index += 1
                guard let object = typeState.records[id], object.archived == archived else { continue }
                if page.count == limit { return (page, id) }
                var snapshot = ObjectSnapshot(object: object, type: type)
                snapshot.associations = associationTypes.map {
                    ($0.name, Self.v3Associations(state, from: type, id: id, to: $0))
                }
                page.append(snapshot)
            }
            return (page, nil)
        }
    }

    /// Runs `body` over every live record of a type, inside the lock (used by search).
    func withRecords<T>(_ type: ObjectTypeDefinition, _ body: ([Int64], [Int64: StoredObject]) -> T) -> T {
        state.withLock { state in
            let typeState = state.types[type.name] ?? TypeState()
            return body(typeState.ids, typeState.records)
        }
    }

    /// Counts of live records per type, for the admin API.
    func counts() -> [(String, Int)] {
        state.withLock { state in
            schema.types.map { type in
                (type.name, state.types[type.name]?.records.values.lazy.filter { !$0.archived }.count ?? 0)
            }
        }
    }

    /// Drops every record and association.
    func reset() {
        state.withLock { $0 = State() }
    }

    // MARK: Association labels

    func userLabels(from: String, to: String) -> [UserLabel] {
        state.withLock { $0.userLabels["\(from)>\(to)"] ?? [] }
    }

    /// A new label between two types, both ways (HubSpot makes the inverse type too).
    func createLabel(from: String, to: String, label: String, name: String) throws(HubSpotErrorBody) -> UserLabel {
        try state.withLock { (state: inout State) throws(HubSpotErrorBody) -> UserLabel in
            let key = "\(from)>\(to)"
            if state.userLabels[key, default: []].contains(where: { $0.label == label || $0.name == name }) {
                throw .validation("An association label '\(label)' (\(name)) already exists from \(from) to \(to)")
            }
            let forward = UserLabel(
                typeId: state.nextLabelTypeId, inverse: state.nextLabelTypeId + 1, label: label, name: name)
            state.nextLabelTypeId += 2
            state.userLabels[key, default: []].append(forward)
            if from != to {
                state.userLabels["\(to)>\(from)", default: []].append(
                    UserLabel(typeId: forward.inverse, inverse: forward.typeId, label: label, name: name))
            }
            return forward
        }
    }

    /// Renames a label (and its inverse).
    func renameLabel(from: String, to: String, typeId: Int, label: String) throws(HubSpotErrorBody) {
        try state.withLock { (state: inout State) throws(HubSpotErrorBody) in
            let key = "\(from)>\(to)"
            guard let index = state.userLabels[key]?.firstIndex(where: { $0.typeId == typeId }) else {
                throw .notFound
            }
            let inverse = state.userLabels[key]![index].inverse
            state.userLabels[key]![index].label = label
            if let back = state.userLabels["\(to)>\(from)"]?.firstIndex(where: { $0.typeId == inverse }) {
                state.userLabels["\(to)>\(from)"]![back].label = label
            }
        }
    }

    /// Deletes a label and its inverse; associations of that type are removed with it.
    func deleteLabel(from: String, to: String, typeId: Int) throws(HubSpotErrorBody) {
        try state.withLock { (state: inout State) throws(HubSpotErrorBody) in
            let key = "\(from)>\(to)"
            guard let label = state.userLabels[key]?.first(where: { $0.typeId == typeId }) else { throw .notFound }
            state.userLabels[key]?.removeAll { $0.typeId == typeId }
            state.userLabels["\(to)>\(from)"]?.removeAll { $0.typeId == label.inverse }
            for (association, targets) in state.associations
            where (association.fromType == from && association.toType == to)
                || (association.fromType == to && association.toType == from)
            {
                let gone = association.fromType == from ? typeId : label.inverse
                state.associations[association] = targets.compactMapValues { types in
                    let kept = types.filter { !($0.category == "USER_DEFINED" && $0.typeId == gone) }
                    return kept.isEmpty ? nil : kept
                }
            }
        }
    }

    // MARK: Writes

    /// One create input: properties plus v3-style associations to add.
    struct CreateInput: Sendable {
        var properties: [String: String?]
        var associations: [(toId: String, types: [AssociationType])] = []
        var objectWriteTraceId: String? = nil
    }

    /// One update input.
    struct UpdateInput: Sendable {
        var id: String
        var idProperty: String?
        var properties: [String: String?]
        var objectWriteTraceId: String? = nil
    }

    /// The result of one input of a batch write: the record, or HubSpot's error for that input.
    typealias InputResult = Result<ObjectSnapshot, HubSpotErrorBody>

    /// Creates records. With `atomic`, the first failing input fails the whole call and nothing is
    /// written (HubSpot's behaviour for batches without `objectWriteTraceId`).
    func create(_ type: ObjectTypeDefinition, _ inputs: [CreateInput], atomic: Bool, now: EpochMilliseconds)
        throws(HubSpotErrorBody) -> ([InputResult], [ChangeEvent])
    {
        try write(atomic: atomic, count: inputs.count) { (state: inout State, events: inout [ChangeEvent]) in
            inputs.map { input in
                Result { () throws(HubSpotErrorBody) -> ObjectSnapshot in
                    try self.createOne(&state, type, input, now: now, events: &events)
                }
            }
        }
    }

    func update(_ type: ObjectTypeDefinition, _ inputs: [UpdateInput], atomic: Bool, now: EpochMilliseconds)
        throws(HubSpotErrorBody) -> ([InputResult], [ChangeEvent])
    {
        try write(atomic: atomic, count: inputs.count) { (state: inout State, events: inout [ChangeEvent]) in
            inputs.map { input in
                Result { () throws(HubSpotErrorBody) -> ObjectSnapshot in
                    guard let id = try Self.resolveId(&state, type, id: input.id, idProperty: input.idProperty),
                        state.types[type.name]?.records[id]?.archived == false
                    else { throw .notFound }
                    return try self.updateOne(&state, type, id: id, input.properties, now: now, events: &events)
                }
            }
        }
    }

    /// Creates or updates by a unique property; results say `new`.
    func upsert(_ type: ObjectTypeDefinition, _ inputs: [UpdateInput], atomic: Bool, now: EpochMilliseconds)
        throws(HubSpotErrorBody) -> ([InputResult], [ChangeEvent])
    {
        try write(atomic: atomic, count: inputs.count) { (state: inout State, events: inout [ChangeEvent]) in
            inputs.map { input in
                Result { () throws(HubSpotErrorBody) -> ObjectSnapshot in
                    guard let idProperty = input.idProperty else {
                        throw .validation("idProperty is required for upsert")
                    }
                    if let id = try Self.resolveId(&state, type, id: input.id, idProperty: idProperty),
                        state.types[type.name]?.records[id]?.archived == false
                    {
                        var snapshot = try self.updateOne(
                            &state, type, id: id, input.properties, now: now, events: &events)
                        snapshot.isNew = false
                        return snapshot
                    }
                    var properties = input.properties
                    properties[idProperty] = input.id
                    var snapshot = try self.createOne(
                        &state, type, CreateInput(properties: properties), now: now, events: &events)
                    snapshot.isNew = true
                    return snapshot
                }
            }
        }
    }

    /// Archives records; unknown or already archived ids are ignored, as HubSpot does.
    func archive(_ type: ObjectTypeDefinition, ids: [String], now: EpochMilliseconds) -> [ChangeEvent] {
        state.withLock { state in
            var events: [ChangeEvent] = []
            for text in ids {
                guard let id = Int64(text), var object = state.types[type.name]?.records[id], !object.archived else {
                    continue
                }
                object.archived = true
                object.archivedAt = now
                state.types[type.name]!.records[id] = object
                Self.unindex(&state, type, object)
                events.append(
                    ChangeEvent(
                        subscriptionType: "\(type.singular).deletion", objectTypeId: type.objectTypeId, objectId: id,
                        changeFlag: "DELETED", occurredAt: now))
            }
            return events
        }
    }

    /// Merges `mergedId` into `primaryId`: the primary keeps its values and gains the other's
    /// missing ones and associations; the merged record disappears and its id resolves to the primary.
    func merge(_ type: ObjectTypeDefinition, primary: String, merged: String, now: EpochMilliseconds)
        throws(HubSpotErrorBody) -> (ObjectSnapshot, [ChangeEvent])
    {
        try state.withLock { (state: inout State) throws(HubSpotErrorBody) in
            guard let primaryId = Int64(primary), let mergedId = Int64(merged) else {
                throw .validation("primaryObjectId and objectIdToMerge must be object ids")
            }
            guard primaryId != mergedId else { throw .validation("Cannot merge an object with itself") }
            guard var keep = state.types[type.name]?.records[primaryId], !keep.archived,
                let gone = state.types[type.name]?.records[mergedId], !gone.archived
            else { throw .notFound }
            Self.unindex(&state, type, gone)
            for (name, value) in gone.properties
            where keep.properties[name] == nil && !(type.properties[name]?.readOnly ?? false) {
                keep.properties[name] = value
                keep.history[name] = gone.history[name]
            }
            if type.name == "contacts", let email = gone.properties["email"], keep.properties["email"] != email {
                let additional = (keep.properties["hs_additional_emails"].map { $0 + ";" } ?? "") + email
                keep.properties["hs_additional_emails"] = additional
            }
            let previous = keep.properties["hs_merged_object_ids"].map { $0 + ";" } ?? ""
            keep.properties["hs_merged_object_ids"] = previous + String(mergedId)
            Self.touch(&keep, type, now: now)
            state.types[type.name]!.records[mergedId] = nil
            state.types[type.name]!.ids.removeAll { $0 == mergedId }
            state.types[type.name]!.records[primaryId] = keep
            Self.index(&state, type, keep)
            state.mergedInto[type.name, default: [:]][mergedId] = primaryId
            for (key, targets) in state.associations where key.fromType == type.name && key.fromId == mergedId {
                for (toId, types) in targets {
                    Self.associate(
                        &state, from: type, fromId: primaryId, toTypeName: key.toType, toId: toId, types: types)
                    Self.removeAssociation(
                        &state, fromType: type.name, fromId: mergedId, toType: key.toType, toId: toId)
                }
            }
            let event = ChangeEvent(
                subscriptionType: "\(type.singular).merge", objectTypeId: type.objectTypeId, objectId: primaryId,
                mergedObjectIds: [primaryId, mergedId], primaryObjectId: primaryId, occurredAt: now)
            return (ObjectSnapshot(object: keep, type: type), [event])
        }
    }

    // MARK: Associations

    /// Adds association types between two live records (both directions).
    func associate(
        from type: ObjectTypeDefinition, fromId: String, to toType: ObjectTypeDefinition, toId: String,
        types: [AssociationType], now: EpochMilliseconds
    ) throws(HubSpotErrorBody) -> [ChangeEvent] {
        try state.withLock { (state: inout State) throws(HubSpotErrorBody) in
            guard let from = Int64(fromId), state.types[type.name]?.records[from]?.archived == false else {
                throw HubSpotErrorBody(
                    status: 404, message: "\(type.upperName)=\(fromId) is not valid", category: "OBJECT_NOT_FOUND")
            }
            guard let to = Int64(toId), state.types[toType.name]?.records[to]?.archived == false else {
                throw HubSpotErrorBody(
                    status: 404, message: "\(toType.upperName)=\(toId) is not valid", category: "OBJECT_NOT_FOUND")
            }
            for association in types {
                try Self.validateAssociationType(association, from: type, to: toType)
            }
            Self.associate(&state, from: type, fromId: from, toTypeName: toType.name, toId: to, types: types)
            return types.map { association in
                ChangeEvent(
                    subscriptionType: "\(type.singular).associationChange", objectTypeId: type.objectTypeId,
                    objectId: from,
                    association: ("\(type.singular.uppercased())_TO_\(toType.singular.uppercased())", from, to, false),
                    occurredAt: now)
            }
        }
    }

    /// Removes every association between two records (both directions).
    func removeAssociations(
        from type: ObjectTypeDefinition, fromId: String, to toType: ObjectTypeDefinition, toId: String,
        now: EpochMilliseconds
    ) -> [ChangeEvent] {
        state.withLock { state in
            guard let from = Int64(fromId), let to = Int64(toId),
                state.associations[AssociationKey(fromType: type.name, fromId: from, toType: toType.name)]?[to] != nil
            else { return [] }
            Self.removeAssociation(&state, fromType: type.name, fromId: from, toType: toType.name, toId: to)
            Self.removeAssociation(&state, fromType: toType.name, fromId: to, toType: type.name, toId: from)
            return [
                ChangeEvent(
                    subscriptionType: "\(type.singular).associationChange", objectTypeId: type.objectTypeId,
                    objectId: from,
                    association: ("\(type.singular.uppercased())_TO_\(toType.singular.uppercased())", from, to, true),
                    occurredAt: now)
            ]
        }
    }

    /// The live associations of one record to a type, in target id order; nil if the record is not live.
    func associations(from type: ObjectTypeDefinition, id: String, to toType: ObjectTypeDefinition) -> [(
        toId: Int64, types: [AssociationType]
    )]? {
        state.withLock { state in
            guard let from = Int64(id), state.types[type.name]?.records[from]?.archived == false else { return nil }
            return Self.liveAssociations(state, fromType: type.name, fromId: from, toType: toType.name)
        }
    }

    // MARK: Internals (called with the lock held)

    /// Runs a batch write. Each input validates everything before it mutates anything, so a
    /// failed input leaves no trace; an atomic batch of several inputs runs on a copy that
    /// replaces the state only when every input succeeded (later inputs may depend on earlier
    /// ones, e.g. two creates with one email).
    private func write<R>(
        atomic: Bool, count: Int, _ body: (inout State, inout [ChangeEvent]) -> [Result<R, HubSpotErrorBody>]
    ) throws(HubSpotErrorBody) -> ([Result<R, HubSpotErrorBody>], [ChangeEvent]) {
        func firstFailure(_ results: [Result<R, HubSpotErrorBody>]) -> HubSpotErrorBody? {
            for result in results { if case .failure(let error) = result { return error } }
            return nil
        }
        return try state.withLock { (state: inout State) throws(HubSpotErrorBody) in
            var events: [ChangeEvent] = []
            guard atomic, count > 1 else {
                let results = body(&state, &events)
                if atomic, let failure = firstFailure(results) { throw failure }
                return (results, events)
            }
            var scratch = state
            let results = body(&scratch, &events)
            if let failure = firstFailure(results) { throw failure }
            state = scratch
            return (results, events)
        }
    }

    private static func resolveId(_ state: inout State, _ type: ObjectTypeDefinition, id: String, idProperty: String?)
        throws(HubSpotErrorBody) -> Int64?
    {
        if let idProperty, idProperty != "hs_object_id" {
            guard let property = type.properties[idProperty], property.hasUniqueValue else {
                throw .validation(
                    "\(idProperty) is not a unique property of \(type.name) and cannot be used as idProperty")
            }
            return state.types[type.name]?.unique[idProperty]?[normalizeUnique(idProperty, id)]
        }
        guard let objectId = Int64(id) else { return nil }
        return state.mergedInto[type.name]?[objectId] ?? objectId
    }

    private func createOne(
        _ state: inout State, _ type: ObjectTypeDefinition, _ input: CreateInput, now: EpochMilliseconds,
        events: inout [ChangeEvent]
    ) throws(HubSpotErrorBody) -> ObjectSnapshot {
        var values = try PropertyValidator.validate(input.properties, of: type, portalId: portalId, isCreate: true)
        if type.name == "line_items" { Self.fillFromProduct(state, &values) }
        if !type.requiredOneOf.isEmpty, !type.requiredOneOf.contains(where: { values[$0] != nil }) {
            throw .validation(
                "\(type.singular.capitalized) must have at least one of: \(type.requiredOneOf.joined(separator: ", "))")
        }
        try Self.checkUnique(state, type, values, excluding: nil)
        // Validate associations before taking an id so a failure leaves nothing behind.
        var plannedAssociations: [(ObjectTypeDefinition, Int64, [AssociationType])] = []
        for association in input.associations {
            guard let first = association.types.first else {
                throw .validation("An association needs at least one type")
            }
            guard let target = Self.targetType(of: first, from: type, schema: schema) else {
                throw .validation(
                    "association type id \(first.typeId) (\(first.category)) does not exist for \(type.name)")
            }
            guard let toId = Int64(association.toId), state.types[target.name]?.records[toId]?.archived == false else {
                throw .validation("\(target.upperName)=\(association.toId) is not valid")
            }
            plannedAssociations.append((target, toId, association.types))
        }
        let id = state.nextId
        state.nextId += 1
        var object = StoredObject(id: id, properties: [:], history: [:], createdAt: now, updatedAt: now)
        if let createdate = values["createdate"] ?? nil, let created = Timestamps.parse(createdate) {
            object.createdAt = created
        }
        for (name, value) in values {
            guard let value else { continue }
            object.properties[name] = value
            object.history[name] = [PropertyVersion(value: value, timestamp: now, sourceType: "API")]
        }
        object.properties["hs_object_id"] = String(id)
        object.properties["createdate"] = Timestamps.iso8601(object.createdAt)
        Self.touch(&object, type, now: now)
        state.types[type.name, default: TypeState()].records[id] = object
        state.types[type.name]!.ids.append(id)
        Self.index(&state, type, object)
        for (target, toId, types) in plannedAssociations {
            Self.associate(&state, from: type, fromId: id, toTypeName: target.name, toId: toId, types: types)
        }
        events.append(
            ChangeEvent(
                subscriptionType: "\(type.singular).creation", objectTypeId: type.objectTypeId, objectId: id,
                changeFlag: "NEW", occurredAt: now))
        return ObjectSnapshot(object: object, type: type)
    }

    /// As HubSpot does for a line item naming a product: its name, price and SKU come from the
    /// product unless given, and the amount is price × quantity (quantity 1 when unset).
    private static func fillFromProduct(_ state: State, _ values: inout [String: String?]) {
        if let productId = (values["hs_product_id"] ?? nil).flatMap({ Int64($0) }),
            let product = state.types["products"]?.records[productId], !product.archived
        {
            for name in ["name", "price", "hs_sku"] where (values[name] ?? nil) == nil {
                if let value = product.properties[name] { values[name] = value }
            }
        }
        if (values["amount"] ?? nil) == nil, let price = (values["price"] ?? nil).flatMap(Double.init) {
            let quantity = (values["quantity"] ?? nil).flatMap(Double.init) ?? 1
            values["amount"] = formatNumber(price * quantity)
        }
    }

    private func updateOne(
        _ state: inout State, _ type: ObjectTypeDefinition, id: Int64, _ properties: [String: String?],
        now: EpochMilliseconds, events: inout [ChangeEvent]
    ) throws(HubSpotErrorBody) -> ObjectSnapshot {
        let values = try PropertyValidator.validate(properties, of: type, portalId: portalId, isCreate: false)
        guard var object = state.types[type.name]?.records[id] else { throw .notFound }
        try Self.checkUnique(state, type, values, excluding: id)
        Self.unindex(&state, type, object)
        for (name, value) in values where object.properties[name] != value {
            object.properties[name] = value
            if let value {
                object.history[name, default: []].insert(
                    PropertyVersion(value: value, timestamp: now, sourceType: "API"), at: 0)
            }
            events.append(
                ChangeEvent(
                    subscriptionType: "\(type.singular).propertyChange", objectTypeId: type.objectTypeId, objectId: id,
                    propertyName: name, propertyValue: value ?? "", occurredAt: now))
        }
        Self.touch(&object, type, now: now)
        state.types[type.name]!.records[id] = object
        Self.index(&state, type, object)
        return ObjectSnapshot(object: object, type: type)
    }

    private static func touch(_ object: inout StoredObject, _ type: ObjectTypeDefinition, now: EpochMilliseconds) {
        object.updatedAt = max(now, object.createdAt)
        let stamp = Timestamps.iso8601(object.updatedAt)
        object.properties[type.lastModifiedProperty] = stamp
        object.properties["hs_lastmodifieddate"] = stamp
    }

    static func normalizeUnique(_ property: String, _ value: String) -> String {
        property == "email" || property == "hs_additional_emails" ? value.lowercased() : value
    }

    /// Unique values of a record: each unique property, plus every additional email of a contact.
    private static func uniqueValues(_ type: ObjectTypeDefinition, _ properties: [String: String?]) -> [(
        property: String, value: String
    )] {
        var out: [(String, String)] = []
        for (name, value) in properties {
            guard let value, !value.isEmpty else { continue }
            if name == "hs_additional_emails", type.name == "contacts" {
                for email in value.split(separator: ";") {
                    out.append(("email", normalizeUnique("email", String(email))))
                }
            } else if type.properties[name]?.hasUniqueValue == true {
                out.append((name, normalizeUnique(name, value)))
            }
        }
        return out
    }

    private static func checkUnique(
        _ state: State, _ type: ObjectTypeDefinition, _ values: [String: String?], excluding: Int64?
    ) throws(HubSpotErrorBody) {
        for (property, value) in uniqueValues(type, values) {
            if let owner = state.types[type.name]?.unique[property]?[value], owner != excluding {
                throw .conflict("\(type.singular.capitalized) already exists. Existing ID: \(owner)")
            }
        }
    }

    private static func index(_ state: inout State, _ type: ObjectTypeDefinition, _ object: StoredObject) {
        guard !object.archived else { return }
        for (property, value) in uniqueValues(type, object.properties) {
            state.types[type.name, default: TypeState()].unique[property, default: [:]][value] = object.id
        }
    }

    private static func unindex(_ state: inout State, _ type: ObjectTypeDefinition, _ object: StoredObject) {
        for (property, value) in uniqueValues(type, object.properties)
        where state.types[type.name]?.unique[property]?[value] == object.id {
            state.types[type.name]!.unique[property]![value] = nil
        }
    }

    static func targetType(of association: AssociationType, from type: ObjectTypeDefinition, schema: ObjectSchema)
        -> ObjectTypeDefinition?
    {
        if let entry = AssociationCatalog.entries.first(where: {
            $0.from == type.name && $0.typeId == association.typeId
        }) {
            return schema.resolve(entry.to)
        }
        for candidate in schema.types
        where AssociationCatalog.syntheticTypeId(from: type.name, to: candidate.name) == association.typeId {
            return candidate
        }
        return nil
    }

    private static func validateAssociationType(
        _ association: AssociationType, from: ObjectTypeDefinition, to: ObjectTypeDefinition
    ) throws(HubSpotErrorBody) {
        switch association.category {
        case "HUBSPOT_DEFINED":
            let known =
                AssociationCatalog.entry(from: from.name, to: to.name, typeId: association.typeId) != nil
                || AssociationCatalog.syntheticTypeId(from: from.name, to: to.name) == association.typeId
            if !known {
                throw .validation(
                    "\(association.typeId) is not a valid HUBSPOT_DEFINED association type id between \(from.name) and \(to.name)"
                )
            }
        case "USER_DEFINED", "INTEGRATOR_DEFINED":
            guard association.typeId > 0 else { throw .validation("associationTypeId must be positive") }
        default:
            throw .validation(
                "associationCategory must be one of HUBSPOT_DEFINED, USER_DEFINED, INTEGRATOR_DEFINED (was \(association.category))"
            )
        }
    }

    private static func associate(
        _ state: inout State, from type: ObjectTypeDefinition, fromId: Int64, toTypeName: String, toId: Int64,
        types: [AssociationType]
    ) {
        let forward = AssociationKey(fromType: type.name, fromId: fromId, toType: toTypeName)
        let backward = AssociationKey(fromType: toTypeName, fromId: toId, toType: type.name)
        for association in types {
            var labelled = association
            var inverse = association
            if let entry = AssociationCatalog.entry(from: type.name, to: toTypeName, typeId: association.typeId) {
                labelled.label = entry.label
                inverse.typeId = entry.inverse
            } else if association.category == "USER_DEFINED",
                let user = state.userLabels["\(type.name)>\(toTypeName)"]?.first(where: {
                    $0.typeId == association.typeId
                })
            {
                labelled.label = user.label
                inverse.typeId = user.inverse
                inverse.label = user.label
            } else if association.category == "HUBSPOT_DEFINED" {
                inverse.typeId = AssociationCatalog.syntheticTypeId(from: toTypeName, to: type.name)
            }
            if association.category == "HUBSPOT_DEFINED",
                let primary = AssociationCatalog.entry(from: type.name, to: toTypeName, typeId: association.typeId),
                primary.label == "Primary"
            {
                // A primary association implies the unlabelled one, as in HubSpot.
                let unlabelled = AssociationCatalog.defaultEntry(
                    from: type.name, to: toTypeName, fromSingular: "", toSingular: "")
                add(
                    &state, forward, toId,
                    AssociationType(category: "HUBSPOT_DEFINED", typeId: unlabelled.typeId, label: nil))
                add(
                    &state, backward, fromId,
                    AssociationType(category: "HUBSPOT_DEFINED", typeId: unlabelled.inverse, label: nil))
            }
            add(&state, forward, toId, labelled)
            add(&state, backward, fromId, inverse)
        }
    }

    private static func add(_ state: inout State, _ key: AssociationKey, _ toId: Int64, _ type: AssociationType) {
        var list = state.associations[key, default: [:]][toId, default: []]
        if !list.contains(where: { $0.category == type.category && $0.typeId == type.typeId }) { list.append(type) }
        state.associations[key, default: [:]][toId] = list
    }

    private static func removeAssociation(
        _ state: inout State, fromType: String, fromId: Int64, toType: String, toId: Int64
    ) {
        let key = AssociationKey(fromType: fromType, fromId: fromId, toType: toType)
        state.associations[key]?[toId] = nil
        if state.associations[key]?.isEmpty == true { state.associations[key] = nil }
    }

    private static func liveAssociations(_ state: State, fromType: String, fromId: Int64, toType: String) -> [(
        toId: Int64, types: [AssociationType]
    )] {
        guard let targets = state.associations[AssociationKey(fromType: fromType, fromId: fromId, toType: toType)]
        else { return [] }
        return
            targets
            .filter { state.types[toType]?.records[$0.key]?.archived == false }
            .sorted { $0.key < $1.key }
            .map { ($0.key, $0.value) }
    }

    private static func v3Associations(
        _ state: State, from type: ObjectTypeDefinition, id: Int64, to toType: ObjectTypeDefinition
    ) -> [(id: Int64, typeName: String)] {
        liveAssociations(state, fromType: type.name, fromId: id, toType: toType.name).flatMap { item in
            item.types.map { association in
                let name =
                    AssociationCatalog.entry(from: type.name, to: toType.name, typeId: association.typeId)?.name
                    ?? association.label?.lowercased().replacingOccurrences(of: " ", with: "_")
                    ?? "\(type.singular)_to_\(toType.singular)"
                return (item.toId, name)
            }
        }
    }
}

private extension Result where Failure == HubSpotErrorBody {
    init(_ body: () throws(HubSpotErrorBody) -> Success) {
        do { self = .success(try body()) } catch { self = .failure(error) }
    }
}
