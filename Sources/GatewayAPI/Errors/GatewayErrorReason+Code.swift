import GatewayCore
import GRPCCore

extension GatewayErrorReason {
    /// The status code the reason goes with.
    public var code: RPCError.Code {
        switch self {
        case .gatewayBudgetExhausted, .hubspotRateLimited, .subscriberTooSlow, .callerShareExhausted,
            .hubspotDailyLimitReached, .serviceDailyQuotaExhausted, .gatewayStateFull:
            .resourceExhausted
        case .hubspotUnavailable, .circuitOpen, .hubspotCredentialsRejected, .gatewayStateUnavailable,
            .replicaShuttingDown:
            .unavailable
        case .missingScopes, .callerNotAllowed: .permissionDenied
        case .recordNotFound, .metadataNotFound, .jobNotFound: .notFound
        case .duplicateRecord: .alreadyExists
        case .invalidProperty, .invalidRequest, .jobTooLarge: .invalidArgument
        case .searchResultsCap, .feedCursorExpired: .outOfRange
        case .callerNotAuthenticated: .unauthenticated
        case .deadlineExceeded, .idempotentRequestInFlight: .deadlineExceeded
        case .writeOutcomeUnknown: .unknown
        case .idempotencyKeyReused, .featureNotConfigured, .subscriptionStateConflict: .failedPrecondition
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
