import Foundation
import JSONCore
import Time

/// What every API handler shares: the store, the settings, where events go.
struct APIContext: Sendable {
    /// Milliseconds since 1970 on the simulator's clock.
    var now: Int64 { configuration.time.wallMilliseconds }

    var store: ObjectStore
    var lists: ListStore
    var imports: ImportStore
    var exports: ExportTasks
    var configuration: SimulatorConfiguration
    /// The URL clients reach the simulator at, for paging links.
    var baseURL: String
    var emit: @Sendable ([ChangeEvent]) -> Void
    var journal: WebhookJournal
    var limits: HubSpotRateLimits
    var preferences: CommunicationPreferences
    var writeRules: WriteRules
}

/// CRM v3 objects: single-record calls, list, batch, search and merge.
enum ObjectsAPI {
    static func get(_ request: APIRequest, _ type: ObjectTypeDefinition, id: String, _ ctx: APIContext)
        throws(HubSpotErrorBody) -> APIReply
    {
        let associationTypes = try resolveTypes(request.listParameter("associations") ?? [], ctx)
        let snapshot = try ctx.store.get(
            type, id: id, idProperty: request.parameter("idProperty"), archived: try request.boolParameter("archived"),
            associationTypes: associationTypes)
        var w = JSONWriter()
        ObjectRenderer.write(
            &w, snapshot, selection: PropertySelection(request.listParameter("properties")),
            withHistory: request.listParameter("propertiesWithHistory") ?? [])
        return .json(200, w)
    }

    static func list(_ request: APIRequest, _ type: ObjectTypeDefinition, _ ctx: APIContext) throws(HubSpotErrorBody)
        -> APIReply
    {
        let withHistory = request.listParameter("propertiesWithHistory") ?? []
        let maxLimit = withHistory.isEmpty ? ctx.configuration.maxListLimit : ctx.configuration.maxListLimitWithHistory
        let limit = try request.intParameter("limit", default: 10)
        guard limit >= 1, limit <= maxLimit else {
            throw .validation(
                "limit must be between 1 and \(maxLimit)\(withHistory.isEmpty ? "" : " when propertiesWithHistory is requested"), was \(limit)"
            )
        }
        var after: Int64?
        if let cursor = request.parameter("after"), !cursor.isEmpty {
            guard let value = Int64(cursor) else {
                throw .validation("after must be the paging cursor of a previous response, was \(cursor)")
            }
            after = value
        }
        let associationTypes = try resolveTypes(request.listParameter("associations") ?? [], ctx)
        let (page, next) = ctx.store.list(
            type, limit: limit, after: after, archived: try request.boolParameter("archived"),
            associationTypes: associationTypes)
        let selection = PropertySelection(request.listParameter("properties"))
        var w = JSONWriter(capacity: 256 * max(1, page.count))
        w.beginObject()
        w.key("results")
        w.beginArray()
        for snapshot in page { ObjectRenderer.write(&w, snapshot, selection: selection, withHistory: withHistory) }
        w.endArray()
        if let next {
            writePaging(
                &w, after: String(next), link: "\(ctx.baseURL)/crm/v3/objects/\(type.name)?limit=\(limit)&after=\(next)"
            )
        }
        w.endObject()
        return .json(200, w)
    }

    static func create(_ request: APIRequest, _ type: ObjectTypeDefinition, _ ctx: APIContext) throws(HubSpotErrorBody)
        -> APIReply
    {
        let body = try JSONField.object(try request.json(), "request body")
        let input = try createInput(body, type, ctx, path: "")
        try checkWriteRules(request, type, ctx, creates: [input.properties])
        let (results, events) = try ctx.store.create(type, [input], atomic: true, now: ctx.now)
        ctx.emit(events)
        var w = JSONWriter()
        ObjectRenderer.write(&w, try results[0].get(), selection: .allSet)
        return .json(201, w)
    }

    static func update(_ request: APIRequest, _ type: ObjectTypeDefinition, id: String, _ ctx: APIContext)
        throws(HubSpotErrorBody) -> APIReply
    {
        let body = try JSONField.object(try request.json(), "request body")
        let input = ObjectStore.UpdateInput(
            id: id, idProperty: request.parameter("idProperty"),
            properties: try JSONField.properties(body["properties"]))
        try checkWriteRules(request, type, ctx, updates: [input])
        let (results, events) = try ctx.store.update(type, [input], atomic: true, now: ctx.now)
        ctx.emit(events)
        var w = JSONWriter()
        ObjectRenderer.write(&w, try results[0].get(), selection: .allSet)
        return .json(200, w)
    }

