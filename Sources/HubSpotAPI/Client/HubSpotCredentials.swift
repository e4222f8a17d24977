import Foundation
import Synchronization

/// A secret string that never shows itself in descriptions, logs or errors.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The value; read it only to put it on the wire.
    public let revealed: String

    public init(_ value: String) { revealed = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

/// How the client authenticates to HubSpot.
public enum HubSpotCredentials: Sendable, CustomStringConvertible {
    /// A private-app token (`pat-…`), sent as `Authorization: Bearer`; it does not expire.
    case privateAppToken(Secret)
    /// An OAuth app install: access tokens are fetched and refreshed from the refresh token.
    case oauth(OAuthCredentials)
    /// An app of HubSpot's developer platform acting for itself (the webhooks journal): access
    /// tokens from the client-credentials grant, fetched again before they expire.
    case clientCredentials(ClientCredentials)

    public var description: String {
        switch self {
        case .privateAppToken: "private app token <redacted>"
        case .oauth(let credentials): "OAuth client \(credentials.clientId) <redacted>"
        case .clientCredentials(let credentials): "OAuth client credentials \(credentials.clientId) <redacted>"
        }
    }
}

/// An OAuth app's client credentials and an installing account's refresh token.
public struct OAuthCredentials: Sendable {
    public var clientId: String
    public var clientSecret: Secret
    public var refreshToken: Secret
    /// Token endpoint path on the HubSpot base URL (nil: the OAuth API's on the client's version).
    public var tokenPath: String?
    /// Refresh this long before the access token expires.
    public var refreshMargin: Duration = .seconds(300)

    public init(clientId: String, clientSecret: Secret, refreshToken: Secret) {
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.refreshToken = refreshToken
    }
}

/// An app's client id and secret for the client-credentials grant, and the scopes its tokens
/// carry (the webhooks journal: `developer.webhooks_journal.read`, …).
public struct ClientCredentials: Sendable {
    public var clientId: String
    public var clientSecret: Secret
    public var scopes: [String]
    /// Token endpoint path on the HubSpot base URL (nil: the OAuth API's on the client's version).
    public var tokenPath: String?
    /// Fetch a new token this long before the current one expires.
    public var refreshMargin: Duration = .seconds(300)

    public init(clientId: String, clientSecret: Secret, scopes: [String]) {
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.scopes = scopes
    }
}

/// Hands out a valid access token: refreshes before expiry and when HubSpot rejects the current
/// one, with concurrent callers sharing one refresh.
actor OAuthTokenManager {
    private let refreshMargin: Duration
    private let refresh: @Sendable () async throws -> (Secret, Duration)
    private var current: (token: Secret, expiresAt: ContinuousClock.Instant)?
    private var inFlight: Task<Secret, any Error>?
    private(set) var refreshCount = 0

    init(refreshMargin: Duration, refresh: @escaping @Sendable () async throws -> (Secret, Duration)) {
        self.refreshMargin = refreshMargin
        self.refresh = refresh
    }

    func token() async throws -> Secret {
        if let current, ContinuousClock.now < current.expiresAt - refreshMargin { return current.token }
        return try await refreshOnce()
    }

    /// HubSpot refused `token` (401): drop it so the next call refreshes, unless a newer one exists.
    func invalidate(_ token: Secret) {
        if current?.token == token { current = nil }
    }

    private func refreshOnce() async throws -> Secret {
        if let inFlight { return try await inFlight.value }
        let task = Task<Secret, any Error> { [refresh] in
            let (token, lifetime) = try await refresh()
            self.store(token, lifetime: lifetime)
            return token
        }
        inFlight = task
        defer { inFlight = nil }
        return try await task.value
    }

    private func store(_ token: Secret, lifetime: Duration) {
        refreshCount += 1
        current = (token, ContinuousClock.now + lifetime)
    }
}
