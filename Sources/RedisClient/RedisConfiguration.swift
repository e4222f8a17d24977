/// Where and how to reach Redis. Every timeout has a default suited to a rate limiter that
/// must not wait on a slow Redis.
public struct RedisConfiguration: Sendable {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
        /// The master that these Sentinels name `masterName`, found again after every failover.
        case sentinel(nodes: [SentinelNode], masterName: String)
    }

    /// One Redis Sentinel's address.
    public struct SentinelNode: Sendable, Equatable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int = 26379) {
            self.host = host
            self.port = port
        }
    }

    /// TLS to Redis (`rediss://`), as managed Redis services require.
    public struct TLS: Sendable, Equatable {
        /// PEM file of the CAs that sign the server's certificate; nil: the system's trust store.
        public var caFile: String?
        /// The name the server's certificate must carry (and SNI); nil: the endpoint's host
        /// (an IP address host is checked against the certificate's IP entries).
        public var serverName: String?
        /// Client certificate chain and key (PEM), for servers that require client certificates.
        public var certificateFile: String?
        public var keyFile: String?
        /// Check the certificate's chain but not its name (for servers reached through an
        /// address their certificate does not name); never the default.
        public var skipHostnameVerification = false

        public init(
            caFile: String? = nil, serverName: String? = nil, certificateFile: String? = nil, keyFile: String? = nil
        ) {
            self.caFile = caFile
            self.serverName = serverName
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    public var endpoint: Endpoint
    /// nil: plain TCP (`redis://`).
    public var tls: TLS?
    public var username: String?
    /// Sent with AUTH; never logged.
    public var password: String?
    public var database: Int = 0
    /// Sent with AUTH to the Sentinels (which have their own `requirepass`); never logged.
    public var sentinelPassword: String?
    /// Replicas that must hold an acknowledged write (`WAIT`) before `durable:` commands
    /// succeed, so that a failover to a replica keeps it; 0: the master's word is enough.
    public var durableReplicas: Int = 0
    /// How long a `durable:` command waits for those replicas before it fails.
    public var durableTimeout: Duration = .milliseconds(500)
    /// Connections commands are spread over (each pipelines many commands).
    public var poolSize: Int = 4
    /// Default timeout of one command (overridable per call).
    public var commandTimeout: Duration = .milliseconds(50)
    public var connectTimeout: Duration = .seconds(1)
    /// First reconnect delay; doubles per failure up to `maxReconnectDelay`, with full jitter.
    public var reconnectBaseDelay: Duration = .milliseconds(50)
    public var maxReconnectDelay: Duration = .seconds(2)

    public init(endpoint: Endpoint) { self.endpoint = endpoint }

    /// Parses `redis://[user:password@]host[:port][/db]` (`rediss://` for TLS, with the
    /// system's trust store until `tls` says otherwise),
    /// `redis-sentinel://[user:password@]host[:port][,host[:port]…]/masterName[/db]` (the
    /// credentials are the master's; Sentinels default to port 26379) or
    /// `unix:///path/to/socket[?db=N]`.
    public init(url: String) throws(RedisError) {
        if url.hasPrefix("unix://") {
            let rest = url.dropFirst("unix://".count)
            let parts = rest.split(separator: "?", maxSplits: 1)
            guard let path = parts.first, path.hasPrefix("/") else {
                throw .invalidURL("unix URLs need an absolute socket path: unix:///path/to/redis.sock")
            }
            self.init(endpoint: .unix(path: String(path)))
            if parts.count == 2 {
                for pair in parts[1].split(separator: "&") where pair.hasPrefix("db=") {
                    guard let db = Int(pair.dropFirst(3)), db >= 0 else {
                        throw .invalidURL("db must be a non-negative integer")
                    }
                    database = db
                }
            }
            return
        }
        let scheme = url.prefix { $0 != ":" }
        guard ["redis", "rediss", "redis-sentinel"].contains(scheme), url.dropFirst(scheme.count).hasPrefix("://")
        else {
            throw .invalidURL(
                "use redis://host:port/db, rediss://host:port/db (TLS), redis-sentinel://sentinel:26379,…/master/db or unix:///path (got \(url.prefix(8))…)"
            )
        }
        var rest = Substring(url.dropFirst(scheme.count + 3))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : Self.percentDecode(user)
                password = Self.percentDecode(credentials[credentials.index(after: colon)...])
            } else {
                password = Self.percentDecode(credentials)
            }
        }
        let hosts = rest.prefix { $0 != "/" }
        var path = rest.dropFirst(hosts.count).dropFirst()
        if scheme == "redis-sentinel" {
            let nodes = try hosts.split(separator: ",").map { (item) throws(RedisError) in
                let (host, port) = try Self.hostAndPort(item, defaultPort: 26379)
                return SentinelNode(host: host, port: port)
            }
            guard !nodes.isEmpty else {
                throw .invalidURL("name at least one Sentinel: redis-sentinel://host:26379/master")
            }
            let master = path.prefix { $0 != "/" }
            guard !master.isEmpty else {
                throw .invalidURL("the master's name is missing: redis-sentinel://host:26379/master[/db]")
            }
            path = path.dropFirst(master.count).dropFirst()
            self.init(endpoint: .sentinel(nodes: nodes, masterName: Self.percentDecode(master)))
        } else {
            guard !hosts.contains(",") else {
                throw .invalidURL("several hosts are for Sentinels only: redis-sentinel://host1,host2/master")
            }
            let (host, port) = try Self.hostAndPort(hosts, defaultPort: 6379)
            self.init(endpoint: .tcp(host: host, port: port))
        }
        if scheme == "rediss" { tls = TLS() }
        self.username = username
        self.password = password
        if !path.isEmpty {
            guard let number = Int(path), number >= 0 else {
                throw .invalidURL("the database must be a non-negative integer, was \(path)")
            }
            database = number
        }
    }

    private static func hostAndPort(_ text: Substring, defaultPort: Int) throws(RedisError) -> (String, Int) {
        var host = String(text)
        var port = defaultPort
        if let colon = text.lastIndex(of: ":"), !text.hasSuffix("]") {
            host = String(text[..<colon])
            guard let parsed = Int(text[text.index(after: colon)...]), (1...65535).contains(parsed) else {
                throw .invalidURL("port must be a number from 1 to 65535")
            }
            port = parsed
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw .invalidURL("the host is missing") }
        return (host, port)
    }

    private static func percentDecode(_ text: Substring) -> String {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "%"), bytes.count >= 2,
                let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
            {
                out.append(value)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
