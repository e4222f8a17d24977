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
            // One HubSpot call (the miss) went through the door today, charged to its service.
            let spent = status.serviceDays.reduce(0) { $0 + $1.spent }
            #expect(spent == 1, "\(status.serviceDays)")
            #expect(status.hubspot.max == 100 && status.hubspot.interval.seconds == 10, "\(status.hubspot)")
            #expect(status.hubspot.fleetRate == 8, "alone on the token, the fleet keeps its configured rate")
            #expect(status.budget.contains { $0.bucket == "general" && $0.limit == 8 })
            #expect(!status.replicaID.isEmpty)
            let denied = await rpcError { _ = try await rig.admin.getStatus(.init(), metadata: GatewayRig.metadata()) }
            #expect(denied?.code == .permissionDenied)
        }
    }
}
