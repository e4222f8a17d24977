import GatewayAPI
import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf
import Testing

/// Scopes per object type: a service allowed contacts only reads and writes contacts and is
/// told, naming the scope, that deals and companies are not its to touch. And GetStatus shows
/// what each service got of the budget, with its weight.
@Suite struct ObjectAccessTests {
    static let marketing = GatewayRig.metadata(key: GatewayRig.contactsOnlyKey)

    @Test func aServiceScopedToContactsIsRefusedOtherTypesNamingTheScope() async throws {
        try await GatewayRig.with(contacts: 3) { rig in
            let contact = try await rig.client.getContact(.with { $0.id = rig.ids[0] }, metadata: Self.marketing)
            #expect(contact.contact.id == rig.ids[0])

            let read = await rpcError {
                _ = try await rig.deals.getDeal(.with { $0.id = "1" }, metadata: Self.marketing)
            }
            #expect(read?.code == .permissionDenied)
            #expect(read?.metadata.firstString(GatewayErrors.Key.reason) == "CALLER_NOT_ALLOWED")
            #expect(read?.message.contains("crm.objects.deals.read") == true)

            let write = await rpcError {
                _ = try await rig.deals.createDeal(
                    .with {
                        $0.deal = .with {
                            $0.name = "Not mine"; $0.pipeline = "default"
                        }
                    }, metadata: Self.marketing)
            }
            #expect(write?.code == .permissionDenied && write?.message.contains("crm.objects.deals.write") == true)

            let other = await rpcError {
                _ = try await rig.objects.getObject(
                    .with {
                        $0.objectType = "companies"; $0.id = "1"
                    }, metadata: Self.marketing)
            }
            #expect(other?.code == .permissionDenied && other?.message.contains("crm.objects.companies.read") == true)
            #expect(
                try await rig.answered("objects.batch.read", statusPrefix: "2") == 1, "only the contact reached HubSpot"
            )

            let status = try await rig.admin.getStatus(.init(), metadata: GatewayRig.metadata(key: GatewayRig.adminKey))
            let budget = try #require(status.services.first { $0.service == "marketing" })
            #expect(budget.weight == 2, "\(budget)")
            #expect(budget.calls == 1 && budget.records == 1 && budget.queued == 0, "\(budget)")
        }
    }
}
