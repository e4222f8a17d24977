/// Why HubSpot did not do what a CRM operation asked, in terms every API maps to its own
/// statuses (gRPC codes, HTTP statuses). The door's own refusals stay their own types
/// (`RateLimitExceeded`, `CircuitOpen`, `DeadlinePassed`, `WriteOutcomeUnknown`).
public struct CRMError: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// HubSpot has no such record.
        case notFound
        /// A record with the same unique value exists (HubSpot names its id when it can).
        case alreadyExists(existingId: String?)
        /// HubSpot refused the input (400/422), naming the property when it said which.
        case invalidInput(property: String?)
        /// A lookup or upsert named a property that is not unique for the type; HubSpot finds
        /// records only by unique properties (these, for the type).
        case notAUniqueProperty(String, uniqueProperties: [String])
        /// The request could not be made as given (checked before calling HubSpot).
        case invalidRequest
        /// HubSpot rejected the gateway's own credentials (401 after a refresh, or the OAuth
        /// refresh failed): every call fails until operators fix the token.
        case credentialsRejected(status: Int?)
        /// HubSpot refused this call because the gateway's app lacks a scope (403): calls of other
        /// object types still work. `required` names the scopes HubSpot said would do.
        case missingScopes(required: [String])
        /// HubSpot answered 429 (the gateway's limiter should have prevented it).
        case rateLimited(retryAfter: Duration?)
        /// HubSpot failed (5xx, `status`) or could not be reached (nil).
        case unavailable(status: Int?)
        /// The caller's deadline passed before HubSpot answered.
        case deadlineExceeded
        /// HubSpot's answer could not be read.
        case unexpectedAnswer
        /// HubSpot refused a change because the record is not in the state the change assumes
        /// (an email address already subscribed, or one that opted out).
        case stateConflict
        /// A search page past HubSpot's 10,000-result cap: no page there can be had; the query
        /// must be narrowed.
        case searchResultsCap
    }

    public var reason: Reason
    /// What HubSpot (or the gateway) said, for a person.
    public var message: String
    /// `X-HubSpot-Correlation-Id` of HubSpot's answer, for HubSpot's support.
    public var correlationId: String?

    public init(_ reason: Reason, _ message: String, correlationId: String? = nil) {
        self.reason = reason
        self.message = message
        self.correlationId = correlationId
    }

    public var description: String {
        correlationId.map { "\(message) [correlation id \($0)]" } ?? message
    }
}

extension WriteOutcomeUnknown {
    /// HubSpot's correlation id, when HubSpot answered (a server error).
    public var correlationId: String? { (underlying as? CRMError)?.correlationId }
}
