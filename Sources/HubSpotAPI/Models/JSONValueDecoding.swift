import Foundation
import Time
import JSONCore

/// Types the client reads straight from a parsed `JSONValue`: the records, pages and batch
/// answers that every read returns, where Foundation's `JSONDecoder` would cost three times as
/// much per record. Unknown fields are ignored, as with `Decodable`.
protocol JSONValueDecodable {
    init(json: JSONValue) throws(JSONShapeError)
}

/// A 2xx body whose shape is not what HubSpot documents.
struct JSONShapeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension JSONValue {
    func members(_ what: String) throws(JSONShapeError) -> [(key: String, value: JSONValue)] {
        guard case .object(let members) = self else { throw JSONShapeError("\(what) is a \(typeName), not an object") }
        return members
    }

    func elements(_ what: String) throws(JSONShapeError) -> [JSONValue] {
        guard case .array(let elements) = self else { throw JSONShapeError("\(what) is a \(typeName), not an array") }
        return elements
    }

    /// Ids arrive as strings, and in a few places as numbers.
    func idText(_ what: String) throws(JSONShapeError) -> String {
        if case .string(let text) = self { return text }
        if case .number(let n) = self { return formatNumber(n) }
        throw JSONShapeError("\(what) is a \(typeName), not an id")
    }

    func date(_ what: String) throws(JSONShapeError) -> Date? {
        guard case .string(let text) = self else {
            if isNull { return nil }
            throw JSONShapeError("\(what) is a \(typeName), not a timestamp")
        }
        if let date = HubSpotTimestamp.parse(text) { return date }
        throw JSONShapeError("\(what) is not an ISO-8601 timestamp: \(text)")
    }
}

extension HubSpotObject: JSONValueDecodable {
    init(json: JSONValue) throws(JSONShapeError) {
        var id: String?
        self.init(id: "", properties: [:])
        for (key, value) in try json.members("record") {
            switch key {
            case "id": id = try value.idText("id")
            case "properties":
                let members = try value.members("properties")
                properties.reserveCapacity(members.count)
                for (name, property) in members {
                    properties[name] = property.isNull ? .some(nil) : property.propertyText
                }
            case "propertiesWithHistory":
                var history: [String: [PropertyVersion]] = [:]
                for (name, versions) in try value.members("propertiesWithHistory") {
                    history[name] = try versions.elements(name).map {
                        (version: JSONValue) throws(JSONShapeError) -> PropertyVersion in
                        var parsed = PropertyVersion(value: "", timestamp: nil, sourceType: nil, sourceId: nil)
                        for (field, content) in try version.members(name) {
                            switch field {
                            case "value": parsed.value = content.propertyText ?? ""
                            case "timestamp": parsed.timestamp = try content.date("timestamp")
                            case "sourceType": parsed.sourceType = content.stringValue
                            case "sourceId": parsed.sourceId = content.propertyText
                            default: break
                            }
                        }
                        return parsed
                    }
                }
                propertiesWithHistory = history
            case "createdAt": createdAt = try value.date("createdAt")
            case "updatedAt": updatedAt = try value.date("updatedAt")
            case "archivedAt": archivedAt = try value.date("archivedAt")
            case "archived": archived = value.boolValue
            case "new": new = value.boolValue
            case "associations":
                var associations: [String: AssociationIds] = [:]
                for (type, block) in try value.members("associations") {
                    var items: [AssociationIds.Item] = []
                    var paging: Paging?
                    for (field, content) in try block.members(type) {
                        if field == "results" {
                            for item in try content.elements("\(type).results") {
                                var itemId = ""
                                var itemType = ""
                                for (name, text) in try item.members("association") {
                                    if name == "id" { itemId = try text.idText("association id") }
                                    if name == "type" { itemType = text.stringValue ?? "" }
                                }
                                items.append(AssociationIds.Item(id: itemId, type: itemType))
                            }
                        } else if field == "paging" {
                            paging = try Paging(json: content)
                        }
                    }
                    associations[type] = AssociationIds(results: items, paging: paging)
                }
                self.associations = associations
            default: break
            }
        }
        guard let id else { throw JSONShapeError("record has no id") }
        self.id = id
    }
}

extension Paging: JSONValueDecodable {
    init(json: JSONValue) throws(JSONShapeError) {
        next = nil
        guard !json.isNull else { return }
        for (key, value) in try json.members("paging") where key == "next" {
            var after: String?
            var link: String?
            for (field, content) in try value.members("paging.next") {
                if field == "after" { after = try content.idText("paging.next.after") }
                if field == "link" { link = content.stringValue }
            }
            if let after { next = Next(after: after, link: link) }
        }
    }
}

/// Reads `results` (records), `paging`, and any other top-level fields a caller asks for.
private func records(_ json: JSONValue, _ what: String) throws(JSONShapeError) -> (
    results: [HubSpotObject], paging: Paging?, others: [String: JSONValue]
) {
    var results: [HubSpotObject] = []
    var paging: Paging?
    var others: [String: JSONValue] = [:]
    for (key, value) in try json.members(what) {
        switch key {
        case "results":
            let elements = try value.elements("\(what).results")
            results.reserveCapacity(elements.count)
            for element in elements { results.append(try HubSpotObject(json: element)) }
        case "paging": paging = try Paging(json: value)
        default: others[key] = value
        }
    }
    return (results, paging, others)
}

extension ObjectPage: JSONValueDecodable {
    init(json: JSONValue) throws(JSONShapeError) {
        let (results, paging, _) = try records(json, "page")
        self.results = results
        self.paging = paging
    }
}

extension SearchPage: JSONValueDecodable {
    init(json: JSONValue) throws(JSONShapeError) {
        let (results, paging, others) = try records(json, "search page")
        self.results = results
        self.paging = paging
        guard case .number(let total)? = others["total"] else { throw JSONShapeError("search page has no total") }
        self.total = Int(total)
    }
}

extension BatchItemError: JSONValueDecodable {
    init(json: JSONValue) throws(JSONShapeError) {
        message = ""
        for (key, value) in try json.members("batch error") {
            switch key {
            case "status": status = value.stringValue
            case "category": category = value.stringValue
            case "subCategory": subCategory = value.stringValue
            case "message": message = value.stringValue ?? ""
            case "context":
                var context: [String: [String]] = [:]
                for (name, list) in try value.members("context") {
                    context[name] = (list.arrayValue ?? []).compactMap(\.propertyText)
                }
                self.context = context
            case "errors":
                errors = (value.arrayValue ?? []).map { detail in
                    ErrorDetail(
                        message: detail["message"]?.stringValue ?? "", code: detail["code"]?.stringValue,
                        subCategory: detail["subCategory"]?.stringValue, in: detail["in"]?.stringValue, context: nil)
                }
            default: break
            }
        }
    }
}
