import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import JSONCore
import TimeConversions

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

    /// What went wrong on the way to HubSpot, as HubSpot would have said it.
    static func from(_ error: any Error, subject: String) -> RESTError {
        switch error {
        case let error as RESTError: return error
        case let error as CRMError:
            var answer: RESTError
            switch error.reason {
            case .notFound:
                answer = RESTError(.notFound, "\(subject) not found", category: "OBJECT_NOT_FOUND")
            case .alreadyExists(let existing):
                answer = RESTError(.conflict, error.message, category: "CONFLICT")
                if let existing { answer.message = error.message.isEmpty ? "Existing ID: \(existing)" : error.message }
            case .invalidInput, .notAUniqueProperty, .invalidRequest, .searchResultsCap:
                answer = RESTError(.badRequest, error.message, category: "VALIDATION_ERROR")
            case .missingScopes(let required):
                answer = RESTError(
                    .forbidden,
                    "HubSpot refused \(subject): the gateway's HubSpot app lacks a scope this call needs; its operators must grant it",
                    category: "MISSING_SCOPES")
                if !required.isEmpty { answer.context["requiredGranularScopes"] = required }
            case .rateLimited(let wait):
                answer = rateLimited(retryAfter: wait ?? .seconds(1))
            case .credentialsRejected:
                answer = RESTError(
                    .serviceUnavailable,
                    "HubSpot rejected the gateway's own credentials; the gateway's operators must check its HubSpot token",
                    category: "GATEWAY_CREDENTIALS")
            case .unavailable:
                answer = RESTError(.serviceUnavailable, error.message, category: "SERVICE_UNAVAILABLE")
                answer.retryAfter = .seconds(1)
            case .deadlineExceeded:
                answer = RESTError(
                    .gatewayTimeout, "the deadline passed before HubSpot answered \(subject)", category: "TIMEOUT")
            case .unexpectedAnswer:
                answer = RESTError(.badGateway, error.message, category: "UNEXPECTED_ANSWER")
            }
            if let id = error.correlationId { answer.correlationId = id }
            return answer
        case let error as CallerNotAllowed:
            return RESTError(.forbidden, "\(error)", category: "MISSING_SCOPES")
        case let error as RateLimitExceeded:
            return rateLimited(retryAfter: error.retryAfter)
        case let error as CircuitOpen:
            var answer = RESTError(
                .serviceUnavailable, "HubSpot is failing; the gateway's breaker is open (\(error))",
                category: "SERVICE_UNAVAILABLE")
            answer.retryAfter = error.retryAfter
            return answer
        case is WriteOutcomeUnknown:
            var answer = RESTError(
                .badGateway,
                "the outcome of this write is unknown: HubSpot may or may not have applied it; read the record before retrying",
                category: "WRITE_OUTCOME_UNKNOWN")
            answer.extraHeaders = [(.writeOutcome, "unknown")]
            return answer
        case is DeadlinePassed:
            return RESTError(
                .gatewayTimeout, "the deadline passed before \(subject) could be served", category: "TIMEOUT")
        case is CancellationError:
            return RESTError(Self.clientClosedRequest, "the request was cancelled", category: "CANCELLED")
        default:
            return RESTError(
                .internalServerError, "the gateway could not serve \(subject): \(error)", category: "INTERNAL_ERROR")
        }
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
