import JSONCore

/// HubSpot's CRM exports (`/crm/v3/exports/export/async`, dated `/crm/exports/{version}/…`):
/// start a task, read its status, and download its CSV from the URL the status hands out. The
/// download is not an API call: no token, no rate limit, served with byte ranges.
enum ExportsAPI {
    static func start(_ request: APIRequest, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        let body = try request.json()
        guard let exportType = body["exportType"]?.stringValue, exportType == "VIEW" else {
            throw .validation("exportType must be VIEW (the simulator exports views, not lists)")
        }
        guard body["format"]?.stringValue == "CSV" else {
            throw .validation("format must be CSV (the simulator writes no XLS or XLSX)")
        }
        guard try JSONField.optionalString(body["exportName"], "exportName")?.isEmpty == false else {
            throw .validation("exportName is required")
        }
        guard let typeName = try JSONField.optionalString(body["objectType"], "objectType") else {
            throw .validation("objectType is required")
        }
        guard let type = ctx.store.schema.resolve(typeName) ?? ctx.store.schema.resolve(typeName.lowercased() + "s")
        else { throw .validation("objectType \(typeName) is not an object type of this account") }
        let properties = try JSONField.stringList(body["objectProperties"], "objectProperties") ?? []
        guard !properties.isEmpty else { throw .validation("objectProperties must name at least one property") }
        for name in properties where type.properties[name] == nil {
            throw .validation("objectProperties: \(name) is not a property of \(type.name)")
        }
        let task = try ctx.exports.start(type, properties: properties, now: ctx.now)
        var w = JSONWriter()
        w.beginObject()
        w.member("id", task.id)
        w.key("links")
        w.beginObject()
        w.member("status", "\(ctx.baseURL)/crm/v3/exports/export/async/tasks/\(task.id)/status")
        w.endObject()
        w.endObject()
        return .json(202, w)
    }

    static func status(_ id: String, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        let now = ctx.now
        guard let (task, token) = ctx.exports.read(id, now: now, write: { file($0, ctx) }) else {
            throw HubSpotErrorBody(status: 404, message: "Export \(id) not found", category: "OBJECT_NOT_FOUND")
        }
        var w = JSONWriter()
        w.beginObject()
        w.member("status", task.status(at: now))
        if let token { w.member("result", "\(ctx.baseURL)/_files/exports/\(task.id)/\(token)") }
        w.member("numErrors", 0)
        w.member("requestedAt", Timestamps.iso8601(task.requestedAt))
        if now >= task.startedAt { w.member("startedAt", Timestamps.iso8601(task.startedAt)) }
        if token != nil { w.member("completedAt", Timestamps.iso8601(task.completedAt)) }
        w.endObject()
        return .json(200, w)
    }

    /// The file: a header row of internal names (HubSpot's `exportInternalValuesOptions: NAMES`;
    /// the simulator knows no labels), then every live record by id, `hs_object_id` first.
    static func file(_ task: ExportTasks.Task, _ ctx: APIContext) -> (file: [UInt8], rows: Int) {
        let columns = ["hs_object_id"] + task.properties.filter { $0 != "hs_object_id" }
        var out: [UInt8] = []
        func row(_ fields: [String]) {
            for (index, field) in fields.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                if field.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
                    out.append(UInt8(ascii: "\""))
                    for byte in field.utf8 {
                        if byte == 0x22 { out.append(0x22) }
                        out.append(byte)
                    }
                    out.append(UInt8(ascii: "\""))
                } else {
                    out.append(contentsOf: field.utf8)
                }
            }
            out.append(contentsOf: "\r\n".utf8)
        }
        row(columns)
        let rows = ctx.store.withRecords(task.objectType) { ids, records in
            var count = 0
            for id in ids {
                guard let record = records[id], !record.archived else { continue }
                row(columns.map { $0 == "hs_object_id" ? String(record.id) : record.properties[$0] ?? "" })
                count += 1
            }
            return count
        }
        return (out, rows)
    }

    /// `GET /_files/exports/{id}/{token}`, with `Range: bytes=a-b` (206) or without (200).
    static func download(path: String, range header: String?, _ ctx: APIContext) -> APIReply {
        let parts = path.split(separator: "/")
        guard parts.count == 4 else { return APIReply(status: 404, body: Array("no such export file".utf8)) }
        var closed: ClosedRange<Int>?
        var openEnded: Int?
        if let header {
            let spec =
                header.hasPrefix("bytes=")
                ? header.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false) : []
            guard spec.count == 2, let lower = Int(spec[0]) else {
                return APIReply(status: 416, body: Array("Range must be bytes=first-last or bytes=first-".utf8))
            }
            if let upper = Int(spec[1]) {
                guard upper >= lower else {
                    return APIReply(status: 416, body: Array("Range's last byte precedes its first".utf8))
                }
                closed = lower...upper
            } else {
                openEnded = lower
            }
        }
        switch ctx.exports.download(
            String(parts[2]), token: String(parts[3]), range: closed, openEnded: openEnded, now: ctx.now)
        {
        case .notFound:
            return APIReply(status: 404, body: Array("no such export file".utf8))
        case .expired:
            // As a signed storage URL: refused once it has expired; a status read hands out another.
            return APIReply(status: 403, body: Array("the download URL has expired".utf8))
        case .unsatisfiable(let total):
            return APIReply(status: 416, body: nil, headers: [("Content-Range", "bytes */\(total)")])
        case .bytes(let slice, let total):
            var reply = APIReply(status: header == nil ? 200 : 206, body: Array(slice))
            reply.headers.append(("Content-Type", "text/csv; charset=utf-8"))
            reply.headers.append(("Accept-Ranges", "bytes"))
            if header != nil, !slice.isEmpty {
                reply.headers.append(("Content-Range", "bytes \(slice.startIndex)-\(slice.endIndex - 1)/\(total)"))
            }
            return reply
        }
    }
}
