import Foundation
import Time

/// HubSpot's webhook request signatures (v1, v2 and v3), for signing (the simulator) and
/// verifying (the gateway's webhook receiver).
///
/// v3 is what HubSpot sends today: base64(HMAC-SHA256(clientSecret, method + uri + body + timestamp)),
/// with a few percent-escapes of the URI decoded first and requests older than five minutes refused.
public enum HubSpotWebhookSignature {
    /// The percent-escapes HubSpot decodes in the URI before signing with v3.
    static let v3DecodedEscapes: [String: String] = [
        "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
        "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
    ]

    /// The v3 signature (`X-HubSpot-Signature-v3`) of a request.
    public static func v3(
        clientSecret: String, method: String, uri: String, body: [UInt8], timestampMilliseconds: Int64
    ) -> String {
        var message = Array(method.utf8)
        message += Array(decodeV3URI(uri).utf8)
        message += body
        message += Array(String(timestampMilliseconds).utf8)
        let mac = HMACSHA256.authenticationCode(for: message, key: Array(clientSecret.utf8))
        return Data(mac).base64EncodedString()
    }

    /// The v1 signature (`X-HubSpot-Signature`, version v1): hex(SHA-256(secret + body)).
    public static func v1(clientSecret: String, body: [UInt8]) -> String {
        hexString(SHA256.hash(Array(clientSecret.utf8) + body))
    }

    /// The v2 signature: hex(SHA-256(secret + method + uri + body)).
    public static func v2(clientSecret: String, method: String, uri: String, body: [UInt8]) -> String {
        hexString(SHA256.hash(Array((clientSecret + method + uri).utf8) + body))
    }

    /// Why a v3 signature was refused.
    public enum VerificationFailure: Error, Equatable, Sendable {
        case missingSignature
        case missingOrInvalidTimestamp
        case timestampTooOld(ageMilliseconds: Int64)
        case signatureMismatch
    }

    /// Checks a v3 signature and its timestamp (`maxAge`, five minutes by HubSpot's rule);
    /// throws why it was refused.
    public static func verifyV3(
        clientSecret: String,
        method: String,
        uri: String,
        body: [UInt8],
        signature: String?,
        timestamp: String?,
        now: Date = Date(),
        maxAge: Duration = .seconds(300)
    ) throws(VerificationFailure) {
        guard let signature, !signature.isEmpty else { throw .missingSignature }
        guard let timestamp, let milliseconds = Int64(timestamp) else { throw .missingOrInvalidTimestamp }
        let age = now.epochMilliseconds - milliseconds
        let maxAgeMilliseconds = maxAge.milliseconds
        if age > maxAgeMilliseconds { throw .timestampTooOld(ageMilliseconds: age) }
        let expected = v3(
            clientSecret: clientSecret, method: method, uri: uri, body: body, timestampMilliseconds: milliseconds)
        guard constantTimeEquals(Array(expected.utf8), Array(signature.utf8)) else { throw .signatureMismatch }
    }

    /// Checks a v1 (`version` "v1") or v2 signature (`X-HubSpot-Signature`), in constant time.
    /// These carry no timestamp: an old request cannot be told from a new one, which is why v3
    /// is the default and v1/v2 are accepted only when configured.
    public static func verify(
        version: String, clientSecret: String, method: String, uri: String, body: [UInt8], signature: String?
    ) throws(VerificationFailure) {
        guard let signature, !signature.isEmpty else { throw .missingSignature }
        let expected: String
        switch version.lowercased() {
        case "v1": expected = v1(clientSecret: clientSecret, body: body)
        case "v2": expected = v2(clientSecret: clientSecret, method: method, uri: uri, body: body)
        default: throw .signatureMismatch
        }
        guard constantTimeEquals(Array(expected.utf8), Array(signature.lowercased().utf8)) else {
            throw .signatureMismatch
        }
    }

    /// Decodes exactly the escapes HubSpot decodes (case-insensitively), leaving every other one as is.
    static func decodeV3URI(_ uri: String) -> String {
        var out = ""
        var index = uri.startIndex
        while index < uri.endIndex {
            if uri[index] == "%", let end = uri.index(index, offsetBy: 3, limitedBy: uri.endIndex) {
                let escape = uri[index..<end].uppercased()
                if let decoded = v3DecodedEscapes[escape] {
                    out += decoded
                    index = end
                    continue
                }
            }
            out.append(uri[index])
            index = uri.index(after: index)
        }
        return out
    }
}
