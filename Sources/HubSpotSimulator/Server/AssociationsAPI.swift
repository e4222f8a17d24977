import Foundation
import JSONCore

/// CRM associations v4: default and labelled associations, lists, and the batch calls.
enum AssociationsAPI {
    /// The pair an association write is made between, and the version of its path: on 2026-09
    /// a type may be named by its label instead of its id, and a legacy type name is refused.
    struct Pair {
        var from: ObjectTypeDefinition
        var to: ObjectTypeDefinition
        var version: String?
        var ctx: APIContext
    }

    /// Parses `[{associationCategory, associationTypeId}]` (2026-09: or `{label}`).
    static func types(_ value: JSONValue?, _ name: String, pair: Pair? = nil) throws(HubSpotErrorBody)
        -> [AssociationType]
    {
        let array = try JSONField.array(value, name)
        guard !array.isEmpty else { throw .validation("\(name) must name at least one association type") }
        var out: [AssociationType] = []
        for (index, element) in array.enumerated() {
            let object = try JSONField.object(element, "\(name)[\(index)]")
            if let pair, DatedPaths.enforcesWriteRules(pair.version), let label = object["label"]?.stringValue,
                object["associationTypeId"] == nil
            {
                out.append(try byLabel(label, "\(name)[\(index)]", pair))
                continue
            }
            guard let category = object["associationCategory"]?.stringValue else {
                throw .validation(
                    "\(name)[\(index)].associationCategory is required (HUBSPOT_DEFINED, USER_DEFINED or INTEGRATOR_DEFINED)"
                )
            }
            guard case .number(let typeId)? = object["associationTypeId"], typeId == typeId.rounded() else {
                throw .validation("\(name)[\(index)].associationTypeId must be an integer")
            }
            out.append(AssociationType(category: category, typeId: Int(typeId), label: nil))
        }
        return out
    }

    /// A type of the pair by its label (HubSpot's or the portal's); a legacy type name such as
    /// `contact_to_company` is refused, naming the id to send instead.
    private static func byLabel(_ label: String, _ field: String, _ pair: Pair) throws(HubSpotErrorBody)
        -> AssociationType
    {
        let catalog = AssociationCatalog.entries.filter { $0.from == pair.from.name && $0.to == pair.to.name }
        if let legacy = catalog.first(where: { $0.name == label }) {
            throw .validation(
                "\(field): legacy association type names such as '\(label)' are not accepted from 2026-09; send associationTypeId \(legacy.typeId) (HUBSPOT_DEFINED)"
                    + (legacy.label.map { " or the label '\($0)'" } ?? ""))
        }
        if let entry = catalog.first(where: { $0.label?.lowercased() == label.lowercased() }) {
            return AssociationType(category: "HUBSPOT_DEFINED", typeId: entry.typeId, label: entry.label)
        }
        let users = pair.ctx.store.userLabels(from: pair.from.name, to: pair.to.name)
        if let user = users.first(where: { $0.label.lowercased() == label.lowercased() }) {
            return AssociationType(category: "USER_DEFINED", typeId: user.typeId, label: user.label)
        }
        let known = (catalog.compactMap(\.label) + users.map(\.label)).map { "'\($0)'" }
        throw .validation(
            "\(field): no association label '\(label)' from \(pair.from.name) to \(pair.to.name); labels: \(known.isEmpty ? "none" : known.joined(separator: ", "))"
        )
    }

    static func createDefault(
        _ from: ObjectTypeDefinition, _ fromId: String, _ to: ObjectTypeDefinition, _ toId: String, _ ctx: APIContext
    ) throws(HubSpotErrorBody) -> APIReply {
        let started = ctx.now
        let entry = AssociationCatalog.defaultEntry(
            from: from.name, to: to.name, fromSingular: from.singular, toSingular: to.singular)
        try associateDefault(from, fromId, to, toId, entry, ctx)
        let w = ObjectRenderer.batch(
            results: { w in writeDefaultPair(&w, fromId, toId, entry) }, errors: [], startedAt: started)
        return .json(200, w)
    }

    static func createLabelled(
        _ request: APIRequest, _ from: ObjectTypeDefinition, _ fromId: String, _ to: ObjectTypeDefinition,
        _ toId: String, _ ctx: APIContext
    ) throws(HubSpotErrorBody) -> APIReply {
        let requested = try types(
            try request.json(), "request body", pair: Pair(from: from, to: to, version: request.version, ctx: ctx))
        ctx.emit(
            try ctx.store.associate(
                from: from, fromId: fromId, to: to, toId: toId, types: requested, now: ctx.now))
        var w = JSONWriter()
        writeLabelsPair(&w, from, fromId, to, toId, ctx)
        return .json(201, w)
    }

