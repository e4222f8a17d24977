/// HubSpot's answer to a call passed through as is: status, the headers a caller may need
/// (content type, correlation id, rate limits) and the body bytes.
public struct PassthroughAnswer: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The headers of HubSpot's answer that go back to the caller.
    static let forwardedHeaders = ["Content-Type", "X-HubSpot-Correlation-Id"]

    init(_ response: HTTPResponse) {
        status = response.status
        headers = response.headers.filter { header in
            Self.forwardedHeaders.contains { asciiCaseInsensitiveEquals($0, header.name) }
                || header.name.lowercased().hasPrefix("x-hubspot-ratelimit-")
        }
        body = response.body
    }
}

extension HubSpotClient {
    /// Any HubSpot path, answered as HubSpot answers it: a 2xx, or a 4xx other than 429 (the
    /// caller's own mistake, HubSpot's body unchanged), comes back; a 429, a 401 (the gateway's
    /// credentials), a 5xx or a transport failure throws like any call, so the door's breaker
    /// counts it and its policy retries safe methods. `path` starts with `/`; `query` is the
    /// raw query string (no `?`).
    public func passthrough(
        _ method: HTTPRequest.Method, path: String, query: String, contentType: String?, body: [UInt8]?,
        options: CallOptions = .init()
    ) async throws -> PassthroughAnswer {
        guard path.hasPrefix("/") else { throw HubSpotClientError.invalidArgument("a HubSpot path starts with /") }
        do {
            return try await exchange(
                method, query.isEmpty ? path : path + "?" + query, query: QueryItems(), rawBody: body,
                contentType: contentType ?? "application/json", endpoint: "passthrough", options: options,
                idempotentDefault: method == .get, read: PassthroughAnswer.init
            ).0
        } catch let error as HubSpotError
            where (400..<500).contains(error.status) && error.status != 429 && error.status != 401
        {
            guard let response = error.response else { throw error }
            return PassthroughAnswer(response)
        }
    }
}
