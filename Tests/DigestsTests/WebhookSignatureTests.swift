import Foundation
import Testing
@testable import Digests

@Suite struct SHA256Tests {
    @Test func digestsMatchTheFIPSVectors() {
        #expect(
            hexString(SHA256.hash(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hexString(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            hexString(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            hexString(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test(arguments: [
        (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
        (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
        (119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"),
        (120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"),
    ])
    func paddingIsRightAtEveryBlockBoundary(length: Int, digest: String) {
        // Expected digests from Python's hashlib.
        #expect(hexString(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: length))) == digest)
    }

    @Test func hmacMatchesRFC4231() {
        // Test case 2 of RFC 4231.
        let mac = HMACSHA256.authenticationCode(
            for: Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8))
        #expect(hexString(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // Test case 6: a key longer than the block is hashed first.
        let longKey = [UInt8](repeating: 0xaa, count: 131)
        let mac6 = HMACSHA256.authenticationCode(
            for: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8), key: longKey)
        #expect(hexString(mac6) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func constantTimeEqualityComparesContentAndLength() {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
    }
}

@Suite struct HubSpotWebhookSignatureTests {
    let secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"

    @Test func v1MatchesHubSpotsPublishedVector() {
        let body =
            #"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#
        #expect(
            HubSpotWebhookSignature.v1(clientSecret: secret, body: Array(body.utf8))
                == "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de")
    }

    @Test func v2MatchesHubSpotsPublishedVector() {
        let signature = HubSpotWebhookSignature.v2(
            clientSecret: secret, method: "GET", uri: "https://www.example.com/webhook_uri", body: [])
        #expect(signature == "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e")
    }

    /// HubSpot publishes no v3 example; this one is built from its documented algorithm
    /// (base64 of HMAC-SHA256 over method + URI + body + timestamp) with Python's `hmac`, outside
    /// this code base. The URI's `%3A` is one of the escapes HubSpot decodes before signing.
    @Test func v3MatchesAVectorBuiltFromTheDocumentedAlgorithm() {
        let signature = HubSpotWebhookSignature.v3(
            clientSecret: secret, method: "POST", uri: "https://www.example.com/webhook_uri?a=b%3Ac",
            body: Array(#"[{"eventId":1,"subscriptionType":"contact.creation"}]"#.utf8),
            timestampMilliseconds: 1_700_000_000_000)
        #expect(signature == "IVUW0OZikSvVH0iRtRjnqzjkGMa8UsebvsiZdLutJPc=")
    }

    @Test func v3VerifiesItsOwnSignatureAndRejectsTampering() {
        let now = Date()
        let timestamp = Int64(now.timeIntervalSince1970 * 1000)
        let body = Array(#"[{"eventId":7}]"#.utf8)
        let uri = "https://gateway.example/webhooks?x=1"
        let signature = HubSpotWebhookSignature.v3(
            clientSecret: secret, method: "POST", uri: uri, body: body, timestampMilliseconds: timestamp)
        #expect(throws: Never.self) {
            try HubSpotWebhookSignature.verifyV3(
                clientSecret: secret, method: "POST", uri: uri, body: body, signature: signature,
                timestamp: String(timestamp), now: now)
        }
        #expect(throws: HubSpotWebhookSignature.VerificationFailure.signatureMismatch) {
            try HubSpotWebhookSignature.verifyV3(
                clientSecret: secret, method: "POST", uri: uri, body: body + [0x20], signature: signature,
                timestamp: String(timestamp), now: now)
        }
        #expect(throws: HubSpotWebhookSignature.VerificationFailure.signatureMismatch) {
            try HubSpotWebhookSignature.verifyV3(
                clientSecret: "other", method: "POST", uri: uri, body: body, signature: signature,
                timestamp: String(timestamp), now: now)
        }
    }

    @Test func v3RefusesOldTimestampsAndMissingHeaders() {
        let now = Date()
        let old = Int64(now.timeIntervalSince1970 * 1000) - 301_000
        let signature = HubSpotWebhookSignature.v3(
            clientSecret: secret, method: "POST", uri: "/w", body: [], timestampMilliseconds: old)
        do {
            try HubSpotWebhookSignature.verifyV3(
                clientSecret: secret, method: "POST", uri: "/w", body: [], signature: signature, timestamp: String(old),
                now: now)
            Issue.record("an old timestamp must be refused")
        } catch {
            guard case .timestampTooOld(let age) = error else {
                Issue.record("expected timestampTooOld, got \(error)"); return
            }
            #expect(age >= 301_000)
        }
        #expect(throws: HubSpotWebhookSignature.VerificationFailure.missingSignature) {
            try HubSpotWebhookSignature.verifyV3(
                clientSecret: secret, method: "POST", uri: "/w", body: [], signature: nil, timestamp: "1")
        }
        #expect(throws: HubSpotWebhookSignature.VerificationFailure.missingOrInvalidTimestamp) {
            try HubSpotWebhookSignature.verifyV3(
                clientSecret: secret, method: "POST", uri: "/w", body: [], signature: "x", timestamp: "abc")
        }
    }

    @Test func v3DecodesOnlyHubSpotsListOfEscapes() {
        #expect(
            HubSpotWebhookSignature.decodeV3URI("https%3A%2F%2Fh.example%2Fa%3Fb%40c%20d%2a")
                == "https://h.example/a?b@c%20d*")
    }
}
