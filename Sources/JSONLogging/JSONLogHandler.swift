#if canImport(Glibc)
    import Glibc
    private let systemWrite = Glibc.write
#elseif canImport(Darwin)
    import Darwin
    private let systemWrite = Darwin.write
#endif
import JSONCore
import Logging

/// A swift-log handler that writes one JSON object per line — `time`, `level`, `logger`,
/// `message`, `source`, then the metadata as members — for log collectors to index. Strings
/// given as secrets are replaced by `[redacted]` wherever they appear, a last guard against a
/// token reaching the logs through an error message.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    private let label: String
    private let secrets: [String]
    private let output: @Sendable ([UInt8]) -> Void

    /// Writes to standard error.
    public init(label: String, redacting secrets: [String] = [], metadataProvider: Logger.MetadataProvider? = nil) {
        self.init(
            label: label, redacting: secrets, metadataProvider: metadataProvider, output: JSONLogHandler.standardError)
    }

    /// Hands every line (with its newline) to `output`.
    public init(
        label: String, redacting secrets: [String] = [], metadataProvider: Logger.MetadataProvider? = nil,
        output: @escaping @Sendable ([UInt8]) -> Void
    ) {
        self.label = label
        // Short strings would redact ordinary words; a secret worth the name is longer.
        self.secrets = secrets.filter { $0.utf8.count >= 8 }
        self.metadataProvider = metadataProvider
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let given = event.metadata { merged.merge(given) { _, new in new } }

        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.member("time", Self.timestamp())
        writer.member("level", event.level.rawValue)
        writer.member("logger", label)
        writer.member("message", redact("\(event.message)"))
        writer.member("source", event.source)
        for key in merged.keys.sorted() where !Self.reserved.contains(key) {
            writer.key(key)
            write(merged[key]!, to: &writer)
        }
        writer.endObject()
        output(writer.bytes + [UInt8(ascii: "\n")])
    }

    private static let reserved: Set<String> = ["time", "level", "logger", "message", "source"]

    private func write(_ value: Logger.Metadata.Value, to writer: inout JSONWriter) {
        switch value {
        case .string(let text): writer.string(redact(text))
        case .stringConvertible(let convertible):
            switch convertible {
            case let number as Int: writer.int(number)
            case let number as Int64: writer.int(number)
            case let number as Double where number.isFinite: writer.value(.number(number))
            case let flag as Bool: writer.bool(flag)
            default: writer.string(redact(convertible.description))
            }
        case .array(let values):
            writer.beginArray()
            for value in values { write(value, to: &writer) }
            writer.endArray()
        case .dictionary(let members):
            writer.beginObject()
            for key in members.keys.sorted() {
                writer.key(key)
                write(members[key]!, to: &writer)
            }
            writer.endObject()
        }
    }

    private func redact(_ text: String) -> String {
        var text = text
        for secret in secrets where text.contains(secret) {
            text = text.split(separator: secret, omittingEmptySubsequences: false).joined(separator: "[redacted]")
        }
        return text
    }

    /// UTC, millisecond precision: 2026-11-23T10:15:30.123Z.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }

    /// One `write(2)` per line, so concurrent lines never interleave.
    @Sendable static func standardError(_ line: [UInt8]) {
        line.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = systemWrite(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}
