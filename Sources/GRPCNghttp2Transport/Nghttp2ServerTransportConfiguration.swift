/// Limits and timeouts of `Nghttp2ServerTransport`. Every default is what a production
/// deployment behind a Kubernetes Service should start with.
public struct Nghttp2ServerTransportConfiguration: Sendable {
    /// Address to listen on; port 0 picks a free port (see `listeningAddress`).
    public var host: String
    public var port: Int

    /// SETTINGS_MAX_CONCURRENT_STREAMS sent to every client (nghttp2 would otherwise allow
    /// unlimited streams). Streams beyond it are refused with REFUSED_STREAM.
    public var maxConcurrentStreams: Int = 1000
    /// SETTINGS_INITIAL_WINDOW_SIZE: how many request bytes a client may send on one stream
    /// before the handler reads them.
    public var initialStreamWindowSize: Int = 65_535
    /// The connection-level receive window.
    public var connectionWindowSize: Int = 1 << 20
    /// SETTINGS_MAX_FRAME_SIZE.
    public var maxFrameSize: Int = 16_384
    /// SETTINGS_MAX_HEADER_LIST_SIZE; a request whose headers exceed it is reset.
    public var maxHeaderListSize: Int = 16_384
    /// Largest request message; a larger one ends the RPC with RESOURCE_EXHAUSTED.
    public var maxReceiveMessageSize: Int = 4 << 20
    /// Largest response message a handler may write; a larger write fails with RESOURCE_EXHAUSTED.
    public var maxSendMessageSize: Int = 4 << 20
    /// Bytes of unread request messages, or of response messages the client has not taken
    /// yet, that one stream buffers before back-pressure applies.
    public var streamBufferSize: Int = 64 << 10

    /// Rapid-reset protection (CVE-2023-44487): a token bucket of stream resets per
    /// connection; a client exceeding it gets GOAWAY.
    public var streamResetBurst: Int = 1000
    public var streamResetRatePerSecond: Int = 33
    /// CONTINUATION frames allowed after one HEADERS (CVE-2024-28182).
    public var maxContinuations: Int = 8

    /// A connection without streams for this long is closed with GOAWAY.
    public var idleTimeout: Duration = .seconds(300)
    /// How often the server PINGs a client, and how long it waits for the answer before it
    /// considers the connection dead.
    public var keepaliveInterval: Duration = .seconds(120)
    public var keepaliveTimeout: Duration = .seconds(20)
    /// Connections are closed gracefully (GOAWAY) after this age, ± `maxConnectionAgeJitter`,
    /// so clients re-resolve and spread over replicas; nil keeps them forever.
    public var maxConnectionAge: Duration? = .seconds(1800)
    public var maxConnectionAgeJitter: Double = 0.1
    /// How long RPCs of an aged-out connection may take to finish before they are cancelled.
    public var maxConnectionAgeGrace: Duration = .seconds(30)
    /// After `beginGracefulShutdown()`, how long in-flight RPCs may take before they are cancelled.
    public var shutdownGracePeriod: Duration = .seconds(25)

    /// TLS (and mutual TLS) on the listener; nil serves cleartext HTTP/2 (h2c), for meshes
    /// whose sidecars terminate mTLS.
    public var tls: TLS?

    public init(host: String = "0.0.0.0", port: Int = 50051) {
        self.host = host
        self.port = port
    }
}
