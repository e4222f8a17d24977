import HTTPTypes
import Hummingbird

/// Under `/crm/`, what the router refuses itself — no such path (404), another method (405) —
/// answered in HubSpot's error shape, so that an SDK parses it like HubSpot's own.
public struct HubSpotErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where request.uri.path.hasPrefix("/crm/") {
            let allowed = OpenAPIDocument.methods(servedOn: request.uri.path)
            if error.status == .notFound, !allowed.isEmpty {
                var answer = RESTError(
                    .methodNotAllowed,
                    "\(request.method) is not supported on \(request.uri.path); use \(allowed.joined(separator: " or "))",
                    category: "VALIDATION_ERROR")
                answer.extraHeaders = [(.allow, allowed.joined(separator: ", "))]
                return answer.response
            }
            let answer: RESTError =
                switch error.status {
                case .notFound where Self.isLegacyAssociationPath(request.uri.path):
                    RESTError(
                        .notFound,
                        "HubSpot's v3 associations API is legacy and the gateway does not serve it; use v4: GET|PUT|DELETE /crm/v4/objects/{type}/{id}/associations/{toType}[/{toId}] and POST /crm/v4/associations/{type}/{toType}/batch/{read,create,archive}",
                        category: "OBJECT_NOT_FOUND")
                case .notFound:
                    RESTError(
                        .notFound,
                        "The gateway serves no \(request.method) \(request.uri.path); GET /openapi.json lists the HubSpot paths it serves",
                        category: "OBJECT_NOT_FOUND")
                case .methodNotAllowed:
                    RESTError(
                        .methodNotAllowed, "\(request.method) is not supported on \(request.uri.path)",
                        category: "VALIDATION_ERROR")
                default:
                    RESTError(error.status, error.body ?? "\(error.status)", category: "VALIDATION_ERROR")
                }
            return answer.response
        }
    }

    /// `/crm/v3/associations/…` and `/crm/v3/objects/{type}/{id}/associations/…`.
    static func isLegacyAssociationPath(_ path: String) -> Bool {
        let segments = path.split(separator: "/")
        guard segments.count >= 3, segments[0] == "crm", segments[1] == "v3" else { return false }
        return segments[2] == "associations"
            || (segments[2] == "objects" && segments.dropFirst(5).first == "associations")
    }
}
