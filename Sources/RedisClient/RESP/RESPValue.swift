/// A Redis reply (RESP2): simple string, error, integer, bulk string, nil or array.
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(RedisServerError)
    case integer(Int64)
    case bulkString([UInt8])
    case null
    case array([RESPValue])

    /// Text of a simple or bulk string (bulk bytes decoded as UTF-8).
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// Bytes of a bulk or simple string.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes): bytes
        case .simpleString(let text): Array(text.utf8)
        default: nil
        }
    }

    /// An integer reply, or a string holding one.
    public var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .bulkString, .simpleString: string.flatMap { Int64($0) }
        default: nil
        }
    }

    public var array: [RESPValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    public var isNull: Bool { self == .null }
}

/// An error reply of the Redis server (`-ERR …`, `-NOSCRIPT …`, …), with its text.
public struct RedisServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first word of the reply, which Redis uses as the error's kind.
    public enum Kind: Equatable, Sendable {
        case err, noScript, wrongType, loading, readOnly, noAuth, wrongPass, busy
        /// `OOM`: maxmemory reached under `noeviction`; the write was not made.
        case outOfMemory
        case other(String)
    }

    public var message: String

    public init(message: String) { self.message = message }

    public var kind: Kind {
        let prefix = message.prefix { $0 != " " }
        switch prefix {
        case "ERR": return .err
        case "NOSCRIPT": return .noScript
        case "WRONGTYPE": return .wrongType
        case "LOADING": return .loading
        case "READONLY": return .readOnly
        case "NOAUTH": return .noAuth
        case "WRONGPASS": return .wrongPass
        case "BUSY": return .busy
        case "OOM": return .outOfMemory
        default: return .other(String(prefix))
        }
    }

    public var description: String { "Redis error: \(message)" }
}
