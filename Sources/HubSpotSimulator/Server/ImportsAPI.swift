import Foundation
import JSONCore
import Synchronization

/// HubSpot's imports (CRM v3): one multipart upload of a CSV file whose rows are created or
/// upserted by a unique column (`idColumnType: HUBSPOT_ALTERNATE_ID`), its status and its
/// per-row errors. The simulator works the file off at once; its status is DONE when first asked.
final class ImportStore: Sendable {
    struct Import: Sendable {
        var id: String
        var rows: Int
        var created: Int
        var updated: Int
        /// (line number in the file, header is line 1; HubSpot's error type; message).
        var errors: [(line: Int, type: String, message: String)]
    }

    private let imports = Mutex<(next: Int, byId: [String: Import])>((1000, [:]))

    func add(_ make: (String) -> Import) -> Import {
        imports.withLock { state in
            let id = String(state.next)
            state.next += 1
            let made = make(id)
            state.byId[id] = made
            return made
        }
    }

    func get(_ id: String) -> Import? { imports.withLock { $0.byId[id] } }
}

enum ImportsAPI {
    static func create(_ request: APIRequest, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        let parts = Multipart.parts(request.body)
        guard let requestPart = parts["importRequest"], let file = parts["files"] else {
            throw .validation("an import needs the multipart parts importRequest (JSON) and files (the CSV)")
        }
        let description: JSONValue
        do { description = try JSONParser.parse(requestPart) } catch {
            throw .validation("importRequest is not JSON: \(error)")
        }
        guard let page = description["files"]?.arrayValue?.first?["fileImportPage"],
            let mappings = page["columnMappings"]?.arrayValue, !mappings.isEmpty
        else { throw .validation("importRequest.files[0].fileImportPage.columnMappings is required") }
        var columns: [String: String] = [:]
        var idColumn: String?
        var typeId: String?
        for mapping in mappings {
            guard let column = mapping["columnName"]?.stringValue, let property = mapping["propertyName"]?.stringValue
            else { throw .validation("each column mapping needs columnName and propertyName") }
            columns[column] = property
            typeId = typeId ?? mapping["columnObjectTypeId"]?.stringValue
            if mapping["idColumnType"]?.stringValue == "HUBSPOT_ALTERNATE_ID" { idColumn = column }
        }
        guard let typeId, let type = ctx.store.schema.resolve(typeId) else {
            throw .validation("columnObjectTypeId must name an object type, e.g. 0-1")
        }
        let rows = CSV.rows(String(decoding: file, as: UTF8.self))
        guard let header = rows.first else { throw .validation("the file is empty") }
        let now = ctx.now
        var events: [ChangeEvent] = []
        let made = ctx.imports.add { id in
            var made = ImportStore.Import(id: id, rows: max(0, rows.count - 1), created: 0, updated: 0, errors: [])
            for (index, row) in rows.dropFirst().enumerated() {
                let line = index + 2
                var properties: [String: String?] = [:]
                var idValue: String?
                for (column, value) in zip(header, row) {
                    guard let property = columns[column] else { continue }
                    if column == idColumn { idValue = value }
                    if !value.isEmpty { properties[property] = value }
                }
                guard let idColumn, let idValue, !idValue.isEmpty else {
                    made.errors.append((line, "MISSING_REQUIRED_PROPERTY", "the row has no value in its id column"))
                    continue
                }
                let input = ObjectStore.UpdateInput(id: idValue, idProperty: columns[idColumn], properties: properties)
                do {
                    let (results, written) = try ctx.store.upsert(type, [input], atomic: false, now: now)
                    events += written
                    switch results.first {
                    case .success(let snapshot)?:
                        if snapshot.isNew == true { made.created += 1 } else { made.updated += 1 }
                    case .failure(let error)?:
                        made.errors.append((line, error.category ?? "INVALID_VALUE", error.message))
                    case nil: break
                    }
                } catch let error as HubSpotErrorBody {
                    made.errors.append((line, error.category ?? "INVALID_VALUE", error.message))
                } catch {
                    made.errors.append((line, "INVALID_VALUE", "\(error)"))
                }
            }
            return made
        }
        ctx.emit(events)
        return .json(200, render(made))
    }

