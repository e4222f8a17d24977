import JSONCore

/// HubSpot's Lists v3: `POST /crm/v3/lists` (create, MANUAL or DYNAMIC with a `filterBranch`),
/// `POST /crm/v3/lists/search`, `GET` and `DELETE /crm/v3/lists/{id}`,
/// `PUT /crm/v3/lists/{id}/update-list-name` and `…/update-list-filters`,
/// `GET /crm/v3/lists/{id}/memberships` and `PUT /crm/v3/lists/{id}/memberships/add|remove`
/// (MANUAL lists only).
enum ListsAPI {
    /// A list's members: a DYNAMIC list's are the live records its filters match now.
    static func members(_ list: ListStore.List, _ ctx: APIContext) -> [Int64] {
        guard let filters = list.filters, let type = ctx.store.schema.resolve(list.objectTypeId) else {
            return list.order
        }
        return ctx.store.withRecords(type) { ids, records in
            ids.filter { records[$0].map { !$0.archived && filters.matches($0) } ?? false }
        }
    }

    static func write(_ w: inout JSONWriter, _ list: ListStore.List, _ ctx: APIContext) {
        w.beginObject()
        w.member("listId", String(list.id))
        w.member("name", list.name)
        w.member("objectTypeId", list.objectTypeId)
        w.member("processingType", list.processingType)
        w.member("size", members(list, ctx).count)
        if let branch = list.filterBranch {
            w.key("filterBranch")
            w.value(branch)
        }
        w.member("createdAt", Timestamps.iso8601(list.createdAt))
        w.member("updatedAt", Timestamps.iso8601(list.updatedAt))
        w.endObject()
    }

    static func create(_ request: APIRequest, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        let body = try request.json()
        guard let name = body["name"]?.stringValue, !name.isEmpty else { throw .validation("name is required") }
        guard let objectTypeId = body["objectTypeId"]?.stringValue, ctx.store.schema.resolve(objectTypeId) != nil else {
            throw .validation("objectTypeId must name an object type, e.g. 0-1 for contacts")
        }
        let processing = body["processingType"]?.stringValue ?? "MANUAL"
        guard ["MANUAL", "DYNAMIC", "SNAPSHOT"].contains(processing) else {
            throw .validation("processingType must be MANUAL, DYNAMIC or SNAPSHOT")
        }
        var filters: (ListFilters, JSONValue)?
        if processing == "DYNAMIC" {
            guard let branch = body["filterBranch"], !branch.isNull else {
                throw .validation("a DYNAMIC list needs a filterBranch")
            }
            filters = (try ListFilters.parse(branch, type: ctx.store.schema.resolve(objectTypeId)!), branch)
        }
        guard
            let list = ctx.lists.create(
                name: name, objectTypeId: objectTypeId, processingType: processing, filters: filters, now: ctx.now)
        else { throw .validation("A list named \(name) already exists") }
        return answer("list", list, ctx)
    }

    static func answer(_ key: String, _ list: ListStore.List, _ ctx: APIContext) -> APIReply {
        var w = JSONWriter()
        w.beginObject()
        w.key(key)
        write(&w, list, ctx)
        w.endObject()
        return .json(200, w)
    }

    static func rename(_ request: APIRequest, _ id: String, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        let list = try find(id, ctx)
        guard let name = request.parameter("listName"), !name.isEmpty else { throw .validation("listName is required") }
        guard !ctx.lists.nameTaken(name, except: list.id) else {
            throw .validation("A list named \(name) already exists")
        }
        return answer("updatedList", ctx.lists.update(list.id, now: ctx.now) { $0.name = name }!, ctx)
    }

    static func updateFilters(_ request: APIRequest, _ id: String, _ ctx: APIContext) throws(HubSpotErrorBody)
        -> APIReply
    {
        let list = try find(id, ctx)
        guard list.processingType == "DYNAMIC" else {
            throw .validation("List \(id) is \(list.processingType): only DYNAMIC lists have filters")
        }
        guard let branch = try request.json()["filterBranch"], !branch.isNull else {
            throw .validation("filterBranch is required")
        }
        let filters = try ListFilters.parse(branch, type: ctx.store.schema.resolve(list.objectTypeId)!)
        return answer(
            "updatedList",
            ctx.lists.update(list.id, now: ctx.now) { ($0.filters, $0.filterBranch) = (filters, branch) }!,
            ctx)
    }

