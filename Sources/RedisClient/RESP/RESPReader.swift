import CHiredis
import NIOCore

/// hiredis' reply reader: bytes in, complete replies out. One per connection, used on its
/// event loop only; the C reader never leaves this type.
final class RESPReader {
    private let reader: UnsafeMutablePointer<redisReader>

    struct ProtocolError: Error, CustomStringConvertible {
        var description: String
    }

    init() {
        guard let reader = redisReaderCreate() else { fatalError("redisReaderCreate failed: out of memory") }
        self.reader = reader
    }

    deinit {
        redisReaderFree(reader)
    }

    /// Hands bytes to the reader.
    func feed(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    /// The next complete reply, nil when more bytes are needed. Throws on a protocol error,
    /// after which the connection is unusable.
    func next() throws(ProtocolError) -> RESPValue? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
            let message = withUnsafeBytes(of: reader.pointee.errstr) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw ProtocolError(description: message.isEmpty ? "protocol error" : message)
        }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RESPValue {
        let value = reply.pointee
        func text() -> [UInt8] {
            guard let str = value.str, value.len > 0 else { return [] }
            return Array(UnsafeRawBufferPointer(start: str, count: value.len))
        }
        switch value.type {
        case REDIS_REPLY_STRING: return .bulkString(text())
        case REDIS_REPLY_STATUS: return .simpleString(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(RedisServerError(message: String(decoding: text(), as: UTF8.self)))
        case REDIS_REPLY_INTEGER: return .integer(value.integer)
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ARRAY:
            guard let elements = value.element else { return .array([]) }
            return .array((0..<value.elements).map { convert(elements[$0]!) })
        default: return .null
        }
    }
}

/// hiredis' binary-safe command formatter (`redisFormatCommandArgv`).
enum RESPCommandEncoder {
    /// Appends the RESP encoding of `arguments` (command name first) to `buffer`.
    static func encode(_ arguments: [[UInt8]], into buffer: inout ByteBuffer) {
        // One contiguous copy of the arguments, pinned while hiredis reads it; argv and the
        // lengths live on the stack.
        var flat: [UInt8] = []
        flat.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        for argument in arguments { flat.append(contentsOf: argument) }
        flat.append(0)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: arguments.count) { lengths in
            withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: arguments.count) { argv in
                flat.withUnsafeBufferPointer { bytes in
                    let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
                    var offset = 0
                    for (index, argument) in arguments.enumerated() {
                        lengths[index] = argument.count
                        argv[index] = base + offset
                        offset += argument.count
                    }
                    var target: UnsafeMutablePointer<CChar>?
                    let length = redisFormatCommandArgv(
                        &target, Int32(arguments.count), argv.baseAddress, lengths.baseAddress)
                    if let target, length > 0 {
                        buffer.writeBytes(UnsafeRawBufferPointer(start: target, count: Int(length)))
                    }
                    redisFreeCommand(target)
                }
            }
        }
    }
}
