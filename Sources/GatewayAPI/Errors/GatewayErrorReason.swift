import GRPCCore

/// Why an RPC failed, as `google.rpc.ErrorInfo.reason` names it: the stable list of
/// `hubspot.gateway.v1.ErrorReason` (Protos/hubspot/gateway/v1/errors.proto documents what a
/// caller should do for each; `ErrorReasonTests` keeps the two lists equal).
public enum GatewayErrorReason: String, CaseIterable, Sendable {
    case gatewayBudgetExhausted = "GATEWAY_BUDGET_EXHAUSTED"
    case hubspotRateLimited = "HUBSPOT_RATE_LIMITED"
    case hubspotUnavailable = "HUBSPOT_UNAVAILABLE"
    case circuitOpen = "CIRCUIT_OPEN"
    case hubspotCredentialsRejected = "HUBSPOT_CREDENTIALS_REJECTED"
    case missingScopes = "MISSING_SCOPES"
    case recordNotFound = "RECORD_NOT_FOUND"
    case duplicateRecord = "DUPLICATE_RECORD"
    case invalidProperty = "INVALID_PROPERTY"
    case invalidRequest = "INVALID_REQUEST"
    case searchResultsCap = "SEARCH_RESULTS_CAP"
    case callerNotAuthenticated = "CALLER_NOT_AUTHENTICATED"
    case callerNotAllowed = "CALLER_NOT_ALLOWED"
    case deadlineExceeded = "DEADLINE_EXCEEDED"
    case writeOutcomeUnknown = "WRITE_OUTCOME_UNKNOWN"
    case metadataNotFound = "METADATA_NOT_FOUND"
    case idempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"
    case idempotentOutcomeUnknown = "IDEMPOTENT_OUTCOME_UNKNOWN"
    case idempotentRequestInFlight = "IDEMPOTENT_REQUEST_IN_FLIGHT"
    case feedCursorExpired = "FEED_CURSOR_EXPIRED"
    case gatewayStateUnavailable = "GATEWAY_STATE_UNAVAILABLE"
    case featureNotConfigured = "FEATURE_NOT_CONFIGURED"
    case replicaShuttingDown = "REPLICA_SHUTTING_DOWN"
    case subscriberTooSlow = "SUBSCRIBER_TOO_SLOW"
    case hubspotUnexpectedAnswer = "HUBSPOT_UNEXPECTED_ANSWER"
    case cancelled = "CANCELLED"
    case `internal` = "INTERNAL"
    case callerShareExhausted = "CALLER_SHARE_EXHAUSTED"
    case unimplemented = "UNIMPLEMENTED"

    /// The status code the reason goes with.
    public var code: RPCError.Code {
        switch self {
        case .gatewayBudgetExhausted, .hubspotRateLimited, .subscriberTooSlow, .callerShareExhausted:
            .resourceExhausted
        case .hubspotUnavailable, .circuitOpen, .hubspotCredentialsRejected, .gatewayStateUnavailable,
            .replicaShuttingDown:
            .unavailable
        case .missingScopes, .callerNotAllowed: .permissionDenied
        case .recordNotFound, .metadataNotFound: .notFound
        case .duplicateRecord: .alreadyExists
        case .invalidProperty, .invalidRequest: .invalidArgument
        case .searchResultsCap, .feedCursorExpired: .outOfRange
        case .callerNotAuthenticated: .unauthenticated
        case .deadlineExceeded, .idempotentRequestInFlight: .deadlineExceeded
        case .writeOutcomeUnknown: .unknown
        case .idempotencyKeyReused, .featureNotConfigured: .failedPrecondition
        case .idempotentOutcomeUnknown: .aborted
        case .hubspotUnexpectedAnswer, .internal: .internalError
        case .cancelled: .cancelled
        case .unimplemented: .unimplemented
        }
    }

    /// The reason of an error made without one (by GRPCCore itself: an unknown method, a
    /// malformed message, a deadline it enforced): the one its code can only mean, else
    /// `internal`. Every error the gateway makes names its reason.
    public static func fallback(for code: RPCError.Code) -> GatewayErrorReason {
        switch code {
        case .cancelled: .cancelled
        case .invalidArgument: .invalidRequest
        case .deadlineExceeded: .deadlineExceeded
        case .unimplemented: .unimplemented
        case .unauthenticated: .callerNotAuthenticated
        default: .internal
        }
    }
}