    static func list(
        _ request: APIRequest, _ from: ObjectTypeDefinition, _ fromId: String, _ to: ObjectTypeDefinition,
        _ ctx: APIContext
    ) throws(HubSpotErrorBody) -> APIReply {
        let limit = try request.intParameter("limit", default: 500)
        guard limit >= 1, limit <= 500 else { throw .validation("limit must be between 1 and 500, was \(limit)") }
        let after = request.parameter("after").flatMap { Int64($0) }
        guard let all = ctx.store.associations(from: from, id: fromId, to: to) else { throw .notFound }
        let remaining = all.filter { after == nil || $0.toId >= after! }
        let page = remaining.prefix(limit)
        var w = JSONWriter()
        w.beginObject()
        w.key("results")
        w.beginArray()
        for item in page { writeTarget(&w, item, from: from, to: to) }
        w.endArray()
        if remaining.count > limit {
            let next = remaining[limit].toId
            ObjectsAPI.writePaging(
                &w, after: String(next),
                link:
                    "\(ctx.baseURL)/crm/v4/objects/\(from.name)/\(fromId)/associations/\(to.name)?limit=\(limit)&after=\(next)"
            )
        }
        w.endObject()
        return .json(200, w)
    }

    static func remove(
        _ from: ObjectTypeDefinition, _ fromId: String, _ to: ObjectTypeDefinition, _ toId: String, _ ctx: APIContext
    ) -> APIReply {
        ctx.emit(ctx.store.removeAssociations(from: from, fromId: fromId, to: to, toId: toId, now: ctx.now))
        return .noContent
    }

    // MARK: Batch

    static func batchRead(
        _ request: APIRequest, _ from: ObjectTypeDefinition, _ to: ObjectTypeDefinition, _ ctx: APIContext
    ) throws(HubSpotErrorBody) -> APIReply {
        let started = ctx.now
        let (_, inputs) = try ObjectsAPI.batchInputs(request, ctx)
        var found: [(String, [(toId: Int64, types: [AssociationType])])] = []
        var missing: [String] = []
        for (index, input) in inputs.enumerated() {
            let id = try JSONField.id(try JSONField.object(input, "inputs[\(index)]")["id"], "inputs[\(index)].id")
            if let items = ctx.store.associations(from: from, id: id, to: to) {
                found.append((id, items))
            } else {
                missing.append(id)
            }
        }
        var errors: [JSONValue] = []
        if !missing.isEmpty {
            let error = HubSpotErrorBody(
                status: 404,
                message:
                    "Could not get some \(from.upperName) objects, they may be deleted or not exist. Check that ids are valid.",
                category: "OBJECT_NOT_FOUND")
            errors.append(ObjectRenderer.itemError(error, contextKey: "ids", values: missing))
        }
        let w = ObjectRenderer.batch(
            results: { w in
                for (id, items) in found {
                    w.beginObject()
                    w.key("from")
                    w.beginObject()
                    w.member("id", id)
                    w.endObject()
                    w.key("to")
                    w.beginArray()
                    for item in items { writeTarget(&w, item, from: from, to: to) }
                    w.endArray()
                    w.endObject()
                }
            }, errors: errors, startedAt: started)
        return .json(errors.isEmpty ? 200 : 207, w)
    }

    static func batchAssociateDefault(
        _ request: APIRequest, _ from: ObjectTypeDefinition, _ to: ObjectTypeDefinition, _ ctx: APIContext
    ) throws(HubSpotErrorBody) -> APIReply {
        let started = ctx.now
        let pairs = try parsePairs(request, ctx)
        let entry = AssociationCatalog.defaultEntry(
            from: from.name, to: to.name, fromSingular: from.singular, toSingular: to.singular)
        for (fromId, toId) in pairs { try associateDefault(from, fromId, to, toId, entry, ctx) }
        let w = ObjectRenderer.batch(
            results: { w in
                for (fromId, toId) in pairs { writeDefaultPair(&w, fromId, toId, entry) }
            }, errors: [], startedAt: started)
        return .json(200, w)
    }

    static func batchCreate(
        _ request: APIRequest, _ from: ObjectTypeDefinition, _ to: ObjectTypeDefinition, _ ctx: APIContext
    ) throws(HubSpotErrorBody) -> APIReply {
        let started = ctx.now
        let (_, inputs) = try ObjectsAPI.batchInputs(request, ctx)
        var created: [(String, String)] = []
        for (index, input) in inputs.enumerated() {
            let object = try JSONField.object(input, "inputs[\(index)]")
            let fromId = try JSONField.id(
                try JSONField.object(object["from"], "inputs[\(index)].from")["id"], "inputs[\(index)].from.id")
            let toId = try JSONField.id(
                try JSONField.object(object["to"], "inputs[\(index)].to")["id"], "inputs[\(index)].to.id")
            let requested = try types(
                object["types"], "inputs[\(index)].types",
                pair: Pair(from: from, to: to, version: request.version, ctx: ctx))
            ctx.emit(
                try ctx.store.associate(
                    from: from, fromId: fromId, to: to, toId: toId, types: requested, now: ctx.now))
            created.append((fromId, toId))
        }
        let w = ObjectRenderer.batch(
            results: { w in
                for (fromId, toId) in created { writeLabelsPair(&w, from, fromId, to, toId, ctx) }
            }, errors: [], startedAt: started)
        return .json(201, w)
    }

