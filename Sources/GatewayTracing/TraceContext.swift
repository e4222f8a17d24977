import Instrumentation

/// A span's W3C trace context: 16-byte trace id, 8-byte span id, the sampled flag.
public struct TraceContext: Sendable, Hashable {
    public var traceID: TraceID
    public var spanID: SpanID
    public var sampled: Bool

    public init(traceID: TraceID, spanID: SpanID, sampled: Bool) {
        self.traceID = traceID
        self.spanID = spanID
        self.sampled = sampled
    }

    /// Parses a `traceparent` header (version 00, or a later version read as 00, as the W3C
    /// spec asks); nil for anything malformed or all-zero ids.
    public init?(traceparent: String) {
        let parts = traceparent.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", Self.isHex(parts[0]),
            parts[0] != "00" || parts.count == 4,
            let traceID = TraceID(hex: parts[1]), let spanID = SpanID(hex: parts[2]),
            parts[3].count == 2, let flags = UInt8(parts[3], radix: 16)
        else { return nil }
        self.init(traceID: traceID, spanID: spanID, sampled: flags & 1 == 1)
    }

    /// The `traceparent` header of this context.
    public var traceparent: String { "00-\(traceID.hex)-\(spanID.hex)-\(sampled ? "01" : "00")" }

    private static func isHex(_ text: Substring) -> Bool { text.utf8.allSatisfy(\.isHexDigit) }
}

/// 16 random bytes, never all zero.
public struct TraceID: Sendable, Hashable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public static func random() -> TraceID {
        var id = TraceID(high: .random(in: .min ... .max), low: .random(in: .min ... .max))
        if id.high == 0 && id.low == 0 { id.low = 1 }
        return id
    }

    init?(hex: Substring) {
        guard hex.count == 32, let high = UInt64(hex.prefix(16), radix: 16),
            let low = UInt64(hex.suffix(16), radix: 16),
            high != 0 || low != 0, hex.utf8.allSatisfy(\.isLowerHexDigit)
        else { return nil }
        self.init(high: high, low: low)
    }

    public var hex: String { hex16(high) + hex16(low) }
}

/// 8 random bytes, never zero.
public struct SpanID: Sendable, Hashable {
    public var value: UInt64

    public init(value: UInt64) { self.value = value }

    public static func random() -> SpanID { SpanID(value: .random(in: 1 ... .max)) }

    init?(hex: Substring) {
        guard hex.count == 16, let value = UInt64(hex, radix: 16), value != 0, hex.utf8.allSatisfy(\.isLowerHexDigit)
        else { return nil }
        self.init(value: value)
    }

    public var hex: String { hex16(value) }
}

private func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

extension UInt8 {
    fileprivate var isHexDigit: Bool { isLowerHexDigit || (0x41...0x46).contains(self) }
    fileprivate var isLowerHexDigit: Bool { (0x30...0x39).contains(self) || (0x61...0x66).contains(self) }
}

extension InstrumentationContext {
    /// The trace context of the current span (set by `OTLPTracer`, or extracted from a
    /// caller's `traceparent`).
    public var traceContext: TraceContext? {
        get { self[TraceContextKey.self] }
        set { self[TraceContextKey.self] = newValue }
    }
}

private enum TraceContextKey: InstrumentationContextKey {
    typealias Value = TraceContext
}
