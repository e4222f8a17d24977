import Foundation
import HubSpotAPI

extension CRMError {
    /// `error` as the domain reports it: the client's errors become `CRMError`s (inside a
    /// `WriteOutcomeUnknown` too); the door's own errors and anything else pass unchanged.
    static func translating(_ error: any Error) -> any Error {
        switch error {
        case let error as HubSpotError: CRMError(error)
        case let error as CurlError:
            CRMError(.unavailable(status: nil), "HubSpot could not be reached: \(error)")
        case let error as HubSpotClientError: CRMError(error)
        case let error as WriteOutcomeUnknown: WriteOutcomeUnknown(underlying: translating(error.underlying))
        default: error
        }
    }

    init(_ error: HubSpotError) {
        let reason: Reason
        switch error.status {
        case 404: reason = .notFound
        case 409: reason = .alreadyExists(existingId: error.existingObjectId)
        case 400, 422:
            let property =
                error.errors.lazy.compactMap { $0.context?["propertyName"]?.first }.first
                ?? error.context["propertyName"]?.first ?? Self.propertyNamed(in: error.message)
            reason = .invalidInput(property: property)
        case 401: reason = .credentialsRejected(status: error.status)
        case 403: reason = .missingScopes(required: error.requiredScopes)
        case 429: reason = .rateLimited(retryAfter: error.retryAfter)
        default: reason = .unavailable(status: error.status)
        }
        self.init(reason, error.message, correlationId: error.correlationId)
    }

    init(_ error: HubSpotClientError) {
        switch error {
        case .deadlineExceeded: self.init(.deadlineExceeded, "the deadline passed before HubSpot answered")
        case .invalidArgument(let message): self.init(.invalidRequest, message)
        case .oauthRefreshFailed:
            self.init(.credentialsRejected(status: nil), "the gateway could not refresh its HubSpot OAuth token")
        case .undecodableResponse: self.init(.unexpectedAnswer, "\(error)")
        }
    }

    /// The first property `Property values were not valid: [{…"name":"x"…}]` names (HubSpot's
    /// per-input batch errors carry the property only inside the message).
    static func propertyNamed(in message: String) -> String? {
        guard message.hasPrefix("Property values were not valid"), let range = message.range(of: "\"name\":\"") else {
            return nil
        }
        let name = message[range.upperBound...].prefix { $0 != "\"" }
        return name.isEmpty ? nil : String(name)
    }
}
