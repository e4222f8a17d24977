import HubSpotAPI

/// A call to a HubSpot path the gateway does not model, as the caller wrote it.
public struct PassthroughRequest: Sendable {
    public var method: String
    /// HubSpot's path, starting with `/` (percent-encoded as sent).
    public var path: String
    /// The raw query string, without `?`.
    public var query: String
    public var contentType: String?
    public var body: [UInt8]?

    public init(method: String, path: String, query: String = "", contentType: String? = nil, body: [UInt8]? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.contentType = contentType
        self.body = body
    }
}

/// HubSpot's answer to a passed-through call, as HubSpot sent it: its status, the headers a
/// caller may need (content type, correlation id, rate limits) and its body.
public struct PassthroughReply: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
}

/// HubSpot's paths the gateway does not model (communication preferences, marketing emails,
/// files, a beta endpoint), for the services that need one call more than the gateway offers:
/// each goes through the door like any call — the fleet's budget (search's for a `…/search`
/// POST), the caller's fair share, the breaker, retries of GETs — and HubSpot's answer comes
/// back as it is, with the gateway's view of the budget added (`X-Gateway-Budget-*`: a service
/// that paces itself by HubSpot's headers sees the fleet's rate and its own quota). A service may call only the prefixes its key names
/// (`hubspot.passthrough:/communication-preferences/,…`); `/crm/` is never passed through, as
/// the gateway serves it itself and keeps its cache coherent with what it writes there.
public struct Passthrough: Sendable {
    let upstream: HubSpotUpstream

    public func send(_ request: PassthroughRequest, _ terms: CallTerms) async throws -> PassthroughReply {
        guard let method = HTTPRequest.Method(rawValue: request.method.uppercased()) else {
            throw GatewayFailure(
                .invalidRequest, "\(request.method) cannot be passed through (GET, POST, PUT, PATCH, DELETE)")
        }
        try Self.check(request.path)
        guard let caller = Caller.current, caller.mayPassThrough(request.path) else {
            throw CallerNotAllowed(
                service: Caller.current?.service ?? "unknown",
                scope: CallerKeys.passthroughScope + Self.prefixSuggestion(request.path))
        }
        let segments = request.path.split(separator: "/")
        let kind: UpstreamCallKind = method == .post && segments.last == "search" ? .search : .general
        let answer = try await upstream.perform(terms, kind, idempotent: method == .get) { client, options in
            try await client.passthrough(
                method, path: request.path, query: request.query, contentType: request.contentType,
                body: request.body, options: options)
        }
        return PassthroughReply(
            status: answer.status, headers: answer.headers + upstream.limiter.budgetHeaders(for: caller.share),
            body: answer.body)
    }

    /// Refuses a path that is not plainly one of HubSpot's: one that does not start with `/`,
    /// walks up (`..`), has empty segments, backslashes, spaces or control characters — or is
    /// under `/crm/`, which the gateway serves itself.
    static func check(_ path: String) throws(GatewayFailure) {
        let lowered = path.lowercased()
        let segments = lowered.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let plain =
            path.hasPrefix("/") && path.count <= 2048
            && !segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." || $0 == "%2e%2e" || $0 == "%2e" })
            && path.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && $0 != "\\" && $0 != "#" }
        guard plain else {
            throw GatewayFailure(.invalidRequest, "\(path.prefix(80)) is not a HubSpot path that can be passed through")
        }
        guard !lowered.hasPrefix("/crm/") else {
            throw GatewayFailure(
                .invalidRequest,
                "the gateway serves /crm/ itself (its cache stays coherent only with what it writes there); passthrough is for HubSpot's other APIs"
            )
        }
    }

    /// The prefix a key would need for `path`: its first segment.
    static func prefixSuggestion(_ path: String) -> String {
        "/" + (path.split(separator: "/").first.map(String.init) ?? "") + "/"
    }
}
