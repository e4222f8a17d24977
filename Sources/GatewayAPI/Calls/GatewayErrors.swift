import Foundation
import GatewayCore
import GRPCCore
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
        case let error as CRMError:
            if let id = error.correlationId { metadata.addString(id, forKey: Key.correlationId) }
            switch error.reason {
            case .notFound:
                return RPCError(code: .notFound, message: "\(subject) not found in HubSpot", metadata: metadata)
            case .alreadyExists(let existing):
                if let existing { metadata.addString(existing, forKey: Key.existingId) }
                return RPCError(
                    code: .alreadyExists,
                    message: existing.map { "\(subject) already exists (existing id \($0)): \(error.message)" }
                        ?? error.message, metadata: metadata)
            case .invalidInput(let property):
                if let property { metadata.addString(property, forKey: Key.property) }
                return RPCError(
                    code: .invalidArgument, message: "HubSpot refused \(subject): \(error.message)", metadata: metadata)
            case .notAUniqueProperty:
                metadata.addString("id_property", forKey: Key.property)
                return RPCError(code: .invalidArgument, message: "id_property \(error.message)", metadata: metadata)
            case .invalidRequest:
                return RPCError(code: .invalidArgument, message: error.message, metadata: metadata)
            case .credentialsRejected(let status):
                let message =
                    status.map {
                        "HubSpot rejected the gateway's own credentials (\($0)); the gateway's operators must check its HubSpot token or OAuth settings"
                    }
                    ?? "the gateway could not refresh its HubSpot OAuth token; its operators must check its OAuth settings"
                return RPCError(code: .unavailable, message: message, metadata: metadata)
            case .rateLimited(let wait):
                if let wait { metadata.addString(String(wait.milliseconds), forKey: Key.retryAfterMilliseconds) }
                return RPCError(
                    code: .resourceExhausted, message: "HubSpot's rate limit was reached; retry later",
                    metadata: metadata)
            case .unavailable(let status):
                let message =
                    status.map { "HubSpot answered \($0): \(error.message)" } ?? error.message
                return RPCError(code: .unavailable, message: message, metadata: metadata)
            case .deadlineExceeded:
                return RPCError(
                    code: .deadlineExceeded, message: "the deadline passed before HubSpot answered \(subject)",
                    metadata: metadata)
            case .unexpectedAnswer:
                return RPCError(code: .internalError, message: error.message, metadata: metadata)
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
            if let correlation = error.correlationId {
                metadata.addString(correlation, forKey: Key.correlationId)
            }
            metadata.addString("unknown", forKey: Key.writeOutcome)
            return RPCError(
                code: .unknown, message: "the outcome of \(subject) is unknown: \(error)", metadata: metadata,
                cause: error)
        case is DeadlinePassed:
            return RPCError(code: .deadlineExceeded, message: "\(error)")
        case is CancellationError:
            return RPCError(code: .cancelled, message: "the call was cancelled")
        default:
            return RPCError(code: .internalError, message: "unexpected failure while handling \(subject): \(error)")
        }
    }
}