    static func archive(_ type: ObjectTypeDefinition, id: String, _ ctx: APIContext) -> APIReply {
        ctx.emit(ctx.store.archive(type, ids: [id], now: ctx.now))
        return .noContent
    }

    static func merge(_ request: APIRequest, _ type: ObjectTypeDefinition, _ ctx: APIContext) throws(HubSpotErrorBody)
        -> APIReply
    {
        let body = try JSONField.object(try request.json(), "request body")
        let (snapshot, events) = try ctx.store.merge(
            type, primary: try JSONField.id(body["primaryObjectId"], "primaryObjectId"),
            merged: try JSONField.id(body["objectIdToMerge"], "objectIdToMerge"), now: ctx.now)
        ctx.emit(events)
        var w = JSONWriter()
        ObjectRenderer.write(&w, snapshot, selection: .allSet)
        return .json(200, w)
    }

    // MARK: Batch

    static func batchInputs(_ request: APIRequest, _ ctx: APIContext) throws(HubSpotErrorBody) -> (
        JSONValue, [JSONValue]
    ) {
        let body = try JSONField.object(try request.json(), "request body")
        let inputs = try JSONField.array(body["inputs"], "inputs")
        if inputs.count > ctx.configuration.maxBatchInputs {
            throw .validation(
                "Batch inputs are limited to \(ctx.configuration.maxBatchInputs); this request has \(inputs.count). Split it into several batches."
            )
        }
        return (body, inputs)
    }

    static func batchRead(_ request: APIRequest, _ type: ObjectTypeDefinition, _ ctx: APIContext)
        throws(HubSpotErrorBody) -> APIReply
    {
        let started = ctx.now
        let (body, inputs) = try batchInputs(request, ctx)
        var ids: [String] = []
        for (index, input) in inputs.enumerated() {
            ids.append(try JSONField.id(try JSONField.object(input, "inputs[\(index)]")["id"], "inputs[\(index)].id"))
        }
        let properties = try JSONField.stringList(body["properties"], "properties")
        let withHistory = try JSONField.stringList(body["propertiesWithHistory"], "propertiesWithHistory") ?? []
        let idProperty = try JSONField.optionalString(body["idProperty"], "idProperty")
        let (found, missing) = try ctx.store.batchRead(
            type, ids: ids, idProperty: idProperty, archived: try request.boolParameter("archived"))
        let selection = PropertySelection(properties)
        var errors: [JSONValue] = []
        if !missing.isEmpty {
            let error = HubSpotErrorBody(
                status: 404,
                message:
                    "Could not get some \(type.upperName) objects, they may be deleted or not exist. Check that ids are valid.",
                category: "OBJECT_NOT_FOUND")
            errors.append(ObjectRenderer.itemError(error, contextKey: "ids", values: missing))
        }
        let w = ObjectRenderer.batch(
            results: { w in
                for snapshot in found {
                    ObjectRenderer.write(&w, snapshot, selection: selection, withHistory: withHistory)
                }
            }, errors: errors, startedAt: started)
        return .json(errors.isEmpty ? 200 : 207, w)
    }

    static func batchCreate(_ request: APIRequest, _ type: ObjectTypeDefinition, _ ctx: APIContext)
        throws(HubSpotErrorBody) -> APIReply
    {
        let started = ctx.now
        let (_, inputs) = try batchInputs(request, ctx)
        var parsed: [ObjectStore.CreateInput] = []
        for (index, input) in inputs.enumerated() {
            parsed.append(
                try createInput(try JSONField.object(input, "inputs[\(index)]"), type, ctx, path: "inputs[\(index)]."))
        }
        try checkWriteRules(request, type, ctx, creates: parsed.map(\.properties))
        let atomic = parsed.contains { $0.objectWriteTraceId == nil }
        let (results, events) = try ctx.store.create(type, parsed, atomic: atomic, now: ctx.now)
        ctx.emit(events)
        return writeResults(results, traceIds: parsed.map(\.objectWriteTraceId), successStatus: 201, started: started)
    }