    static func batchArchive(
        _ request: APIRequest, _ from: ObjectTypeDefinition, _ to: ObjectTypeDefinition, _ ctx: APIContext
    ) throws(HubSpotErrorBody) -> APIReply {
        let (_, inputs) = try ObjectsAPI.batchInputs(request, ctx)
        for (index, input) in inputs.enumerated() {
            let object = try JSONField.object(input, "inputs[\(index)]")
            let fromId = try JSONField.id(
                try JSONField.object(object["from"], "inputs[\(index)].from")["id"], "inputs[\(index)].from.id")
            for (targetIndex, target) in try JSONField.array(object["to"], "inputs[\(index)].to").enumerated() {
                let toId = try JSONField.id(
                    try JSONField.object(target, "inputs[\(index)].to[\(targetIndex)]")["id"],
                    "inputs[\(index)].to[\(targetIndex)].id")
                ctx.emit(
                    ctx.store.removeAssociations(from: from, fromId: fromId, to: to, toId: toId, now: ctx.now))
            }
        }
        return .noContent
    }

    // MARK: Writers

    private static func parsePairs(_ request: APIRequest, _ ctx: APIContext) throws(HubSpotErrorBody) -> [(
        String, String
    )] {
        let (_, inputs) = try ObjectsAPI.batchInputs(request, ctx)
        var pairs: [(String, String)] = []
        for (index, input) in inputs.enumerated() {
            let object = try JSONField.object(input, "inputs[\(index)]")
            pairs.append(
                (
                    try JSONField.id(
                        try JSONField.object(object["from"], "inputs[\(index)].from")["id"], "inputs[\(index)].from.id"),
                    try JSONField.id(
                        try JSONField.object(object["to"], "inputs[\(index)].to")["id"], "inputs[\(index)].to.id")
                ))
        }
        return pairs
    }

    private static func writeTarget(
        _ w: inout JSONWriter, _ item: (toId: Int64, types: [AssociationType]), from: ObjectTypeDefinition,
        to: ObjectTypeDefinition
    ) {
        w.beginObject()
        w.member("toObjectId", item.toId)
        w.key("associationTypes")
        w.beginArray()
        for type in item.types {
            w.beginObject()
            w.member("category", type.category)
            w.member("typeId", type.typeId)
            w.key("label")
            w.optionalString(type.label)
            w.endObject()
        }
        w.endArray()
        w.endObject()
    }

    /// Associates two records with the default (unlabelled) type of `entry` and emits the events.
    private static func associateDefault(
        _ from: ObjectTypeDefinition, _ fromId: String, _ to: ObjectTypeDefinition, _ toId: String,
        _ entry: AssociationCatalog.Entry, _ ctx: APIContext
    ) throws(HubSpotErrorBody) {
        ctx.emit(
            try ctx.store.associate(
                from: from, fromId: fromId, to: to, toId: toId,
                types: [AssociationType(category: "HUBSPOT_DEFINED", typeId: entry.typeId, label: nil)],
                now: ctx.now))
    }

    private static func writeDefaultPair(
        _ w: inout JSONWriter, _ fromId: String, _ toId: String, _ entry: AssociationCatalog.Entry
    ) {
        for (a, b, typeId) in [(fromId, toId, entry.typeId), (toId, fromId, entry.inverse)] {
            w.beginObject()
            w.key("from")
            w.beginObject()
            w.member("id", a)
            w.endObject()
            w.key("to")
            w.beginObject()
            w.member("id", b)
            w.endObject()
            w.key("associationSpec")
            w.beginObject()
            w.member("associationCategory", "HUBSPOT_DEFINED")
            w.member("associationTypeId", typeId)
            w.endObject()
            w.endObject()
        }
    }

    private static func writeLabelsPair(
        _ w: inout JSONWriter, _ from: ObjectTypeDefinition, _ fromId: String, _ to: ObjectTypeDefinition,
        _ toId: String, _ ctx: APIContext
    ) {
        let types =
            ctx.store.associations(from: from, id: fromId, to: to)?.first { String($0.toId) == toId }?.types ?? []
        w.beginObject()
        w.member("fromObjectTypeId", from.objectTypeId)
        w.member("fromObjectId", Int64(fromId) ?? 0)
        w.member("toObjectTypeId", to.objectTypeId)
        w.member("toObjectId", Int64(toId) ?? 0)
        w.key("labels")
        w.beginArray()
        for label in types.compactMap(\.label) { w.string(label) }
        w.endArray()
        w.endObject()
    }
}
