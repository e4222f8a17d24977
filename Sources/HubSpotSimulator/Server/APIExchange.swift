import JSONCore

/// A request as the API handlers see it: method, path segments, query and body bytes.
struct APIRequest: Sendable {
    var method: String
    var path: String
    var segments: [Substring]
    var query: [(String, String)]
    var body: [UInt8]
    /// The scopes of the caller's client-credentials token (nil: a private-app or install token).
    var bearerScopes: Set<String>? = nil
    /// The dated API version of the path (`2026-09`; nil: a numeric path, `/crm/v3/…`).
    var version: String? = nil

    /// Every value of a query parameter, comma-separated lists split (`properties=a,b&properties=c`).
    func listParameter(_ name: String) -> [String]? {
        let values = query.filter { $0.0 == name }.flatMap {
            $0.1.split(separator: ",").map { String($0).trimmingSpaces() }
        }.filter { !$0.isEmpty }
        return query.contains { $0.0 == name } ? values : nil
    }

    func parameter(_ name: String) -> String? { query.last { $0.0 == name }?.1 }

    func boolParameter(_ name: String) throws(HubSpotErrorBody) -> Bool {
        guard let value = parameter(name) else { return false }
        switch value.lowercased() {
        case "true": return true
        case "false", "": return false
        default: throw .validation("\(name) must be true or false, was \(value)")
        }
    }

    func intParameter(_ name: String, default defaultValue: Int) throws(HubSpotErrorBody) -> Int {
        guard let value = parameter(name) else { return defaultValue }
        guard let number = Int(value), number >= 0 else {
            throw .validation("\(name) must be a non-negative integer, was \(value)")
        }
        return number
    }

    /// The body as JSON; an empty or malformed body is HubSpot's 400.
    func json() throws(HubSpotErrorBody) -> JSONValue {
        do {
            return try JSONParser.parse(body)
        } catch {
            throw .invalidJSON(error.description)
        }
    }

    static func parseQuery(_ query: Substring) -> [(String, String)] {
        query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (percentDecode(parts[0]), parts.count > 1 ? percentDecode(parts[1]) : "")
        }
    }

    /// Path segments, percent-decoded (`by%40mail.com` → `by@mail.com`; `+` stays `+`).
    static func pathSegments(_ path: String) -> [Substring] {
        path.split(separator: "/").map { $0.contains("%") ? Substring(percentDecode($0, plusIsSpace: false)) : $0 }
    }

    static func percentDecode(_ text: Substring, plusIsSpace: Bool = true) -> String {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "+"), plusIsSpace {
                out.append(0x20)
            } else if byte == UInt8(ascii: "%"), bytes.count >= 2,
                let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
            {
                out.append(value)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// What a handler answers: a status, a JSON body (or none) and extra headers.
struct APIReply: Sendable {
    var status: Int
    var body: [UInt8]?
    var headers: [(String, String)] = []
    /// An error answer; rendered by the responder so its body carries the response's correlation id.
    var error: HubSpotErrorBody?

    static func json(_ status: Int, _ writer: JSONWriter) -> APIReply { APIReply(status: status, body: writer.bytes) }
    static let noContent = APIReply(status: 204, body: nil)
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars.removeFirst() }
        while scalars.last == " " { scalars.removeLast() }
        return String(scalars)
    }
}

/// Reads typed members out of request JSON, answering wrong types with HubSpot-style 400s.
enum JSONField {
    static func object(_ value: JSONValue?, _ name: String) throws(HubSpotErrorBody) -> JSONValue {
        guard let value, case .object = value else { throw .validation("\(name) must be a JSON object") }
        return value
    }

    static func array(_ value: JSONValue?, _ name: String) throws(HubSpotErrorBody) -> [JSONValue] {
        guard let array = value?.arrayValue else { throw .validation("\(name) must be a JSON array") }
        return array
    }

    /// An id: HubSpot accepts ids as strings or numbers.
    static func id(_ value: JSONValue?, _ name: String) throws(HubSpotErrorBody) -> String {
        guard let value else { throw .validation("\(name) is required") }
        switch value {
        case .string(let s) where !s.isEmpty: return s
        case .number(let n) where n == n.rounded(): return formatNumber(n)
        default: throw .validation("\(name) must be an id (a string or an integer), was \(value.typeName)")
        }
    }

    static func optionalString(_ value: JSONValue?, _ name: String) throws(HubSpotErrorBody) -> String? {
        guard let value, !value.isNull else { return nil }
        guard let string = value.stringValue else {
            throw .validation("\(name) must be a string, was \(value.typeName)")
        }
        return string
    }

    static func stringList(_ value: JSONValue?, _ name: String) throws(HubSpotErrorBody) -> [String]? {
        guard let value, !value.isNull else { return nil }
        guard let array = value.arrayValue else { throw .validation("\(name) must be an array of strings") }
        var out: [String] = []
        for element in array {
            guard let string = element.stringValue else {
                throw .validation("\(name) must be an array of strings, found \(element.typeName)")
            }
            out.append(string)
        }
        return out
    }

    /// A `properties` map whose values are strings, numbers, booleans or null.
    static func properties(_ value: JSONValue?, _ name: String = "properties") throws(HubSpotErrorBody) -> [String:
        String?]
    {
        guard let value, !value.isNull else { return [:] }
        guard let members = value.objectValue else {
            throw .validation("\(name) must be an object of property names to values")
        }
        var out: [String: String?] = [:]
        for (key, element) in members {
            if element.isNull {
                out[key] = .some(nil)
            } else if let text = element.propertyText {
                out[key] = text
            } else {
                throw .validation("\(name).\(key) must be a string, number, boolean or null, was \(element.typeName)")
            }
        }
        return out
    }
}
