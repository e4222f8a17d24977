import Foundation
import GatewayCore
import GRPCCore
import TimeConversions

/// Turns what went wrong on the way to HubSpot into the gRPC status a caller can act on: its
/// reason (`GatewayErrorReason`), HubSpot's correlation id and, when waiting helps, the delay —
/// as plain trailers, which `ErrorStatusDetails` turns into `google.rpc.Status` details.
public enum GatewayErrors {
    /// Trailing metadata keys.
    public enum Key {
        public static let retryAfterMilliseconds = "retry-after-ms"
        /// gRFC A6: gRPC clients' retry policies wait this long before their next attempt.
        public static let retryPushback = "grpc-retry-pushback-ms"
        public static let correlationId = "x-hubspot-correlation-id"
        public static let property = "x-hubspot-property"
        public static let existingId = "x-existing-id"
        /// `unknown` on writes that may or may not have been applied.
        public static let writeOutcome = "x-write-outcome"
        /// The `GatewayErrorReason` as text.
        public static let reason = "x-gateway-error-reason"
        /// The request field at fault (for `google.rpc.BadRequest`).
        public static let invalidField = "x-invalid-field"
        /// The HubSpot scopes a MISSING_SCOPES answer named, comma-separated.
        public static let requiredScopes = "x-required-scopes"
    }

    /// An error with its reason (the code follows from it), the retry delay when waiting helps
    /// and the request field at fault for invalid input.
    public static func error(
        _ reason: GatewayErrorReason, _ message: String, metadata: Metadata = [:], retryAfter: Duration? = nil,
        field: String? = nil, cause: (any Error)? = nil
    ) -> RPCError {
        var metadata = metadata
        metadata.replaceOrAddString(reason.rawValue, forKey: Key.reason)
        if let retryAfter {
            let milliseconds = String(max(0, retryAfter.milliseconds))
            metadata.replaceOrAddString(milliseconds, forKey: Key.retryAfterMilliseconds)
            metadata.replaceOrAddString(milliseconds, forKey: Key.retryPushback)
        }
        if let field { metadata.replaceOrAddString(field, forKey: Key.invalidField) }
        return RPCError(code: reason.code, message: message, metadata: metadata, cause: cause)
    }

    /// How long a caller should wait after HubSpot failed, when HubSpot did not say.
    static let unavailableRetryDelay: Duration = .seconds(1)

    /// The RPC error for `error`; `subject` names what was asked for ("contact 123").
    public static func rpcError(_ error: any Error, subject: String) -> RPCError {
        if let error = error as? RPCError { return error }
        var metadata = Metadata()
        switch error {
        case let error as CRMError:
            if let id = error.correlationId { metadata.addString(id, forKey: Key.correlationId) }
            switch error.reason {
            case .notFound:
                return Self.error(.recordNotFound, "\(subject) not found in HubSpot", metadata: metadata)
            case .alreadyExists(let existing):
                if let existing { metadata.addString(existing, forKey: Key.existingId) }
                return Self.error(
                    .duplicateRecord,
                    existing.map { "\(subject) already exists (existing id \($0)): \(error.message)" } ?? error.message,
                    metadata: metadata)
            case .invalidInput(let property):
                if let property { metadata.addString(property, forKey: Key.property) }
                return Self.error(
                    .invalidProperty, "HubSpot refused \(subject): \(error.message)", metadata: metadata,
                    field: property.map { "properties.\($0)" })
            case .notAUniqueProperty:
                metadata.addString("id_property", forKey: Key.property)
                return Self.error(
                    .invalidRequest, "id_property \(error.message)", metadata: metadata, field: "id_property")
            case .invalidRequest:
                return Self.error(.invalidRequest, error.message, metadata: metadata)
            case .credentialsRejected(let status):
                let message =
                    status.map {
                        "HubSpot rejected the gateway's own credentials (\($0)); the gateway's operators must check its HubSpot token or OAuth settings"
                    }
                    ?? "the gateway could not refresh its HubSpot OAuth token; its operators must check its OAuth settings"
                return Self.error(.hubspotCredentialsRejected, message, metadata: metadata)
            case .missingScopes(let required):
                if !required.isEmpty { metadata.addString(required.joined(separator: ","), forKey: Key.requiredScopes) }
                let scopes = required.isEmpty ? "a scope" : "the scope \(required.joined(separator: " or "))"
                return Self.error(
                    .missingScopes,
                    "HubSpot refused \(subject): the gateway's HubSpot app lacks \(scopes); its operators must grant it (other object types are unaffected)",
                    metadata: metadata)
            case .rateLimited(let wait):
                return Self.error(
                    .hubspotRateLimited, "HubSpot's rate limit was reached; retry later", metadata: metadata,
                    retryAfter: wait ?? unavailableRetryDelay)
            case .unavailable(let status):
                let message =
                    status.map { "HubSpot answered \($0): \(error.message)" } ?? error.message
                return Self.error(
                    .hubspotUnavailable, message, metadata: metadata, retryAfter: unavailableRetryDelay)
            case .deadlineExceeded:
                return Self.error(
                    .deadlineExceeded, "the deadline passed before HubSpot answered \(subject)", metadata: metadata)
            case .unexpectedAnswer:
                return Self.error(.hubspotUnexpectedAnswer, error.message, metadata: metadata)
            case .searchResultsCap:
                return Self.error(.searchResultsCap, error.message, metadata: metadata, field: "after")
            }
        case let error as CallerNotAllowed:
            return Self.error(
                .callerNotAllowed, "\(error)",
                metadata: [
                    CallerAuthenticationInterceptor.callerKey: .string(error.service),
                    CallerAuthenticationInterceptor.scopeKey: .string(error.scope),
                ])
        case let error as RateLimitExceeded:
            let reason: GatewayErrorReason =
                switch error.cause {
                case .budget: .gatewayBudgetExhausted
                case .hubSpotPause: .hubspotRateLimited
                case .callerShare: .callerShareExhausted
                }
            return Self.error(
                reason, "\(error) (see the \(Key.retryAfterMilliseconds) trailer)", retryAfter: error.retryAfter)
        case let error as CircuitOpen:
            return Self.error(.circuitOpen, "\(error)", retryAfter: error.retryAfter)
        case let error as WriteOutcomeUnknown:
            // Not UNAVAILABLE: clients (and gRPC retry policies) retry that, and a retried
            // create that had landed is a duplicate.
            if let correlation = error.correlationId {
                metadata.addString(correlation, forKey: Key.correlationId)
            }
            metadata.addString("unknown", forKey: Key.writeOutcome)
            return Self.error(
                .writeOutcomeUnknown, "the outcome of \(subject) is unknown: \(error)", metadata: metadata,
                cause: error)
        case is DeadlinePassed:
            return Self.error(.deadlineExceeded, "\(error)")
        case is CancellationError:
            return Self.error(.cancelled, "the call was cancelled")
        default:
            return Self.error(.internal, "unexpected failure while handling \(subject): \(error)")
        }
    }
}
