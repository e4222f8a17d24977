import Foundation
import GatewayCore
import GRPCCore
import Time

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

    /// The RPC error for `error`; `subject` names what was asked for ("contact 123"): the
    /// failure's reason, message and wait, and its details as trailers.
    public static func rpcError(_ error: any Error, subject: String) -> RPCError {
        if let error = error as? RPCError { return error }
        let failure = GatewayFailure(classifying: error, subject: subject)
        var metadata = Metadata()
        if let id = failure.correlationId { metadata.addString(id, forKey: Key.correlationId) }
        if let property = failure.property { metadata.addString(property, forKey: Key.property) }
        if let existing = failure.existingId { metadata.addString(existing, forKey: Key.existingId) }
        if failure.outcomeUnknown { metadata.addString("unknown", forKey: Key.writeOutcome) }
        if let service = failure.callerService {
            metadata.addString(service, forKey: CallerAuthenticationInterceptor.callerKey)
            metadata.addString(
                failure.requiredScopes.joined(separator: ","), forKey: CallerAuthenticationInterceptor.scopeKey)
        } else if !failure.requiredScopes.isEmpty {
            metadata.addString(failure.requiredScopes.joined(separator: ","), forKey: Key.requiredScopes)
        }
        return Self.error(
            failure.reason, failure.message, metadata: metadata, retryAfter: failure.retryAfter, field: failure.field,
            cause: failure.cause)
    }
}
