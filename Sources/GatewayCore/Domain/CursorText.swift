import Foundation

/// The opaque text of a cursor handed to callers: its fields joined by newlines, in base64url
/// without padding (safe in URLs, headers and JSON as is). Written and read here only.
enum CursorText {
    static func encode(_ fields: [String]) -> String {
        Data(fields.joined(separator: "\n").utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The fields of a text `encode` made; nil for any other text.
    static func decode(_ text: String) -> [String]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let decoded = String(data: data, encoding: .utf8) else {
            return nil
        }
        return decoded.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}
