import Foundation
import GatewayAPI
import GatewayCore
import GatewayProto
import GRPCCore
import GRPCInProcessTransport
import HubSpotAPI
import HubSpotSimulator
import Logging
import RedisClient
import SwiftProtobuf
import Testing
import TestSupport

@Suite struct AdminServiceTests {
    @Test func anOperatorSeesBudgetBreakerCacheAndRedis() async throws {
        try await GatewayRig.with { rig in
            let request = Hubspot_Gateway_V1_GetContactRequest.with { $0.id = rig.ids[0] }
            _ = try await rig.client.getContact(request, metadata: GatewayRig.metadata())
            _ = try await rig.client.getContact(request, metadata: GatewayRig.metadata())
            let status = try await rig.admin.getStatus(.init(), metadata: GatewayRig.metadata(key: GatewayRig.adminKey))
            #expect(status.breaker == .closed && status.redis == .up)
            #expect(status.cacheHitRatio == 0.5, "one miss, one hit")
            let daily = status.budget.first { $0.bucket == "daily" }
            #expect(
                daily.map { $0.used == 1 && $0.limit == 250_000 } == true,
                "one HubSpot call (the miss) went through the door today: \(status.budget)")
            #expect(status.budget.contains { $0.bucket == "general" && $0.limit == 8 })
            #expect(!status.replicaID.isEmpty)
            let denied = await rpcError { _ = try await rig.admin.getStatus(.init(), metadata: GatewayRig.metadata()) }
            #expect(denied?.code == .permissionDenied)
        }
    }
}
