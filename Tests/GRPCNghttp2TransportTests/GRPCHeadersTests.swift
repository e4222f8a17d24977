import GRPCCore
@testable import GRPCNghttp2Transport
import Testing

@Suite struct GRPCHeadersTests {
    @Test func base64DecodesPaddedAndUnpaddedAndRefusesGarbage() {
        for bytes: [UInt8] in [[], [1], [1, 2], [1, 2, 3], Array(0...255)] {
            let unpadded = Base64.encode(bytes)
            #expect(!unpadded.hasSuffix("="))
            #expect(Base64.decode(unpadded) == bytes)
            let padded = unpadded + String(repeating: "=", count: (4 - unpadded.utf8.count % 4) % 4)
            #expect(Base64.decode(padded) == bytes)
        }
        #expect(Base64.decode("AQID") == [1, 2, 3])
        #expect(Base64.decode("A") == nil)
        #expect(Base64.decode("AQ*D") == nil)
    }

    @Test func binaryMetadataIsDecodedAndBadBase64IsRefused() {
        var metadata = Metadata()
        #expect(GRPCHeaders.add(name: "trace-bin", value: "AQI", to: &metadata))
        #expect(GRPCHeaders.add(name: "caller", value: "orders", to: &metadata))
        #expect(Array(metadata[binaryValues: "trace-bin"]) == [[1, 2]])
        #expect(Array(metadata[stringValues: "caller"]) == ["orders"])
        #expect(!GRPCHeaders.add(name: "broken-bin", value: "%%%", to: &metadata))
    }

    @Test func grpcMessageIsPercentEncodedAsUTF8() {
        #expect(GRPCHeaders.percentEncode("plain text") == "plain text")
        #expect(GRPCHeaders.percentEncode("100%") == "100%25")
        #expect(GRPCHeaders.percentEncode("a\tb\n☺") == "a%09b%0A%E2%98%BA")
    }

    @Test func trailersCarryStatusMessageAndMetadataButNoTransportHeaders() {
        var metadata = Metadata()
        metadata.addString("abc", forKey: "x-correlation-id")
        metadata.addString("evil", forKey: "content-type")
        metadata.addBinary([0xFF], forKey: "x-blob-bin")
        let fields = GRPCHeaders.trailers(
            status: Status(code: .notFound, message: "no contact 42"), metadata: metadata, trailersOnly: false)
        let pairs = fields.map { "\($0.name)=\($0.value)" }
        #expect(pairs == ["grpc-status=5", "grpc-message=no contact 42", "x-correlation-id=abc", "x-blob-bin=/w"])
        let trailersOnly = GRPCHeaders.trailers(
            status: Status(code: .ok, message: ""), metadata: [:], trailersOnly: true)
        #expect(trailersOnly.map(\.name) == [":status", "content-type", "grpc-status"])
    }

    @Test func methodPathsParseIntoDescriptors() {
        let descriptor = HTTP2ServerConnection.methodDescriptor(path: "/hubspot.gateway.v1.Contacts/GetContact")
        #expect(descriptor?.service.fullyQualifiedService == "hubspot.gateway.v1.Contacts")
        #expect(descriptor?.method == "GetContact")
        for bad in ["", "/", "//x", "/Service/", "Service/Method", "/a/b/c"] {
            #expect(HTTP2ServerConnection.methodDescriptor(path: bad) == nil, "\(bad)")
        }
    }
}