    static func batchUpdate(
        _ request: APIRequest, _ type: ObjectTypeDefinition, _ ctx: APIContext, upsert: Bool = false
    ) throws(HubSpotErrorBody) -> APIReply {
        let started = ctx.now
        let (_, inputs) = try batchInputs(request, ctx)
        var parsed: [ObjectStore.UpdateInput] = []
        for (index, input) in inputs.enumerated() {
            let object = try JSONField.object(input, "inputs[\(index)]")
            let idProperty = try JSONField.optionalString(object["idProperty"], "inputs[\(index)].idProperty")
            if upsert, idProperty == nil {
                throw .validation(
                    "inputs[\(index)].idProperty is required for upsert (a unique property such as email)")
            }
            parsed.append(
                ObjectStore.UpdateInput(
                    id: try JSONField.id(object["id"], "inputs[\(index)].id"),
                    idProperty: idProperty,
                    properties: try JSONField.properties(object["properties"], "inputs[\(index)].properties"),
                    objectWriteTraceId: try JSONField.optionalString(
                        object["objectWriteTraceId"], "inputs[\(index)].objectWriteTraceId")))
        }
        try checkWriteRules(request, type, ctx, updates: parsed)
        let atomic = parsed.contains { $0.objectWriteTraceId == nil }
        let now = ctx.now
        let (results, events) =
            upsert
            ? try ctx.store.upsert(type, parsed, atomic: atomic, now: now)
            : try ctx.store.update(type, parsed, atomic: atomic, now: now)
        ctx.emit(events)
        return writeResults(results, traceIds: parsed.map(\.objectWriteTraceId), successStatus: 200, started: started)
    }

    static func batchArchive(_ request: APIRequest, _ type: ObjectTypeDefinition, _ ctx: APIContext)
        throws(HubSpotErrorBody) -> APIReply
    {
        let (_, inputs) = try batchInputs(request, ctx)
        var ids: [String] = []
        for (index, input) in inputs.enumerated() {
            ids.append(try JSONField.id(try JSONField.object(input, "inputs[\(index)]")["id"], "inputs[\(index)].id"))
        }
        ctx.emit(ctx.store.archive(type, ids: ids, now: ctx.now))
        return .noContent
    }

    // MARK: Search

    static func search(_ request: APIRequest, _ type: ObjectTypeDefinition, _ ctx: APIContext) throws(HubSpotErrorBody)
        -> APIReply
    {
        let body = try request.json()
        let query = try SearchQuery.parse(
            body, bodySize: String(decoding: request.body, as: UTF8.self).count, limits: ctx.configuration.searchLimits,
            type: type)
        let indexedThrough = ctx.now - ctx.configuration.searchIndexDelay.milliseconds
        let (total, page) = ctx.store.withRecords(type) { ids, records in
            SearchEvaluator.run(query, type: type, ids: ids, records: records, indexedThrough: indexedThrough)
        }
        let selection = PropertySelection(query.properties)
        var w = JSONWriter(capacity: 256 * max(1, page.count))
        w.beginObject()
        w.member("total", total)
        w.key("results")
        w.beginArray()
        for object in page {
            ObjectRenderer.write(&w, ObjectSnapshot(object: object, type: type), selection: selection)
        }
        w.endArray()
        let nextOffset = query.offset + page.count
        if nextOffset < total, !page.isEmpty {
            writePaging(&w, after: String(nextOffset), link: nil)
        }
        w.endObject()
        return .json(200, w)
    }

    // MARK: Helpers

    static func writePaging(_ w: inout JSONWriter, after: String, link: String?) {
        w.key("paging")
        w.beginObject()
        w.key("next")
        w.beginObject()
        w.member("after", after)
        if let link { w.member("link", link) }
        w.endObject()
        w.endObject()
    }

    private static func resolveTypes(_ names: [String], _ ctx: APIContext) throws(HubSpotErrorBody)
        -> [ObjectTypeDefinition]
    {
        var out: [ObjectTypeDefinition] = []
        for name in names {
            guard let type = ctx.store.schema.resolve(name) else { throw .unknownObjectType(name) }
            out.append(type)
        }
        return out
    }

