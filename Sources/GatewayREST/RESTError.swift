import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import JSONCore
import Time

/// An answer in HubSpot's error shape (`status`, `message`, `correlationId`, `category`, …) with
/// HubSpot's status codes, so that SDK code handling HubSpot's errors keeps working.
struct RESTError: Error, Sendable {
    var status: HTTPResponse.Status
    var message: String
    var category: String
    var correlationId = UUID().uuidString.lowercased()
    /// `RATE_LIMIT` on 429s (what HubSpot's SDKs look for).
    var errorType: String?
    var policyName: String?
    var context: [String: [String]] = [:]
    var retryAfter: Duration?
    var extraHeaders: [(HTTPField.Name, String)] = []

    init(_ status: HTTPResponse.Status, _ message: String, category: String) {
        self.status = status
        self.message = message
        self.category = category
    }

    static func badRequest(_ message: String) -> RESTError {
        RESTError(.badRequest, message, category: "VALIDATION_ERROR")
    }

    /// The JSON body.
    var body: JSONWriter {
        var w = JSONWriter()
        w.beginObject()
        w.member("status", "error")
        w.member("message", message)
        w.member("correlationId", correlationId)
        w.member("category", category)
        if let errorType { w.member("errorType", errorType) }
        if let policyName { w.member("policyName", policyName) }
        if !context.isEmpty {
            w.key("context")
            w.beginObject()
            for (key, values) in context.sorted(by: { $0.key < $1.key }) {
                w.key(key)
                w.beginArray()
                for value in values { w.string(value) }
                w.endArray()
            }
            w.endObject()
        }
        w.endObject()
        return w
    }

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json;charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(max(1, Int((retryAfter.milliseconds + 999) / 1000))) }
        for (name, value) in extraHeaders { headers[name] = value }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body.bytes)))
    }

    /// What went wrong on the way to HubSpot, as HubSpot would have said it: the failure's
    /// reason as HubSpot's status and category, its message and wait.
    static func from(_ error: any Error, subject: String) -> RESTError {
        if let error = error as? RESTError { return error }
        let failure = GatewayFailure(classifying: error, subject: subject)
        var answer: RESTError
        switch failure.reason {
        case .recordNotFound, .metadataNotFound, .jobNotFound:
            answer = RESTError(.notFound, failure.message, category: "OBJECT_NOT_FOUND")
        case .duplicateRecord:
            answer = RESTError(.conflict, failure.hubSpotMessage ?? failure.message, category: "CONFLICT")
        case .invalidProperty, .invalidRequest, .searchResultsCap, .jobTooLarge, .feedCursorExpired:
            answer = RESTError(.badRequest, failure.hubSpotMessage ?? failure.message, category: "VALIDATION_ERROR")
        case .missingScopes, .callerNotAllowed:
            answer = RESTError(.forbidden, failure.message, category: "MISSING_SCOPES")
            if failure.reason == .missingScopes, !failure.requiredScopes.isEmpty {
                answer.context["requiredGranularScopes"] = failure.requiredScopes
            }
        case .hubspotRateLimited, .gatewayBudgetExhausted, .callerShareExhausted, .subscriberTooSlow,
            .hubspotDailyLimitReached, .serviceDailyQuotaExhausted:
            answer = rateLimited(retryAfter: failure.retryAfter ?? .seconds(1))
        case .hubspotCredentialsRejected:
            answer = RESTError(.serviceUnavailable, failure.message, category: "GATEWAY_CREDENTIALS")
        case .hubspotUnavailable, .circuitOpen, .gatewayStateUnavailable, .replicaShuttingDown, .gatewayStateFull:
            answer = RESTError(.serviceUnavailable, failure.message, category: "SERVICE_UNAVAILABLE")
        case .deadlineExceeded, .idempotentRequestInFlight:
            answer = RESTError(.gatewayTimeout, failure.message, category: "TIMEOUT")
        case .hubspotUnexpectedAnswer:
            answer = RESTError(.badGateway, failure.message, category: "UNEXPECTED_ANSWER")
        case .writeOutcomeUnknown:
            answer = RESTError(.badGateway, failure.message, category: "WRITE_OUTCOME_UNKNOWN")
            answer.extraHeaders = [(.writeOutcome, "unknown")]
        case .cancelled:
            answer = RESTError(Self.clientClosedRequest, failure.message, category: "CANCELLED")
        case .callerNotAuthenticated:
            answer = RESTError(.unauthorized, failure.message, category: "INVALID_AUTHENTICATION")
        case .idempotencyKeyReused, .featureNotConfigured, .idempotentOutcomeUnknown, .subscriptionStateConflict:
            answer = RESTError(.conflict, failure.message, category: "CONFLICT")
        case .unimplemented:
            answer = RESTError(.notImplemented, failure.message, category: "NOT_IMPLEMENTED")
        case .internal:
            answer = RESTError(.internalServerError, failure.message, category: "INTERNAL_ERROR")
        }
        answer.retryAfter = answer.retryAfter ?? failure.retryAfter
        if let id = failure.correlationId { answer.correlationId = id }
        return answer
    }

    /// 499, the status proxies give a request its client gave up on (HTTP has none of its own).
    static let clientClosedRequest = HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request")

    /// HubSpot's 429 body: the SDKs retry after `Retry-After`.
    static func rateLimited(retryAfter: Duration) -> RESTError {
        var answer = RESTError(
            .tooManyRequests, "The gateway's share of HubSpot's rate limit has no room before this request's deadline",
            category: "RATE_LIMITS")
        answer.errorType = "RATE_LIMIT"
        answer.policyName = "SECONDLY"
        answer.retryAfter = retryAfter
        return answer
    }
}
