/// A matched API endpoint: its stable name (for statistics and fault rules) and its handler.
struct APIRoute: Sendable {
    typealias Handler = @Sendable (APIRequest, APIContext) throws(HubSpotErrorBody) -> APIReply

    var name: String
    var isSearch = false
    var handler: Handler

    /// Matches HubSpot's CRM paths. Returns a 404/405 body when nothing matches.
    /// The route of `request` among one path's `methods`, or HubSpot's 405 naming the others.
    static func route(
        _ request: APIRequest, _ name: String, _ methods: [String: Handler], search: Bool = false
    ) -> Result<APIRoute, HubSpotErrorBody> {
        guard let handler = methods[request.method] else {
            return .failure(
                HubSpotErrorBody(
                    status: 405,
                    message:
                        "\(request.method) is not supported on \(request.path); use \(methods.keys.sorted().joined(separator: " or "))",
                    category: "VALIDATION_ERROR"))
        }
        return .success(APIRoute(name: name, isSearch: search, handler: handler))
    }

    static func match(_ request: APIRequest) -> Result<APIRoute, HubSpotErrorBody> {
        let s = request.segments
        let method = request.method
        func route(_ name: String, _ methods: [String: Handler], search: Bool = false) -> Result<
            APIRoute, HubSpotErrorBody
        > { APIRoute.route(request, name, methods, search: search) }
        guard s.count >= 3, s[0] == "crm" else { return .failure(unknownPath(request.path)) }
        switch (s[1], s[2], s.count) {
        case ("v3", "exports", 5) where s[3] == "export" && s[4] == "async":
            return route("exports.start", ["POST": { r, c throws(HubSpotErrorBody) in try ExportsAPI.start(r, c) }])
        case ("v3", "exports", 8) where s[3] == "export" && s[4] == "async" && s[5] == "tasks" && s[7] == "status":
            let id = String(s[6])
            return route("exports.status", ["GET": { _, c throws(HubSpotErrorBody) in try ExportsAPI.status(id, c) }])
        case ("v3", "imports", 3):
            return route("imports.create", ["POST": { r, c throws(HubSpotErrorBody) in try ImportsAPI.create(r, c) }])
        case ("v3", "imports", 4):
            let id = String(s[3])
            return route("imports.get", ["GET": { _, c throws(HubSpotErrorBody) in try ImportsAPI.status(id, c) }])
        case ("v3", "imports", 5) where s[4] == "errors":
            let id = String(s[3])
            return route(
                "imports.errors", ["GET": { r, c throws(HubSpotErrorBody) in try ImportsAPI.errors(id, r, c) }])
        case ("v3", "lists", 3):
            return route("lists.create", ["POST": { r, c throws(HubSpotErrorBody) in try ListsAPI.create(r, c) }])
        case ("v3", "lists", 4) where s[3] == "search":
            return route("lists.search", ["POST": { r, c throws(HubSpotErrorBody) in try ListsAPI.search(r, c) }])
        case ("v3", "lists", 4):
            return route(
                method == "DELETE" ? "lists.delete" : "lists.get",
                [
                    "GET": { _, c throws(HubSpotErrorBody) in try ListsAPI.get(String(s[3]), c) },
                    "DELETE": { _, c throws(HubSpotErrorBody) in try ListsAPI.delete(String(s[3]), c) },
                ])
        case ("v3", "lists", 5) where s[4] == "update-list-name":
            return route(
                "lists.rename", ["PUT": { r, c throws(HubSpotErrorBody) in try ListsAPI.rename(r, String(s[3]), c) }])
        case ("v3", "lists", 5) where s[4] == "update-list-filters":
            return route(
                "lists.filters",
                ["PUT": { r, c throws(HubSpotErrorBody) in try ListsAPI.updateFilters(r, String(s[3]), c) }])
        case ("v3", "lists", 5) where s[4] == "memberships":
            return route(
                "lists.memberships",
                ["GET": { r, c throws(HubSpotErrorBody) in try ListsAPI.memberships(r, String(s[3]), c) }])
        case ("v3", "lists", 6) where s[4] == "memberships" && (s[5] == "add" || s[5] == "remove"):
            let add = s[5] == "add"
            return route(
                "lists.memberships.\(s[5])",
                ["PUT": { r, c throws(HubSpotErrorBody) in try ListsAPI.change(r, String(s[3]), add: add, c) }])
        case ("v3", "owners", 3):
            return route(
                "owners.list", ["GET": { r, _ throws(HubSpotErrorBody) in try MetadataAPI.listOwners(r) }])
        case ("v3", "pipelines", 4):
            return route(
                "pipelines.list",
                ["GET": { _, c throws(HubSpotErrorBody) in MetadataAPI.listPipelines(try resolveType(s[3], c)) }])
        case ("v3", "pipelines", 5):
            return route(
                "pipelines.get",
                [
                    "GET": { _, c throws(HubSpotErrorBody) in
                        try MetadataAPI.getPipeline(try resolveType(s[3], c), id: String(s[4]))
                    }
                ])
        case ("v4", "associations", 6) where s[5] == "labels":
            return route(
                method == "GET" ? "associations.labels" : "associations.labels.\(method.lowercased())",
                [
                    "GET": { _, c throws(HubSpotErrorBody) in
                        MetadataAPI.associationLabels(try resolveType(s[3], c), try resolveType(s[4], c), c)
                    },
                    "POST": { r, c throws(HubSpotErrorBody) in
                        try MetadataAPI.createLabel(r, try resolveType(s[3], c), try resolveType(s[4], c), c)
                    },
                    "PUT": { r, c throws(HubSpotErrorBody) in
                        try MetadataAPI.renameLabel(r, try resolveType(s[3], c), try resolveType(s[4], c), c)
                    },
                ])
        case ("v4", "associations", 7) where s[5] == "labels":
            return route(
                "associations.labels.delete",
                [
                    "DELETE": { _, c throws(HubSpotErrorBody) in
                        try MetadataAPI.deleteLabel(
                            String(s[6]), try resolveType(s[3], c), try resolveType(s[4], c), c)
                    }
                ])
        case ("v3", "objects", 4):
            return route(
                method == "POST" ? "objects.create" : "objects.list",
                [
                    "GET": { r, c throws(HubSpotErrorBody) in try ObjectsAPI.list(r, try resolveType(s[3], c), c) },
                    "POST": { r, c throws(HubSpotErrorBody) in try ObjectsAPI.create(r, try resolveType(s[3], c), c) },
                ])
        case ("v3", "objects", 5) where s[4] == "search" && method == "POST":
            return route(
                "objects.search",
                ["POST": { r, c throws(HubSpotErrorBody) in try ObjectsAPI.search(r, try resolveType(s[3], c), c) }],
                search: true)
        case ("v3", "objects", 5) where s[4] == "merge" && method == "POST":
            return route(
                "objects.merge",
                ["POST": { r, c throws(HubSpotErrorBody) in try ObjectsAPI.merge(r, try resolveType(s[3], c), c) }])
        case ("v3", "objects", 5):
            let id = String(s[4])
            let name =
                ["GET": "objects.get", "PATCH": "objects.update", "DELETE": "objects.archive"][method] ?? "objects.get"
            return route(
                name,
                [
                    "GET": { r, c throws(HubSpotErrorBody) in try ObjectsAPI.get(r, try resolveType(s[3], c), id: id, c)
                    },
                    "PATCH": { r, c throws(HubSpotErrorBody) in
                        try ObjectsAPI.update(r, try resolveType(s[3], c), id: id, c)
                    },
                    "DELETE": { r, c throws(HubSpotErrorBody) in ObjectsAPI.archive(try resolveType(s[3], c), id: id, c)
                    },
                ])
        case ("v3", "objects", 6) where s[4] == "batch":
            let handlers: [Substring: Handler] = [
                "read": { r, c throws(HubSpotErrorBody) in try ObjectsAPI.batchRead(r, try resolveType(s[3], c), c) },
                "create": { r, c throws(HubSpotErrorBody) in try ObjectsAPI.batchCreate(r, try resolveType(s[3], c), c)
                },
                "update": { r, c throws(HubSpotErrorBody) in try ObjectsAPI.batchUpdate(r, try resolveType(s[3], c), c)
                },
                "upsert": { r, c throws(HubSpotErrorBody) in
                    try ObjectsAPI.batchUpdate(r, try resolveType(s[3], c), c, upsert: true)
                },
                "archive": { r, c throws(HubSpotErrorBody) in
                    try ObjectsAPI.batchArchive(r, try resolveType(s[3], c), c)
                },
            ]
            guard let handler = handlers[s[5]] else { return .failure(unknownPath(request.path)) }
            return route("objects.batch.\(s[5])", ["POST": handler])
        case ("v3", "properties", 4):
            return route(
                "properties.list",
                ["GET": { _, c throws(HubSpotErrorBody) in PropertiesAPI.list(try resolveType(s[3], c)) }])
        case ("v3", "properties", 5):
            return route(
                "properties.get",
                [
                    "GET": { _, c throws(HubSpotErrorBody) in
                        try PropertiesAPI.get(try resolveType(s[3], c), name: String(s[4]))
                    }
                ])
        case ("v4", "objects", 7) where s[5] == "associations":
            return route(
                "associations.list",
                [
                    "GET": { r, c throws(HubSpotErrorBody) in
                        try AssociationsAPI.list(r, try resolveType(s[3], c), String(s[4]), try resolveType(s[6], c), c)
                    }
                ])
        case ("v4", "objects", 9) where s[5] == "associations" && s[6] == "default":
            return route(
                "associations.createDefault",
                [
                    "PUT": { _, c throws(HubSpotErrorBody) in
                        try AssociationsAPI.createDefault(
                            try resolveType(s[3], c), String(s[4]), try resolveType(s[7], c), String(s[8]), c)
                    }
                ])
        case ("v4", "objects", 8) where s[5] == "associations":
            let name = method == "DELETE" ? "associations.archive" : "associations.create"
            return route(
                name,
                [
                    "PUT": { r, c throws(HubSpotErrorBody) in
                        try AssociationsAPI.createLabelled(
                            r, try resolveType(s[3], c), String(s[4]), try resolveType(s[6], c), String(s[7]), c)
                    },
                    "DELETE": { _, c throws(HubSpotErrorBody) in
                        AssociationsAPI.remove(
                            try resolveType(s[3], c), String(s[4]), try resolveType(s[6], c), String(s[7]), c)
                    },
                ])
        case ("v4", "associations", 7) where s[5] == "batch",
            ("v4", "associations", 8) where s[5] == "batch" && s[6] == "associate" && s[7] == "default":
            let operation = s.count == 8 ? "associate.default" : String(s[6])
            let handlers: [String: Handler] = [
                "read": { r, c throws(HubSpotErrorBody) in
                    try AssociationsAPI.batchRead(r, try resolveType(s[3], c), try resolveType(s[4], c), c)
                },
                "create": { r, c throws(HubSpotErrorBody) in
                    try AssociationsAPI.batchCreate(r, try resolveType(s[3], c), try resolveType(s[4], c), c)
                },
                "archive": { r, c throws(HubSpotErrorBody) in
                    try AssociationsAPI.batchArchive(r, try resolveType(s[3], c), try resolveType(s[4], c), c)
                },
                "associate.default": { r, c throws(HubSpotErrorBody) in
                    try AssociationsAPI.batchAssociateDefault(r, try resolveType(s[3], c), try resolveType(s[4], c), c)
                },
            ]
            guard let handler = handlers[operation] else { return .failure(unknownPath(request.path)) }
            return route("associations.batch.\(operation)", ["POST": handler])
        default:
            return .failure(unknownPath(request.path))
        }
    }

    @Sendable static func resolveType(_ name: Substring, _ ctx: APIContext) throws(HubSpotErrorBody)
        -> ObjectTypeDefinition
    {
        guard let type = ctx.store.schema.resolve(String(name)) else { throw .unknownObjectType(String(name)) }
        return type
    }

    static func unknownPath(_ path: String) -> HubSpotErrorBody {
        HubSpotErrorBody(
            status: 404, message: "No endpoint at \(path) in this HubSpot simulator", category: "OBJECT_NOT_FOUND")
    }
}
