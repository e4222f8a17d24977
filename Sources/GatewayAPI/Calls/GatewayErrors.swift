import Foundation
import GatewayCore
import GRPCCore
import HubSpotAPI
import TimeConversions

/// Turns what went wrong on the way to HubSpot into the gRPC status a caller can act on, with
/// HubSpot's correlation id and (for budget refusals) the retry delay in trailing metadata.
public enum GatewayErrors {
    /// Trailing metadata keys.
    public enum Key {
        public static let retryAfterMilliseconds = "retry-after-ms"
        public static let correlationId = "x-hubspot-correlation-id"
        public static let property = "x-hubspot-property"
        public static let existingId = "x-existing-id"
        /// `unknown` on writes that may or may not have been applied.
        public static let writeOutcome = "x-write-outcome"
    }

    /// The RPC error for `error`; `subject` names what was asked for ("contact 123").
    public static func rpcError(_ error: any Error, subject: String) -> RPCError {
        if let error = error as? RPCError { return error }
        var metadata = Metadata()
        switch error {
        case let error as HubSpotError:
            if let id = error.correlationId { metadata.addString(id, forKey: Key.correlationId) }
            switch error.status {
            case 404:
                return RPCError(code: .notFound, message: "\(subject) not found in HubSpot", metadata: metadata)
            case 409:
                let existing = error.existingObjectId
                if let existing { metadata.addString(existing, forKey: Key.existingId) }
                return RPCError(
                    code: .alreadyExists,
                    message: existing.map { "\(subject) already exists (existing id \($0)): \(error.message)" }
                        ?? error.message, metadata: metadata)
            case 400, 422:
                let property =
                    error.errors.lazy.compactMap { $0.context?["propertyName"]?.first }.first ?? error.context[
                        "propertyName"]?.first
                    ?? propertyNamed(in: error.message)
                if let property { metadata.addString(property, forKey: Key.property) }
                return RPCError(
                    code: .invalidArgument, message: "HubSpot refused \(subject): \(error.message)", metadata: metadata)
            case 401, 403:
                return RPCError(
                    code: .unavailable,
                    message:
                        "HubSpot rejected the gateway's own credentials (\(error.status)); the gateway's operators must check its HubSpot token or OAuth settings",
                    metadata: metadata)
            case 429:
                if let wait = error.retryAfter {
                    metadata.addString(String(wait.milliseconds), forKey: Key.retryAfterMilliseconds)
                }
                return RPCError(
                    code: .resourceExhausted, message: "HubSpot's rate limit was reached; retry later",
                    metadata: metadata)
            default:
                return RPCError(
                    code: .unavailable, message: "HubSpot answered \(error.status): \(error.message)",
                    metadata: metadata)
            }
        case let error as RateLimitExceeded:
            metadata.addString(String(error.retryAfter.milliseconds), forKey: Key.retryAfterMilliseconds)
            return RPCError(
                code: .resourceExhausted, message: "\(error) (see the \(Key.retryAfterMilliseconds) trailer)",
                metadata: metadata)
        case let error as CircuitOpen:
            metadata.addString(String(error.retryAfter.milliseconds), forKey: Key.retryAfterMilliseconds)
            return RPCError(code: .unavailable, message: "\(error)", metadata: metadata)
        case let error as WriteOutcomeUnknown:
            // Not UNAVAILABLE: clients (and gRPC retry policies) retry that, and a retried
            // create that had landed is a duplicate.
            if let correlation = (error.underlying as? HubSpotError)?.correlationId {
                metadata.addString(correlation, forKey: Key.correlationId)
            }
            metadata.addString("unknown", forKey: Key.writeOutcome)
            return RPCError(
                code: .unknown, message: "the outcome of \(subject) is unknown: \(error)", metadata: metadata,
                cause: error)
        case is CurlError:
            return RPCError(code: .unavailable, message: "HubSpot could not be reached: \(error)")
        case is DeadlinePassed:
            return RPCError(code: .deadlineExceeded, message: "\(error)")
        case let error as HubSpotClientError:
            switch error {
            case .deadlineExceeded:
                return RPCError(
                    code: .deadlineExceeded, message: "the deadline passed before HubSpot answered \(subject)")
            case .invalidArgument(let message): return RPCError(code: .invalidArgument, message: message)
            case .oauthRefreshFailed:
                return RPCError(
                    code: .unavailable,
                    message:
                        "the gateway could not refresh its HubSpot OAuth token; its operators must check its OAuth settings"
                )
            case .undecodableResponse: return RPCError(code: .internalError, message: "\(error)")
            }
        case is CancellationError:
            return RPCError(code: .cancelled, message: "the call was cancelled")
        default:
            return RPCError(code: .internalError, message: "unexpected failure while handling \(subject): \(error)")
        }
    }
}

/// The first property `Property values were not valid: [{…"name":"x"…}]` names (HubSpot's
/// per-input batch errors carry the property only inside the message).
func propertyNamed(in message: String) -> String? {
    guard message.hasPrefix("Property values were not valid"), let range = message.range(of: "\"name\":\"") else {
        return nil
    }
    let name = message[range.upperBound...].prefix { $0 != "\"" }
    return name.isEmpty ? nil : String(name)
}
