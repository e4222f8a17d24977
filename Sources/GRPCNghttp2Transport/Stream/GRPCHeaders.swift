import GRPCCore

/// gRPC-over-HTTP/2 header conventions: metadata ⇄ header fields, `-bin` values, status
/// trailers and the percent-encoding of `grpc-message`.
enum GRPCHeaders {
    /// Headers that are the transport's business, never passed to handlers as metadata.
    static func isTransportHeader(_ name: String) -> Bool {
        name.utf8.first == UInt8(ascii: ":") || name == "content-type" || name == "te"
            || name == "grpc-encoding" || name == "grpc-accept-encoding"
    }

    /// Whether `value` is a `grpc-timeout` as the spec writes it: 1 to 8 ASCII digits, then
    /// one unit of H, M, S, m, u or n.
    static func isValidTimeout(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard (2...9).contains(bytes.count), let unit = bytes.last, Array("HMSmun".utf8).contains(unit) else {
            return false
        }
        return bytes.dropLast().allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// Adds one request header to `metadata`; false when a `-bin` value is not base64.
    static func add(name: String, value: String, to metadata: inout Metadata) -> Bool {
        if name.hasSuffix("-bin") {
            guard let bytes = Base64.decode(value) else { return false }
            metadata.addBinary(bytes, forKey: name)
        } else {
            metadata.addString(value, forKey: name)
        }
        return true
    }

    /// Header fields for `metadata` (binary values base64-encoded without padding, as the gRPC
    /// spec asks senders to do). Transport-owned and pseudo headers a handler set are dropped.
    static func fields(for metadata: Metadata, into fields: inout [HeaderField]) {
        for (key, value) in metadata {
            let name = key.lowercased()
            if isTransportHeader(name) || name == "grpc-status" || name == "grpc-message" || name == "grpc-timeout" {
                continue
            }
            switch value {
            case .string(let string):
                fields.append(HeaderField(name, string))
            case .binary(let bytes):
                fields.append(HeaderField(name.hasSuffix("-bin") ? name : name + "-bin", Base64.encode(bytes)))
            }
        }
    }

    /// The response headers that start a gRPC response.
    static func responseHead(_ metadata: Metadata) -> [HeaderField] {
        var fields = [HeaderField(":status", "200"), HeaderField("content-type", "application/grpc")]
        Self.fields(for: metadata, into: &fields)
        return fields
    }

    /// Trailers carrying a status (and for Trailers-Only, also `:status` and `content-type`).
    static func trailers(status: Status, metadata: Metadata, trailersOnly: Bool) -> [HeaderField] {
        var fields: [HeaderField] = []
        if trailersOnly {
            fields.append(HeaderField(":status", "200"))
            fields.append(HeaderField("content-type", "application/grpc"))
        }
        fields.append(HeaderField("grpc-status", String(status.code.rawValue)))
        if !status.message.isEmpty {
            fields.append(HeaderField("grpc-message", percentEncode(status.message)))
        }
        Self.fields(for: metadata, into: &fields)
        return fields
    }

    /// An HTTP-level refusal (non-gRPC request) that still tells a gRPC client what happened.
    static func refusal(httpStatus: Int, code: Status.Code, message: String) -> [HeaderField] {
        [
            HeaderField(":status", String(httpStatus)),
            HeaderField("content-type", "application/grpc"),
            HeaderField("grpc-status", String(code.rawValue)),
            HeaderField("grpc-message", percentEncode(message)),
        ]
    }

    /// Percent-encodes every byte outside printable ASCII, and `%` itself (gRPC's
    /// `grpc-message` rule), so unicode survives as UTF-8.
    static func percentEncode(_ message: String) -> String {
        let utf8 = message.utf8
        if utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: "%") }) { return message }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count * 3)
        for byte in utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Standard base64 (RFC 4648 §4) as gRPC uses it for `-bin` metadata.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// Encodes without padding.
    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            out.append(alphabet[Int(value >> 6 & 63)])
            out.append(alphabet[Int(value & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let value = UInt32(bytes[index]) << 16
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
        } else if rest == 2 {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            out.append(alphabet[Int(value >> 6 & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes padded or unpadded input; nil for anything else.
    static func decode(_ string: String) -> [UInt8]? {
        var input = Array(string.utf8)
        while input.last == UInt8(ascii: "=") { input.removeLast() }
        guard input.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in input {
            let value = reverse[Int(byte)]
            guard value != 0xFF else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out
    }
}