    static func status(_ id: String, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        guard let found = ctx.imports.get(id) else {
            throw HubSpotErrorBody(status: 404, message: "Import \(id) not found", category: "OBJECT_NOT_FOUND")
        }
        return .json(200, render(found))
    }

    /// `{results: [{errorType, message, sourceData: {lineNumber}}], paging}`, 100 a page.
    static func errors(_ id: String, _ request: APIRequest, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        guard let found = ctx.imports.get(id) else {
            throw HubSpotErrorBody(status: 404, message: "Import \(id) not found", category: "OBJECT_NOT_FOUND")
        }
        let after = Int(request.query.last { $0.0 == "after" }?.1 ?? "") ?? 0
        let limit = min(500, max(1, Int(request.query.last { $0.0 == "limit" }?.1 ?? "") ?? 100))
        let page = found.errors.dropFirst(after).prefix(limit)
        var w = JSONWriter()
        w.beginObject()
        w.key("results")
        w.beginArray()
        for error in page {
            w.beginObject()
            w.member("errorType", error.type)
            w.member("message", error.message)
            w.key("sourceData")
            w.beginObject()
            w.member("lineNumber", error.line)
            w.endObject()
            w.endObject()
        }
        w.endArray()
        if after + page.count < found.errors.count {
            w.key("paging")
            w.beginObject()
            w.key("next")
            w.beginObject()
            w.member("after", String(after + page.count))
            w.endObject()
            w.endObject()
        }
        w.endObject()
        return .json(200, w)
    }

    static func render(_ made: ImportStore.Import) -> JSONWriter {
        var w = JSONWriter()
        w.beginObject()
        w.member("id", made.id)
        w.member("state", "DONE")
        w.key("metadata")
        w.beginObject()
        w.key("counters")
        w.beginObject()
        w.member("TOTAL_ROWS", made.rows)
        w.member("CREATED_OBJECTS", made.created)
        w.member("UPDATED_OBJECTS", made.updated)
        w.member("ERRORS", made.errors.count)
        w.endObject()
        w.endObject()
        w.endObject()
        return w
    }
}

/// `multipart/form-data` parts by name (the boundary is the body's first line).
enum Multipart {
    static func parts(_ body: [UInt8]) -> [String: [UInt8]] {
        let text = String(decoding: body, as: UTF8.self)
        guard let firstLine = text.split(separator: "\r\n", maxSplits: 1).first, firstLine.hasPrefix("--") else {
            return [:]
        }
        var parts: [String: [UInt8]] = [:]
        for chunk in text.components(separatedBy: String(firstLine)).dropFirst() {
            guard let split = chunk.range(of: "\r\n\r\n") else { continue }
            let headers = chunk[..<split.lowerBound]
            var content = String(chunk[split.upperBound...])
            // "\r\n" is one Character in Swift: one removal drops the line break before the next part.
            if content.hasSuffix("\r\n") { content.removeLast() }
            guard let nameRange = headers.range(of: "name=\"") else { continue }
            let name = headers[nameRange.upperBound...].prefix { $0 != "\"" }
            parts[String(name)] = Array(content.utf8)
        }
        return parts
    }
}

/// RFC 4180 CSV: quoted fields, doubled quotes, commas and line breaks inside quotes.
enum CSV {
    static func rows(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var iterator = text.makeIterator()
        var pending: Character?
        while let character = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if character == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(character)
                }
                continue
            }
            switch character {
            case "\"": quoted = true
            case ",":
                row.append(field)
                field = ""
            case "\n", "\r\n":
                row.append(field)
                field = ""
                rows.append(row)
                row = []
            case "\r": break
            default: field.append(character)
            }
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}
