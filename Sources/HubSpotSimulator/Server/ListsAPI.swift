import JSONCore

/// HubSpot's Lists v3: `POST /crm/v3/lists` (create), `POST /crm/v3/lists/search`,
/// `GET /crm/v3/lists/{id}`, `GET /crm/v3/lists/{id}/memberships` and
/// `PUT /crm/v3/lists/{id}/memberships/add|remove` (MANUAL lists only).
enum ListsAPI {
    static func write(_ w: inout JSONWriter, _ list: ListStore.List) {
        w.beginObject()
        w.member("listId", String(list.id))
        w.member("name", list.name)
        w.member("objectTypeId", list.objectTypeId)
        w.member("processingType", list.processingType)
        w.member("size", list.order.count)
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
        let list = ctx.lists.create(
            name: name, objectTypeId: objectTypeId, processingType: processing, now: ctx.now)
        var w = JSONWriter()
        w.beginObject()
        w.key("list")
        write(&w, list)
        w.endObject()
        return .json(200, w)
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
        for list in page { write(&w, list) }
        w.endArray()
        w.member("offset", offset + page.count)
        w.member("hasMore", offset + page.count < all.count)
        w.member("total", all.count)
        w.endObject()
        return .json(200, w)
    }

    static func get(_ id: String, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        let list = try find(id, ctx)
        var w = JSONWriter()
        w.beginObject()
        w.key("list")
        write(&w, list)
        w.endObject()
        return .json(200, w)
    }

    static func memberships(_ request: APIRequest, _ id: String, _ ctx: APIContext) throws(HubSpotErrorBody)
        -> APIReply
    {
        let list = try find(id, ctx)
        let limit = try request.intParameter("limit", default: 100)
        guard (1...250).contains(limit) else { throw .validation("limit must be between 1 and 250, was \(limit)") }
        let start = request.parameter("after").flatMap { Int($0) } ?? 0
        let page = list.order.dropFirst(start).prefix(limit)
        var w = JSONWriter(capacity: 4096)
        w.beginObject()
        w.key("results")
        w.beginArray()
        for record in page {
            w.beginObject()
            w.member("recordId", String(record))
            w.member("membershipTimestamp", Timestamps.iso8601(list.joined[record] ?? list.createdAt))
            w.endObject()
        }
        w.endArray()
        if start + page.count < list.order.count {
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
