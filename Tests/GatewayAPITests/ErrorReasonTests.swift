import Foundation
import GatewayAPI
import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf
import Testing

/// The reasons the gateway sends are exactly the documented `hubspot.gateway.v1.ErrorReason`
/// values, so a caller comparing against the generated enum meets no stranger.
@Suite struct ErrorReasonTests {
    @Test func everyReasonIsAValueOfTheProtoEnumAndEveryValueIsSent() throws {
        let set = try Google_Protobuf_FileDescriptorSet(
            serializedBytes: Data(base64Encoded: GatewayProtoDescriptors.fileDescriptorSetBase64)!)
        let file = try #require(set.file.first { $0.name == "hubspot/gateway/v1/errors.proto" })
        let reasons = try #require(file.enumType.first { $0.name == "ErrorReason" })
        let documented = Set(reasons.value.map(\.name)).subtracting(["ERROR_REASON_UNSPECIFIED"])
        #expect(documented == Set(GatewayErrorReason.allCases.map(\.rawValue)))
    }

    @Test func anErrorMadeWithAReasonCarriesItsCodeAndTheRetryTrailers() {
        let error = GatewayErrors.error(.circuitOpen, "HubSpot is failing", retryAfter: .milliseconds(1500))
        #expect(error.code == .unavailable)
        #expect(error.metadata.firstString(GatewayErrors.Key.reason) == "CIRCUIT_OPEN")
        #expect(error.metadata.firstString(GatewayErrors.Key.retryPushback) == "1500")
        #expect(error.metadata.firstString(GatewayErrors.Key.retryAfterMilliseconds) == "1500")
    }
}
