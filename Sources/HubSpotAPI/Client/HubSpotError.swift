import Foundation

/// HubSpot's rate-limit headers of one response (any may be missing: search responses carry
/// none, OAuth tokens get no daily ones, and HubSpot omits them when it cannot compute them).
public struct RateLimitStatus: Sendable, Equatable {
    public var max: Int?
    public var remaining: Int?
    public var intervalMilliseconds: Int?
    public var dailyMax: Int?
    public var dailyRemaining: Int?

    public init(
        max: Int? = nil, remaining: Int? = nil, intervalMilliseconds: Int? = nil, dailyMax: Int? = nil,
        dailyRemaining: Int? = nil
    ) {
        self.max = max
        self.remaining = remaining
        self.intervalMilliseconds = intervalMilliseconds
        self.dailyMax = dailyMax
        self.dailyRemaining = dailyRemaining
    }

    init(_ response: HTTPResponse) {
        func value(_ name: String) -> Int? {
            response.header(name).flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        }
        max = value("X-HubSpot-RateLimit-Max")
        remaining = value("X-HubSpot-RateLimit-Remaining")
        intervalMilliseconds = value("X-HubSpot-RateLimit-Interval-Milliseconds")
        dailyMax = value("X-HubSpot-RateLimit-Daily")
        dailyRemaining = value("X-HubSpot-RateLimit-Daily-Remaining")
    }
}

/// An error answer from HubSpot, with everything its body and headers say.
public struct HubSpotError: Error, CustomStringConvertible, Sendable {
    public var status: Int
    public var message: String
    public var category: String?
    public var subCategory: String?
    public var correlationId: String?
    /// 429s: `TEN_SECONDLY_ROLLING`, `SECONDLY` or `DAILY`.
    public var policyName: String?
    /// 429s say `RATE_LIMIT` here instead of a category.
    public var errorType: String?
    public var errors: [ErrorDetail]
    public var context: [String: [String]]
    public var rateLimit: RateLimitStatus
    /// `Retry-After`, when HubSpot sent one.
    public var retryAfter: Duration?
    /// `x-hubspot-auth-failure`, on 401s.
    public var authFailure: String?
    /// The answer itself, when HubSpot sent one (a passed-through call returns it unchanged).
    var response: HTTPResponse?

    public var description: String {
        var text = "HubSpot \(status)"
        if let category = category ?? errorType { text += " \(category)" }
        if let policyName { text += " (\(policyName))" }
        text += ": \(message)"
        if let correlationId { text += " [correlation id \(correlationId)]" }
        return text
    }

    /// A 403 saying the app's token lacks a scope the call needs (`MISSING_SCOPES`): a
    /// configuration gap of one object type, not rejected credentials.
    public var isMissingScopes: Bool { status == 403 && (category == "MISSING_SCOPES" || !requiredScopes.isEmpty) }
    /// The scopes a `MISSING_SCOPES` answer names (`crm.objects.deals.read`).
    public var requiredScopes: [String] {
        let named = errors.flatMap {
            ($0.context?["requiredGranularScopes"] ?? []) + ($0.context?["requiredScopes"] ?? [])
        }
        return named + (context["requiredGranularScopes"] ?? []) + (context["requiredScopes"] ?? [])
    }
    /// A 429: HubSpot refused the call without acting on it.
    public var isRateLimit: Bool { status == 429 }
    /// The record does not exist.
    public var isNotFound: Bool { status == 404 }
    /// The id HubSpot names in a duplicate answer (`… Existing ID: 123`).
    public var existingObjectId: String? {
        guard status == 409, let range = message.range(of: "Existing ID: ") else { return nil }
        let id = message[range.upperBound...].prefix { $0.isNumber }
        return id.isEmpty ? nil : String(id)
    }

    /// An error made up by a caller of the client (e.g. an answer missing from a batch).
    public init(status: Int, message: String, category: String? = nil, correlationId: String? = nil) {
        self.status = status
        self.message = message
        self.category = category
        self.correlationId = correlationId
        errors = []
        context = [:]
        rateLimit = RateLimitStatus()
    }

    /// The error of one input of a batch call that HubSpot answered 207, as if that input had
    /// been sent alone (the status follows from HubSpot's category).
    public init(item: BatchItemError, correlationId: String?) {
        status =
            switch item.category {
            case "OBJECT_NOT_FOUND": 404
            case "CONFLICT", "OBJECT_ALREADY_EXISTS": 409
            case "RATE_LIMITS": 429
            case "LOCKED": 423
            case "INTERNAL_ERROR", "SERVICE_UNAVAILABLE": 500
            default: 400
            }
        message = item.message
        category = item.category
        subCategory = item.subCategory
        self.correlationId = correlationId
        errors = item.errors ?? []
        context = item.context ?? [:]
        rateLimit = RateLimitStatus()
    }

    init(response: HTTPResponse) {
        self.response = response
        status = response.status
        rateLimit = RateLimitStatus(response)
        correlationId = response.header("X-HubSpot-Correlation-Id")
        authFailure = response.header("x-hubspot-auth-failure")
        retryAfter = response.header("Retry-After").flatMap { Double($0) }.map { .milliseconds(Int64($0 * 1000)) }
        errors = []
        context = [:]
        struct Body: Decodable {
            var message: String?
            var category: String?
            var subCategory: String?
            var correlationId: String?
            var policyName: String?
            var errorType: String?
            var errors: [ErrorDetail]?
            var context: [String: [String]]?
        }
        if let body = try? JSONDecoder().decode(Body.self, from: Data(response.body)) {
            message = body.message ?? "HTTP \(response.status)"
            category = body.category
            subCategory = body.subCategory
            policyName = body.policyName
            errorType = body.errorType
            errors = body.errors ?? []
            context = body.context ?? [:]
            if correlationId == nil { correlationId = body.correlationId }
        } else {
            // Not HubSpot's JSON (a proxy's page, an empty body): keep a readable prefix.
            let text = String(decoding: response.body.prefix(200), as: UTF8.self).trimmingCharacters(
                in: .whitespacesAndNewlines)
            message = text.isEmpty ? "HTTP \(response.status) with no body" : text
        }
    }
}

/// A failure of the client itself rather than HubSpot's answer.
public enum HubSpotClientError: Error, CustomStringConvertible, Sendable {
    /// HubSpot answered 2xx with a body the client could not read.
    case undecodableResponse(endpoint: String, status: Int, reason: String)
    /// The caller's deadline passed before a call could be made or retried.
    case deadlineExceeded(lastError: String?)
    /// OAuth refresh failed; the message says what HubSpot answered.
    case oauthRefreshFailed(String)
    /// A request could not be encoded (e.g. an empty object type).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .undecodableResponse(let endpoint, let status, let reason):
            "HubSpot answered \(status) on \(endpoint) with a body that could not be read: \(reason)"
        case .deadlineExceeded(let last): "deadline exceeded" + (last.map { " (last error: \($0))" } ?? "")
        case .oauthRefreshFailed(let message): "OAuth token refresh failed: \(message)"
        case .invalidArgument(let message): message
        }
    }
}
