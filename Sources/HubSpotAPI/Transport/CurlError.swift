import CCurl

/// A transfer that libcurl could not complete, with curl's own code and text.
public struct CurlError: Error, CustomStringConvertible, Sendable {
    /// The `CURLcode` value.
    public var code: Int32
    /// curl's message (its error buffer when it wrote one, else `curl_easy_strerror`).
    public var message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "curl error \(code): \(message)" }

    /// The transfer ran out of time (connect or total timeout).
    public var isTimeout: Bool { code == Int32(CURLE_OPERATION_TIMEDOUT.rawValue) }

    /// The request certainly never reached the server (no connection was made), so even a
    /// non-idempotent call can be retried safely.
    public var requestCertainlyNotSent: Bool {
        [CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT, CURLE_SSL_CONNECT_ERROR]
            .map { Int32($0.rawValue) }.contains(code)
    }

    /// A connection-level failure worth retrying (for idempotent calls, or when not sent).
    public var isConnectionFailure: Bool {
        requestCertainlyNotSent
            || [
                CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2,
                CURLE_HTTP2_STREAM,
            ]
            .map { Int32($0.rawValue) }.contains(code)
    }
}

/// Why `CurlTransport` refused or abandoned a request before curl finished it.
public enum CurlTransportError: Error, Equatable, Sendable {
    /// The transport was shut down.
    case shutDown
    /// The body grew past `maxResponseBytes`.
    case responseTooLarge(limit: Int)
    /// The request was malformed (e.g. a header with a newline).
    case invalidRequest(String)
}
