/// Why a request (or a job's record) failed, as `google.rpc.ErrorInfo.reason` names it: the
/// stable list of `hubspot.gateway.v1.ErrorReason` (Protos/hubspot/gateway/v1/errors.proto
/// documents what a caller should do for each; `ErrorReasonTests` keeps the two lists equal).
/// The gRPC status each goes with is GatewayAPI's (`GatewayErrorReason.code`); `GatewayFailure`
/// classifies every failure into one.
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
    case jobNotFound = "JOB_NOT_FOUND"
    case jobTooLarge = "JOB_TOO_LARGE"
}