    /// On 2026-09 and later, the portal's write rules (`WriteRules`): a write that breaks one is
    /// refused whole, naming the property, before anything is written.
    private static func checkWriteRules(
        _ request: APIRequest, _ type: ObjectTypeDefinition, _ ctx: APIContext,
        creates: [[String: String?]] = [], updates: [ObjectStore.UpdateInput] = []
    ) throws(HubSpotErrorBody) {
        guard DatedPaths.enforcesWriteRules(request.version), !ctx.writeRules.all.isEmpty else { return }
        var problems: [HubSpotErrorBody.PropertyProblem] = []
        for properties in creates {
            problems += ctx.writeRules.problems(type.name, creating: true, after: properties)
        }
        for update in updates {
            let stored = try? ctx.store.get(type, id: update.id, idProperty: update.idProperty, archived: false)
            var after: [String: String?] = stored?.object.properties.mapValues { Optional($0) } ?? [:]
            after.merge(update.properties) { _, new in new }
            problems += ctx.writeRules.problems(type.name, creating: stored == nil, after: after)
        }
        guard !problems.isEmpty else { return }
        throw .invalidProperties(problems, portalId: ctx.configuration.portalId)
    }

    private static func createInput(_ object: JSONValue, _ type: ObjectTypeDefinition, _ ctx: APIContext, path: String)
        throws(HubSpotErrorBody) -> ObjectStore.CreateInput
    {
        var input = ObjectStore.CreateInput(
            properties: try JSONField.properties(object["properties"], "\(path)properties"))
        input.objectWriteTraceId = try JSONField.optionalString(
            object["objectWriteTraceId"], "\(path)objectWriteTraceId")
        if let associations = object["associations"], !associations.isNull {
            for (index, association) in try JSONField.array(associations, "\(path)associations").enumerated() {
                let prefix = "\(path)associations[\(index)]"
                let to = try JSONField.object(association["to"], "\(prefix).to")
                input.associations.append(
                    (
                        try JSONField.id(to["id"], "\(prefix).to.id"),
                        try AssociationsAPI.types(association["types"], prefix + ".types")
                    ))
            }
        }
        return input
    }

    private static func writeResults(
        _ results: [ObjectStore.InputResult], traceIds: [String?], successStatus: Int, started: Int64
    ) -> APIReply {
        var errors: [JSONValue] = []
        for (index, result) in results.enumerated() {
            if case .failure(let error) = result {
                errors.append(
                    ObjectRenderer.itemError(
                        error, contextKey: "objectWriteTraceId", values: [traceIds[index] ?? String(index)]))
            }
        }
        let w = ObjectRenderer.batch(
            results: { w in
                for result in results {
                    if case .success(let snapshot) = result { ObjectRenderer.write(&w, snapshot, selection: .allSet) }
                }
            }, errors: errors, startedAt: started)
        return .json(errors.isEmpty ? successStatus : 207, w)
    }
}

/// CRM v3 properties: the schema of each object type.
enum PropertiesAPI {
    static func list(_ type: ObjectTypeDefinition) -> APIReply {
        var w = JSONWriter(capacity: 8192)
        w.beginObject()
        w.key("results")
        w.beginArray()
        for property in type.properties.values.sorted(by: { $0.name < $1.name }) { write(&w, property, type) }
        w.endArray()
        w.endObject()
        return .json(200, w)
    }

    static func get(_ type: ObjectTypeDefinition, name: String) throws(HubSpotErrorBody) -> APIReply {
        guard let property = type.properties[name] else {
            throw HubSpotErrorBody(
                status: 404, message: "Unable to find property \(name) for object type \(type.name)",
                category: "OBJECT_NOT_FOUND")
        }
        var w = JSONWriter()
        write(&w, property, type)
        return .json(200, w)
    }

    private static func write(_ w: inout JSONWriter, _ property: PropertyDefinition, _ type: ObjectTypeDefinition) {
        w.beginObject()
        w.member("name", property.name)
        w.member("label", property.name.split(separator: "_").map { $0.capitalized }.joined(separator: " "))
        w.member("type", property.type.rawValue)
        w.member("fieldType", property.type.fieldType)
        w.member("description", "")
        w.member("groupName", "\(type.singular)information")
        w.key("options")
        w.beginArray()
        for (index, option) in property.options.enumerated() {
            w.beginObject()
            w.member("label", option)
            w.member("value", option)
            w.member("displayOrder", index)
            w.member("hidden", false)
            w.endObject()
        }
        w.endArray()
        w.member("hasUniqueValue", property.hasUniqueValue)
        w.member("hidden", false)
        w.member("formField", !property.readOnly)
        w.member("calculated", false)
        w.member("externalOptions", false)
        w.key("modificationMetadata")
        w.beginObject()
        w.member("archivable", !property.readOnly)
        w.member("readOnlyDefinition", true)
        w.member("readOnlyValue", property.readOnly)
        w.endObject()
        w.endObject()
    }
}
