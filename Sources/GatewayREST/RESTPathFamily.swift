import Hummingbird

/// Where each HubSpot API's routes start under `/crm/`, on the numeric paths (`v3/objects`,
/// `v4/associations`) or HubSpot's dated ones (`objects/{version}`, `associations/{version}`):
/// the same handlers serve both, so a service whose SDK moved to dated paths and one still on
/// the numeric ones reach the same records (docs/hubspot-versions.md).
struct RESTPathFamily: Sendable {
    var objects: String
    var recordAssociations: String
    var associations: String
    var properties: String
    var pipelines: String
    var owners: String

    static let legacy = RESTPathFamily(
        objects: "v3/objects", recordAssociations: "v4/objects", associations: "v4/associations",
        properties: "v3/properties", pipelines: "v3/pipelines", owners: "v3/owners")

    /// The dated paths, the version a path parameter (checked by `DatedVersionMiddleware`).
    static let dated = RESTPathFamily(
        objects: "objects/:apiVersion", recordAssociations: "objects/:apiVersion",
        associations: "associations/:apiVersion", properties: "properties/:apiVersion",
        pipelines: "pipelines/:apiVersion", owners: "owners/:apiVersion")

    /// The dated versions the endpoint serves.
    static let datedVersions: Set<String> = ["2026-03", "2026-09"]

    /// The version of a request's path: a date (`2026-09`), or `legacy` for any other path.
    static func version(ofPath path: String) -> String {
        let segments = path.split(separator: "/")
        guard segments.count >= 3, segments[0] == "crm" else { return "legacy" }
        let candidate = segments[2]
        return candidate.count == 7 && candidate.dropFirst(4).first == "-" ? String(candidate) : "legacy"
    }
}

/// Answers HubSpot's 404 for a dated version the endpoint does not serve (a beta, a typo).
struct DatedVersionMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let version = context.parameters.get("apiVersion") ?? ""
        guard RESTPathFamily.datedVersions.contains(version) else {
            return RESTError(
                .notFound,
                "This gateway serves HubSpot's API versions \(RESTPathFamily.datedVersions.sorted().joined(separator: ", ")) and the numeric paths (/crm/v3, /crm/v4); \(version) is not one of them",
                category: "OBJECT_NOT_FOUND"
            ).response
        }
        return try await next(request, context)
    }
}
