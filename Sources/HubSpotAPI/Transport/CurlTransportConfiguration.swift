/// Settings of one `CurlTransport`. Defaults suit HubSpot over HTTP/2 and a local simulator over HTTP/1.1.
public struct CurlTransportConfiguration: Sendable {
    /// Longest wait for a TCP/TLS connection.
    public var connectTimeout: Duration = .seconds(5)
    /// Largest response body accepted; a larger one fails with `responseTooLarge`.
    public var maxResponseBytes: Int = 32 * 1024 * 1024
    /// Connections per host (HTTP/2 multiplexes many requests on one; HTTP/1.1 needs one per request in flight).
    public var maxConnectionsPerHost: Int = 64
    /// Connections in all.
    public var maxTotalConnections: Int = 128
    /// Idle connections kept for reuse.
    public var connectionCacheSize: Int = 64
    /// Easy handles kept for reuse after their transfer ends.
    public var handlePoolSize: Int = 128
    /// Negotiate HTTP/2 over TLS (ALPN); plain `http://` stays HTTP/1.1.
    public var preferHTTP2 = true
    /// A CA bundle file; nil uses curl's built-in default.
    public var caBundlePath: String?
    /// Sent as `User-Agent`.
    public var userAgent = "hubspot-gateway"
    /// How long the transfer thread sleeps in `curl_multi_poll` when idle (it wakes at once for new work).
    public var idlePollInterval: Duration = .seconds(1)

    public init() {}
}
