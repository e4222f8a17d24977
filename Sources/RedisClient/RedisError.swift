/// Why a Redis command did not produce a reply.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection is up; `lastError` says why the last one went down.
    case notConnected(lastError: String?)
    /// The reply did not come within the command's timeout.
    case timeout(milliseconds: Int)
    /// The connection closed while the command was in flight.
    case connectionClosed
    /// The server sent bytes that are not RESP; the connection was closed.
    case protocolError(String)
    /// The URL could not be used.
    case invalidURL(String)
    /// The client was shut down.
    case shutDown
    /// TLS could not be set up (unreadable certificate files) or its handshake failed.
    case tls(String)
    /// Fewer replicas than asked for confirmed a durable write in time (the master has it; a
    /// failover now could lose it, so it was not acknowledged).
    case notReplicated(acknowledged: Int, wanted: Int)
    /// The server is a Redis Cluster node; the gateway needs a standalone Redis (or Sentinel).
    case clusterNotSupported

    public var description: String {
        switch self {
        case .notConnected(let last): "Redis is not connected" + (last.map { " (last error: \($0))" } ?? "")
        case .timeout(let ms): "Redis did not answer within \(ms) ms"
        case .connectionClosed: "the Redis connection closed with the command in flight"
        case .protocolError(let message): "Redis protocol error: \(message)"
        case .invalidURL(let message): "invalid Redis URL: \(message)"
        case .shutDown: "the Redis client was shut down"
        case .tls(let message): message
        case .notReplicated(let acknowledged, let wanted):
            "only \(acknowledged) of \(wanted) Redis replicas confirmed the write in time; it is not acknowledged"
        case .clusterNotSupported:
            "the Redis server runs in cluster mode, which the gateway does not support: its scripts and transactions span keys that Cluster would put on different nodes; use a standalone Redis or Redis Sentinel (see docs/redis.md)"
        }
    }
}
