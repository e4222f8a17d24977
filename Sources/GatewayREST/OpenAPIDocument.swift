import Foundation
import HTTPTypes
import Hummingbird
import JSONCore

/// The OpenAPI 3.1 document of exactly the HubSpot paths this gateway serves, made from the
/// routes registered on the router (so it cannot drift from them) and the summary of each.
enum OpenAPIDocument {
    /// What each served route does, by "METHOD /path" (parameters as `{name}`, as the router
    /// describes its routes and OpenAPI writes them): each numeric path and its dated twin.
    static let summaries: [String: String] = numericSummaries.reduce(into: [:]) { summaries, entry in
        summaries[entry.key] = entry.value
        summaries[datedKey(entry.key)] = entry.value + " (HubSpot's dated path: 2026-03 or 2026-09)"
    }

    /// The dated twin of a numeric route's key (`/crm/v3/objects/…` → `/crm/objects/{apiVersion}/…`).
    static func datedKey(_ key: String) -> String {
        let legacy = RESTPathFamily.legacy
        let dated = RESTPathFamily.dated
        for (from, to) in [
            (legacy.objects, dated.objects), (legacy.recordAssociations, dated.recordAssociations),
            (legacy.associations, dated.associations), (legacy.properties, dated.properties),
            (legacy.pipelines, dated.pipelines), (legacy.owners, dated.owners),
        ] {
            let prefix = " /crm/" + from
            guard let range = key.range(of: prefix),
                key[range.upperBound...].isEmpty || key[range.upperBound...].hasPrefix("/")
            else { continue }
            return key.replacingCharacters(
                in: range, with: " /crm/" + to.replacingOccurrences(of: ":apiVersion", with: "{apiVersion}"))
        }
        return key
    }

    private static let numericSummaries: [String: String] = [
        "GET /crm/v3/objects/{type}": "A page of records (limit, after, properties, archived)",
        "POST /crm/v3/objects/{type}": "Create a record (properties, associations with types)",
        "GET /crm/v3/objects/{type}/{id}":
            "Read a record through the shared cache (properties, idProperty); ETag, If-None-Match",
        "PATCH /crm/v3/objects/{type}/{id}": "Update a record (upsert with idProperty)",
        "DELETE /crm/v3/objects/{type}/{id}": "Archive a record",
        "POST /crm/v3/objects/{type}/search": "Search records (HubSpot's search body)",
        "POST /crm/v3/objects/{type}/batch/{operation}":
            "Batch read, create, update, upsert or archive (≤ 100 inputs; 207 on per-input errors)",
        "GET /crm/v4/objects/{type}/{id}/associations/{toType}": "A record's associations to a type",
        "PUT /crm/v4/objects/{type}/{id}/associations/default/{toType}/{toId}": "Associate with HubSpot's default type",
        "PUT /crm/v4/objects/{type}/{id}/associations/{toType}/{toId}": "Associate with labelled types",
        "DELETE /crm/v4/objects/{type}/{id}/associations/{toType}/{toId}":
            "Remove every association between two records",
        "POST /crm/v4/associations/{type}/{toType}/batch/read": "Batch read associations (≤ 1,000 ids)",
        "POST /crm/v4/associations/{type}/{toType}/batch/create": "Batch associate with labelled types",
        "POST /crm/v4/associations/{type}/{toType}/batch/associate/default": "Batch associate with the default type",
        "POST /crm/v4/associations/{type}/{toType}/batch/archive": "Batch remove associations",
        "GET /crm/v4/associations/{type}/{toType}/labels":
            "The association types between two object types, both HubSpot's and labelled (metadata cache)",
        "POST /crm/v4/associations/{type}/{toType}/labels": "Create an association label (and its inverse)",
        "PUT /crm/v4/associations/{type}/{toType}/labels": "Rename an association label",
        "DELETE /crm/v4/associations/{type}/{toType}/labels/{typeId}": "Delete an association label",
        "GET /crm/v3/properties/{type}": "A type's properties (metadata cache)",
        "GET /crm/v3/properties/{type}/{name}": "One property (metadata cache)",
        "GET /crm/v3/pipelines/{type}": "A type's pipelines and stages (metadata cache)",
        "GET /crm/v3/pipelines/{type}/{pipelineId}": "One pipeline (metadata cache)",
        "GET /crm/v3/owners": "Owners (limit, after, email, archived; metadata cache)",
    ]

