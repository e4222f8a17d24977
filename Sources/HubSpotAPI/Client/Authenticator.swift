import Foundation

/// Supplies the bearer token of each call: the private-app token as is, or an OAuth access
/// token kept fresh by `OAuthTokenManager`.
struct Authenticator: Sendable {
    private let privateToken: Secret?
    private let oauth: OAuthTokenManager?

    init(
        credentials: HubSpotCredentials, transport: CurlTransport, baseURL: String, timeout: Duration,
        version: HubSpotAPIVersion
    ) {
        let tokenURL = baseURL + HubSpotAPIFamily.oauth.root(version) + "/token"
        switch credentials {
        case .privateAppToken(let token):
            privateToken = token
            oauth = nil
        case .oauth(let credentials):
            privateToken = nil
            oauth = OAuthTokenManager(refreshMargin: credentials.refreshMargin) {
                try await Self.grant(
                    [
                        ("grant_type", "refresh_token"), ("client_id", credentials.clientId),
                        ("client_secret", credentials.clientSecret.revealed),
                        ("refresh_token", credentials.refreshToken.revealed),
                    ], transport: transport, url: credentials.tokenPath.map { baseURL + $0 } ?? tokenURL,
                    timeout: timeout)
            }
        case .clientCredentials(let credentials):
            privateToken = nil
            oauth = OAuthTokenManager(refreshMargin: credentials.refreshMargin) {
                try await Self.grant(
                    [
                        ("grant_type", "client_credentials"), ("client_id", credentials.clientId),
                        ("client_secret", credentials.clientSecret.revealed),
                        ("scope", credentials.scopes.joined(separator: " ")),
                    ], transport: transport, url: credentials.tokenPath.map { baseURL + $0 } ?? tokenURL,
                    timeout: timeout)
            }
        }
    }

    func token() async throws -> Secret {
        if let privateToken { return privateToken }
        return try await oauth!.token()
    }

    /// Forgets a token HubSpot refused; true when a fresh one can be fetched (OAuth only).
    func invalidate(_ token: Secret) async -> Bool {
        guard let oauth else { return false }
        await oauth.invalidate(token)
        return true
    }

    /// How many OAuth refreshes happened (tests and metrics).
    var refreshCount: Int {
        get async { await oauth?.refreshCount ?? 0 }
    }

    /// `POST /oauth/v1/token` with a grant's `fields`, form-encoded (the refresh-token grant of
    /// an install, or the client-credentials grant of the app itself).
    private static func grant(
        _ fields: [(String, String)], transport: CurlTransport, url: String, timeout: Duration
    ) async throws -> (Secret, Duration) {
        func field(_ name: String, _ value: String) -> String {
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: .urlQueryValueAllowed) ?? value)"
        }
        let form = fields.map(field).joined(separator: "&")
        let response = try await transport.send(
            HTTPRequest(
                method: .post, url: url,
                headers: [
                    ("Content-Type", "application/x-www-form-urlencoded;charset=utf-8"), ("Accept", "application/json"),
                ],
                body: Array(form.utf8)), timeout: timeout)
        guard response.status == 200 else {
            throw HubSpotClientError.oauthRefreshFailed(
                "HTTP \(response.status): \(HubSpotError(response: response).message)")
        }
        struct Answer: Decodable {
            var access_token: String
            var expires_in: Int
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(response.body)) else {
            throw HubSpotClientError.oauthRefreshFailed(
                "the token endpoint answered without access_token and expires_in")
        }
        return (Secret(answer.access_token), .seconds(answer.expires_in))
    }
}