    static func delete(_ id: String, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        let list = try find(id, ctx)
        _ = ctx.lists.delete(list.id)
        return .noContent
    }

    static func search(_ request: APIRequest, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        let body = try request.json()
        let offset = body["offset"]?.propertyText.flatMap { Int($0) } ?? 0
        let count = body["count"]?.propertyText.flatMap { Int($0) } ?? 20
        guard offset >= 0, (1...500).contains(count) else {
            throw .validation("offset must be 0 or more and count between 1 and 500")
        }
        let all = ctx.lists.search(body["query"]?.stringValue)
        let page = all.dropFirst(offset).prefix(count)
        var w = JSONWriter(capacity: 2048)
        w.beginObject()
        w.key("lists")
        w.beginArray()
        for list in page { write(&w, list, ctx) }
        w.endArray()
        w.member("offset", offset + page.count)
        w.member("hasMore", offset + page.count < all.count)
        w.member("total", all.count)
        w.endObject()
        return .json(200, w)
    }

    static func get(_ id: String, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        answer("list", try find(id, ctx), ctx)
    }

    static func memberships(_ request: APIRequest, _ id: String, _ ctx: APIContext) throws(HubSpotErrorBody)
        -> APIReply
    {
        let list = try find(id, ctx)
        let limit = try request.intParameter("limit", default: 100)
        guard (1...250).contains(limit) else { throw .validation("limit must be between 1 and 250, was \(limit)") }
        let start = request.parameter("after").flatMap { Int($0) } ?? 0
        let all = members(list, ctx)
        let page = all.dropFirst(start).prefix(limit)
        var w = JSONWriter(capacity: 4096)
        w.beginObject()
        w.key("results")
        w.beginArray()
        for record in page {
            w.beginObject()
            w.member("recordId", String(record))
            w.member("membershipTimestamp", Timestamps.iso8601(list.joined[record] ?? list.updatedAt))
            w.endObject()
        }
        w.endArray()
        if start + page.count < all.count {
            ObjectsAPI.writePaging(&w, after: String(start + page.count), link: nil)
        }
        w.endObject()
        return .json(200, w)
    }

    static func change(_ request: APIRequest, _ id: String, add: Bool, _ ctx: APIContext) throws(HubSpotErrorBody)
        -> APIReply
    {
        let list = try find(id, ctx)
        guard list.processingType == "MANUAL" || list.processingType == "SNAPSHOT" else {
            throw .validation("List \(id) is \(list.processingType): only MANUAL lists take memberships by API")
        }
        let body = try request.json()
        guard let values = body.arrayValue else { throw .validation("the body must be an array of record ids") }
        var ids: [Int64] = []
        for value in values {
            guard let text = value.propertyText, let record = Int64(text) else {
                throw .validation("record ids must be numbers")
            }
            ids.append(record)
        }
        guard ids.count <= 100_000 else { throw .validation("at most 100000 record ids per call") }
        let type = ctx.store.schema.resolve(list.objectTypeId)!
        let existing = Set(ids.filter { ctx.store.exists(type, id: $0) })
        let missing = ids.filter { !existing.contains($0) }
        let (changed, _) = ctx.lists.change(
            list.id, add: add, add ? ids.filter(existing.contains) : ids, now: ctx.now)!
        var w = JSONWriter()
        w.beginObject()
        w.key(add ? "recordIdsAdded" : "recordIdsRemoved")
        w.beginArray()
        for record in changed { w.string(String(record)) }
        w.endArray()
        w.key("recordIdsMissing")
        w.beginArray()
        for record in (add ? missing : []) { w.string(String(record)) }
        w.endArray()
        w.endObject()
        return .json(200, w)
    }

    private static func find(_ id: String, _ ctx: APIContext) throws(HubSpotErrorBody) -> ListStore.List {
        guard let number = Int64(id), let list = ctx.lists.list(number) else {
            throw HubSpotErrorBody(status: 404, message: "List \(id) does not exist", category: "OBJECT_NOT_FOUND")
        }
        return list
    }
}