    /// The methods served on a concrete path (its segments matched against the routes' templates).
    static func methods(servedOn path: String) -> [String] {
        let segments = path.split(separator: "/")
        return summaries.keys.compactMap { key -> String? in
            let parts = key.split(separator: " ", maxSplits: 1)
            let template = parts[1].split(separator: "/")
            guard template.count == segments.count,
                zip(template, segments).allSatisfy({ $0.hasPrefix("{") || $0 == $1 })
            else { return nil }
            return String(parts[0])
        }.sorted()
    }

    /// "METHOD /path" of a route.
    static func key(_ method: HTTPRequest.Method, _ path: String) -> String {
        "\(method.rawValue) \(path.hasPrefix("/") ? path : "/" + path)"
    }

    /// The document, for the served routes under `/crm/`.
    static func make(_ routes: [(method: HTTPRequest.Method, path: String)]) -> [UInt8] {
        var byPath: [String: [(String, String)]] = [:]
        for (method, path) in routes {
            let normalized = path.hasPrefix("/") ? path : "/" + path
            guard normalized.hasPrefix("/crm/") else { continue }
            let openAPIPath = normalized.split(separator: "/").map {
                $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0)
            }.joined(separator: "/")
            byPath["/" + openAPIPath, default: []].append(
                (method.rawValue.lowercased(), summaries[key(method, normalized)] ?? ""))
        }
        var w = JSONWriter(capacity: 8192)
        w.beginObject()
        w.member("openapi", "3.1.0")
        w.key("info")
        w.beginObject()
        w.member("title", "hubspot-gateway: HubSpot's CRM paths")
        w.member("version", "v1")
        w.member(
            "description",
            "The subset of HubSpot's CRM API the gateway serves, with HubSpot's request and response shapes. Authorization: Bearer <caller key>."
        )
        w.endObject()
        w.key("paths")
        w.beginObject()
        for (path, operations) in byPath.sorted(by: { $0.key < $1.key }) {
            w.key(path)
            w.beginObject()
            for (method, summary) in operations.sorted(by: { $0.0 < $1.0 }) {
                w.key(method)
                w.beginObject()
                w.member("summary", summary)
                let parameters = path.split(separator: "/").filter { $0.hasPrefix("{") }.map {
                    $0.dropFirst().dropLast()
                }
                if !parameters.isEmpty {
                    w.key("parameters")
                    w.beginArray()
                    for parameter in parameters {
                        w.beginObject()
                        w.member("name", String(parameter))
                        w.member("in", "path")
                        w.member("required", true)
                        w.key("schema")
                        w.beginObject()
                        w.member("type", "string")
                        w.endObject()
                        w.endObject()
                    }
                    w.endArray()
                }
                w.key("responses")
                w.beginObject()
                w.key("default")
                w.beginObject()
                w.member("description", "HubSpot's answer shape; errors as HubSpot's error body")
                w.endObject()
                w.endObject()
                w.endObject()
            }
            w.endObject()
        }
        w.endObject()
        w.endObject()
        return w.bytes
    }
}

extension CRMObjectRoutes {
    /// Serves `GET /openapi.json`: call after every other route is registered.
    public func registerOpenAPI<Context: RequestContext>(on router: Router<Context>) {
        let document = OpenAPIDocument.make(router.routes.map { ($0.method, $0.path.description) })
        router.get("openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: document)))
        }
    }

    /// The routes registered and not described, and the descriptions of no route (both empty
    /// when the document matches the routes).
    public static func undocumented<Context: RequestContext>(_ router: Router<Context>) -> (
        routes: [String], descriptions: [String]
    ) {
        let registered = Set(
            router.routes.map { OpenAPIDocument.key($0.method, $0.path.description) }.filter { $0.contains(" /crm/") })
        let described = Set(OpenAPIDocument.summaries.keys)
        return (registered.subtracting(described).sorted(), described.subtracting(registered).sorted())
    }
}
