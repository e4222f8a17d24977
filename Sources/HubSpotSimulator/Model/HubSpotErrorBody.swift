import Foundation
import JSONCore

/// An error as HubSpot answers it: the status code and the JSON body its clients parse.
struct HubSpotErrorBody: Error, Sendable {
    var status: Int
    var message: String
    var category: String?
    var subCategory: String?
    /// `errorType` and `policyName` replace `category` in 429 bodies.
    var errorType: String?
    var policyName: String?
    var context: [(String, [String])] = []
    var errors: [JSONValue] = []
    var extraHeaders: [(String, String)] = []

    func render(correlationId: String) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.member("status", "error")
        w.member("message", message)
        w.member("correlationId", correlationId)
        if let category { w.member("category", category) }
        if let subCategory { w.member("subCategory", subCategory) }
        if let errorType { w.member("errorType", errorType) }
        if let policyName { w.member("policyName", policyName) }
        if !errors.isEmpty {
            w.key("errors")
            w.value(.array(errors))
        }
        if !context.isEmpty {
            w.key("context")
            w.beginObject()
            for (key, values) in context {
                w.key(key)
                w.beginArray()
                for value in values { w.string(value) }
                w.endArray()
            }
            w.endObject()
        }
        w.endObject()
        return w.bytes
    }

    // MARK: The errors HubSpot answers

    static func validation(_ message: String, errors: [JSONValue] = [], context: [(String, [String])] = [])
        -> HubSpotErrorBody
    {
        HubSpotErrorBody(status: 400, message: message, category: "VALIDATION_ERROR", context: context, errors: errors)
    }

    static func invalidJSON(_ message: String) -> HubSpotErrorBody {
        HubSpotErrorBody(status: 400, message: message, category: "VALIDATION_ERROR")
    }

    static let notFound = HubSpotErrorBody(status: 404, message: "resource not found", category: "OBJECT_NOT_FOUND")

    static func conflict(_ message: String) -> HubSpotErrorBody {
        HubSpotErrorBody(status: 409, message: message, category: "CONFLICT")
    }

    static func unknownObjectType(_ name: String) -> HubSpotErrorBody {
        HubSpotErrorBody(
            status: 400, message: "Unable to infer object type from: \(name)", category: "VALIDATION_ERROR")
    }

    static let unauthorized = HubSpotErrorBody(
        status: 401,
        message:
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        category: "INVALID_AUTHENTICATION",
        extraHeaders: [("x-hubspot-auth-failure", "401 Unauthorized")]
    )

    static func rateLimited(policy: RateLimitPolicy) -> HubSpotErrorBody {
        HubSpotErrorBody(status: 429, message: policy.message, errorType: "RATE_LIMIT", policyName: policy.rawValue)
    }

    static func bodyTooLarge(limit: Int) -> HubSpotErrorBody {
        HubSpotErrorBody(
            status: 400,
            message:
                "Request body exceeds the maximum size of \(limit) bytes; split the request (batch calls take at most 100 inputs)",
            category: "VALIDATION_ERROR")
    }

    static func serverError(_ status: Int) -> HubSpotErrorBody {
        let message: String =
            switch status {
            case 502: "Bad Gateway"
            case 503: "Service Unavailable"
            case 504: "Gateway Timeout"
            case 423: "Locked: the object is being modified by another request; retry after 2 seconds"
            default: "internal error"
            }
        return HubSpotErrorBody(status: status, message: message, category: status == 423 ? "LOCKED" : "INTERNAL_ERROR")
    }

    /// A per-property problem inside `Property values were not valid: […]`.
    struct PropertyProblem: Error, Sendable {
        var name: String
        var error: String
        var message: String
    }

    static func invalidProperties(_ problems: [PropertyProblem], portalId: Int) -> HubSpotErrorBody {
        var w = JSONWriter()
        w.beginArray()
        for problem in problems {
            w.beginObject()
            w.member("isValid", false)
            w.member("message", problem.message)
            w.member("error", problem.error)
            w.member("name", problem.name)
            w.member("localizedErrorMessage", problem.message)
            w.member("portalId", portalId)
            w.endObject()
        }
        w.endArray()
        let details = problems.map { problem -> JSONValue in
            .object([
                ("message", .string(problem.message)),
                ("code", .string(problem.error)),
                ("context", .object([("propertyName", .array([.string(problem.name)]))])),
            ])
        }
        return validation(
            "Property values were not valid: \(String(decoding: w.bytes, as: UTF8.self))", errors: details)
    }
}

/// A rate-limit policy, named as HubSpot names it in 429 bodies.
enum RateLimitPolicy: String, Sendable {
    case tenSecondlyRolling = "TEN_SECONDLY_ROLLING"
    case secondly = "SECONDLY"
    case daily = "DAILY"

    var message: String {
        switch self {
        case .tenSecondlyRolling: "You have reached your ten_secondly_rolling limit."
        case .secondly: "You have reached your secondly limit."
        case .daily: "You have reached your daily limit."
        }
    }
}
