/// An HTTP request as `CurlTransport` sends it.
public struct HTTPRequest: Sendable {
    public enum Method: String, Sendable {
        case get = "GET", post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE"
    }

    public var method: Method
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?

    public init(method: Method, url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// An HTTP response: status, headers in arrival order, and the whole body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The protocol the answer came over: "1.1", "2", …
    public var httpVersion: String

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8], httpVersion: String = "1.1") {
        self.status = status
        self.headers = headers
        self.body = body
        self.httpVersion = httpVersion
    }

    /// The last value of a header, matched case-insensitively (ASCII).
    public func header(_ name: String) -> String? {
        headers.last { asciiCaseInsensitiveEquals($0.name, name) }?.value
    }
}

/// Compares header names without allocating lower-cased copies.
func asciiCaseInsensitiveEquals(_ lhs: String, _ rhs: String) -> Bool {
    guard lhs.utf8.count == rhs.utf8.count else { return false }
    for (a, b) in zip(lhs.utf8, rhs.utf8) where a != b {
        let lowerA = (a >= 65 && a <= 90) ? a + 32 : a
        let lowerB = (b >= 65 && b <= 90) ? b + 32 : b
        if lowerA != lowerB { return false }
    }
    return true
}
