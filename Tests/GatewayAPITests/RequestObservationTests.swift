import GatewayAPI
import GatewayCore
import GatewayProto
import GRPCCore
import Logging
import MetricsTestKit
import SwiftProtobuf
import Testing

@Suite(.serialized) struct RequestObservationTests {
    private let method = "hubspot.gateway.v1.ContactsService/GetContact"

    @Test func everyRPCIsCountedByMethodStatusAndCallingServiceAndTimed() async throws {
        try await GatewayRig.with { rig in
            _ = try await rig.client.getContact(.with { $0.id = rig.ids[0] }, metadata: GatewayRig.metadata())
            _ = try await rig.client.getContact(
                .with { $0.id = rig.ids[1] }, metadata: GatewayRig.metadata(key: GatewayRig.readerKey))
            let missing = await rpcError {
                _ = try await rig.client.getContact(.with { $0.id = "999999999" }, metadata: GatewayRig.metadata())
            }
            #expect(missing?.code == .notFound)
            let anonymous = await rpcError { _ = try await rig.client.getContact(.with { $0.id = rig.ids[0] }) }
            #expect(anonymous?.code == .unauthenticated)
            let denied = await rpcError {
                _ = try await rig.client.createContact(
                    .with { $0.contact.email = "x@example.com" },
                    metadata: GatewayRig.metadata(key: GatewayRig.readerKey))
            }
            #expect(denied?.code == .permissionDenied)

            let metrics = rig.requestMetrics
            let name = RequestObservationInterceptor.Name.requests
            #expect(
                try metrics.expectCounter(name, [("method", method), ("code", "ok"), ("caller", "orders")]).totalValue
                    == 1)
            #expect(
                try metrics.expectCounter(name, [("method", method), ("code", "ok"), ("caller", "analytics")])
                    .totalValue == 1)
            #expect(
                try metrics.expectCounter(name, [("method", method), ("code", "not_found"), ("caller", "orders")])
                    .totalValue == 1)
            #expect(
                try metrics.expectCounter(name, [("method", method), ("code", "unauthenticated"), ("caller", "none")])
                    .totalValue == 1)
            #expect(
                try metrics.expectCounter(
                    name,
                    [
                        ("method", "hubspot.gateway.v1.ContactsService/CreateContact"), ("code", "permission_denied"),
                        ("caller", "analytics"),
                    ]
                ).totalValue == 1)
            let timer = try metrics.expectTimer(
                RequestObservationInterceptor.Name.duration, [("method", method), ("caller", "orders")])
            #expect(timer.values.count == 2 && timer.values.allSatisfy { $0 > 0 })
            // Nothing is left counted as in flight once every call has finished.
            let inFlight = try metrics.expectMeter(RequestObservationInterceptor.Name.inFlight, [("method", method)])
            #expect(inFlight.values.last == 0)
            #expect(inFlight.values.max() ?? 0 >= 1)
        }
    }

    @Test func theCallersRequestIdComesBackAndANewOneIsMadeOtherwise() async throws {
        try await GatewayRig.with { rig in
            var metadata = GatewayRig.metadata()
            metadata.addString("order-7781-fetch", forKey: "x-request-id")
            let given = try await rig.client.getContact(.with { $0.id = rig.ids[0] }, metadata: metadata) { response in
                response.metadata.firstString("x-request-id")
            }
            #expect(given == "order-7781-fetch")
            let made = try await rig.client.getContact(.with { $0.id = rig.ids[0] }, metadata: GatewayRig.metadata()) {
                response in
                response.metadata.firstString("x-request-id")
            }
            #expect(made?.count == 16)
            // Refused calls carry it too, in the trailers-only response.
            let refused = await rpcError { _ = try await rig.client.getContact(.with { $0.id = rig.ids[0] }) }
            #expect(refused?.metadata.firstString("x-request-id")?.count == 16)
        }
    }

    @Test func theAccessLogNamesTheCallerTheMethodTheStatusAndHubSpotsCorrelationId() async throws {
        try await GatewayRig.with(accessLog: .errors) { rig in
            var metadata = GatewayRig.metadata()
            metadata.addString("req-stage-1", forKey: "x-request-id")
            _ = try await rig.client.getContact(.with { $0.id = rig.ids[0] }, metadata: GatewayRig.metadata())
            let refused = await rpcError {
                _ = try await rig.client.createContact(
                    .with {
                        $0.contact.email = "stage@example.com"; $0.contact.lifecycleStage = "no-such-stage"
                    }, metadata: metadata)
            }
            #expect(refused?.code == .invalidArgument)

            let lines = rig.accessLog.all
            // `errors` mode: the successful call wrote no line.
            #expect(lines.count == 1)
            let line = try #require(lines.first)
            #expect(line.metadata["request_id"] == "req-stage-1")
            #expect(line.metadata["caller"] == "orders")
            #expect(line.metadata["method"] == "hubspot.gateway.v1.ContactsService/CreateContact")
            #expect(line.metadata["code"] == "invalid_argument")
            #expect(line.metadata["duration_ms"] != nil)
            #expect(line.metadata["error"]?.description.contains("lifecyclestage") == true)
            let correlation = refused?.metadata.firstString(GatewayErrors.Key.correlationId)
            #expect(correlation != nil)
            #expect(line.metadata["hubspot_correlation_id"]?.description == correlation)
        }
        try await GatewayRig.with(accessLog: .all) { rig in
            _ = try await rig.client.getContact(.with { $0.id = rig.ids[0] }, metadata: GatewayRig.metadata())
            let lines = rig.accessLog.all
            #expect(lines.count == 1 && lines.first?.metadata["code"] == "ok" && lines.first?.level == .info)
        }
    }
}
