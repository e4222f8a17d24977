import RedisClient
/// What went wrong, classified once for every API: the reason, a message a person can act on,
/// whether and when the caller may retry, whether a write's outcome is unknown, and the details
/// each wire form carries. gRPC (`GatewayErrors`) and REST (`RESTError`) each keep a small table
/// from it to their own statuses; `FailureAnswerTests` runs every failure through both.
public struct GatewayFailure: Error, Sendable, CustomStringConvertible {
    public var reason: GatewayErrorReason
    public var message: String
    /// How long to wait before retrying, when waiting helps.
    public var retryAfter: Duration?
    /// `X-HubSpot-Correlation-Id` of HubSpot's answer, for HubSpot's support.
    public var correlationId: String?
    /// What HubSpot itself said (its SDKs may read it: "Existing ID: 7").
    public var hubSpotMessage: String?
    /// The property at fault, as HubSpot named it.
    public var property: String?
    /// The request field at fault (`properties.email`, `id_property`, `after`).
    public var field: String?
    /// The record that already holds a unique value.
    public var existingId: String?
    /// The HubSpot scopes that would do (MISSING_SCOPES), or the caller's missing scope.
    public var requiredScopes: [String] = []
    /// The calling service refused for a missing scope (CALLER_NOT_ALLOWED).
    public var callerService: String?
    public var cause: (any Error)?

    /// The write may or may not have been applied: read before retrying.
    public var outcomeUnknown: Bool { reason == .writeOutcomeUnknown }

    public init(_ reason: GatewayErrorReason, _ message: String, retryAfter: Duration? = nil) {
        self.reason = reason
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { message }

    /// How long a caller should wait after HubSpot failed, when HubSpot did not say.
    public static let unavailableRetryDelay: Duration = .seconds(1)
    /// How long a caller waits after the state Redis said it is out of memory (an operator
    /// has to act; retrying at once only adds load).
    public static let stateFullRetryDelay: Duration = .seconds(30)

    /// Whether `error` is the state Redis refusing a write for lack of memory (`noeviction`).
    public static func isStateFull(_ error: any Error) -> Bool {
        (error as? RedisServerError)?.kind == .outOfMemory
            || "\(error)".contains("OOM command not allowed")
    }

    /// `error` classified; `subject` names what was asked for ("contact 123").
    public init(classifying error: any Error, subject: String) {
        switch error {
        case let failure as GatewayFailure:
            self = failure
        case let error as CRMError:
            self.init(crm: error, subject: subject)
        case let error as CallerNotAllowed:
            self.init(.callerNotAllowed, "\(error)")
            callerService = error.service
            requiredScopes = [error.scope]
        case let error as RateLimitExceeded:
            let reason: GatewayErrorReason =
                switch error.cause {
                case .budget: .gatewayBudgetExhausted
                case .hubSpotPause: .hubspotRateLimited
                case .callerShare: .callerShareExhausted
                case .accountDaySpent, .accountDayReserved: .hubspotDailyLimitReached
                case .serviceQuota: .serviceDailyQuotaExhausted
                }
            self.init(reason, "\(error)", retryAfter: error.retryAfter)
        case let error as CircuitOpen:
            self.init(
                .circuitOpen, "HubSpot is failing; the gateway's breaker is open (\(error))",
                retryAfter: error.retryAfter)
        case let error as WriteOutcomeUnknown:
            // Not retryable as such: a retried create that had landed is a duplicate.
            self.init(
                .writeOutcomeUnknown,
                "the outcome of \(subject) is unknown: HubSpot may or may not have applied it; read the record before retrying (\(error))"
            )
            correlationId = error.correlationId
            cause = error
        case is DeadlinePassed:
            self.init(.deadlineExceeded, "the deadline passed before \(subject) could be served")
        case is CancellationError:
            self.init(.cancelled, "the call was cancelled")
        default:
            self.init(.internal, "unexpected failure while handling \(subject): \(error)")
        }
    }

    private init(crm error: CRMError, subject: String) {
        switch error.reason {
        case .notFound:
            self.init(.recordNotFound, "\(subject) not found in HubSpot")
        case .alreadyExists(let existing):
            self.init(
                .duplicateRecord,
                existing.map { "\(subject) already exists (existing id \($0)): \(error.message)" } ?? error.message)
            existingId = existing
            hubSpotMessage = error.message.isEmpty ? existing.map { "Existing ID: \($0)" } : error.message
        case .invalidInput(let property):
            self.init(.invalidProperty, "HubSpot refused \(subject): \(error.message)")
            self.property = property
            field = property.map { "properties.\($0)" }
        case .notAUniqueProperty:
            self.init(.invalidRequest, "id_property \(error.message)")
            property = "id_property"
            field = "id_property"
        case .invalidRequest:
            self.init(.invalidRequest, error.message)
        case .credentialsRejected(let status):
            self.init(
                .hubspotCredentialsRejected,
                status.map {
                    "HubSpot rejected the gateway's own credentials (\($0)); the gateway's operators must check its HubSpot token or OAuth settings"
                }
                    ?? "the gateway could not refresh its HubSpot OAuth token; its operators must check its OAuth settings"
            )
        case .missingScopes(let required):
            let scopes = required.isEmpty ? "a scope" : "the scope \(required.joined(separator: " or "))"
            self.init(
                .missingScopes,
                "HubSpot refused \(subject): the gateway's HubSpot app lacks \(scopes); its operators must grant it (other object types are unaffected)"
            )
            requiredScopes = required
        case .rateLimited(let wait):
            self.init(
                .hubspotRateLimited, "HubSpot's rate limit was reached; retry later",
                retryAfter: wait ?? Self.unavailableRetryDelay)
        case .unavailable(let status):
            self.init(
                .hubspotUnavailable, status.map { "HubSpot answered \($0): \(error.message)" } ?? error.message,
                retryAfter: Self.unavailableRetryDelay)
        case .deadlineExceeded:
            self.init(.deadlineExceeded, "the deadline passed before HubSpot answered \(subject)")
        case .unexpectedAnswer:
            self.init(.hubspotUnexpectedAnswer, error.message)
        case .stateConflict:
            self.init(.subscriptionStateConflict, "HubSpot refused \(subject): \(error.message)")
        case .searchResultsCap:
            self.init(.searchResultsCap, error.message)
            field = "after"
        }
        correlationId = error.correlationId
        if hubSpotMessage == nil, !error.message.isEmpty { hubSpotMessage = error.message }
    }
}
