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

@Suite struct DealsObjectsAndAssociationsTests {
    @Test func aDealIsCreatedWithItsContactMovedAndFoundAgain() async throws {
        try await GatewayRig.with { rig in
            let closing = Date(timeIntervalSince1970: 1_800_000_000)
            let created = try await rig.deals.createDeal(
                .with {
                    $0.deal = .with {
                        $0.name = "Big order"; $0.amount = "1250.50"; $0.stage = "appointmentscheduled";
                        $0.pipeline = "default"
                        $0.closeDate = Google_Protobuf_Timestamp(date: closing)
                    }
                    $0.contactIds = [rig.ids[0]]
                }, metadata: GatewayRig.metadata())
            let deal = created.deal
            #expect(!deal.id.isEmpty && deal.name == "Big order" && deal.amount == "1250.50")
            #expect(abs(deal.closeDate.date.timeIntervalSince1970 - 1_800_000_000) < 1)
            let moved = try await rig.deals.moveDealStage(
                .with {
                    $0.id = deal.id; $0.stage = "closedwon"
                }, metadata: GatewayRig.metadata())
            #expect(moved.deal.stage == "closedwon")
            let read = try await rig.deals.getDeal(.with { $0.id = deal.id }, metadata: GatewayRig.metadata())
            #expect(read.deal.stage == "closedwon")
            let linked = try await rig.associations.listAssociations(
                .with {
                    $0.from = .with {
                        $0.objectType = "deals"; $0.id = deal.id
                    }
                    $0.toObjectType = "contacts"
                }, metadata: GatewayRig.metadata())
            #expect(linked.associations.map(\.toObjectID) == [rig.ids[0]])
            let badAmount = await rpcError {
                _ = try await rig.deals.createDeal(
                    .with {
                        $0.deal = .with {
                            $0.name = "x"; $0.amount = "12,50"
                        }
                    }, metadata: GatewayRig.metadata())
            }
            #expect(badAmount?.code == .invalidArgument && badAmount?.message.contains("amount") == true)
        }
    }

    @Test func anyObjectTypeCanBeWrittenReadAssociatedAndArchived() async throws {
        try await GatewayRig.with { rig in
            let company = try await rig.objects.createObject(
                .with {
                    $0.objectType = "companies"; $0.properties = ["name": "Acme", "domain": "acme.example"]
                },
                metadata: GatewayRig.metadata())
            let id = company.object.id
            #expect(company.object.properties["name"] == "Acme")
            let associated = try await rig.associations.associate(
                .with {
                    $0.from = .with {
                        $0.objectType = "contacts"; $0.id = rig.ids[1]
                    }
                    $0.to = .with {
                        $0.objectType = "companies"; $0.id = id
                    }
                }, metadata: GatewayRig.metadata())
            #expect(!associated.types.isEmpty)
            let batch = try await rig.objects.batchUpdateObjects(
                .with {
                    $0.objectType = "companies"
                    $0.inputs = [
                        .with {
                            $0.id = id; $0.properties = ["city": "Springfield"]
                        },
                        .with {
                            $0.id = "999999999"; $0.properties = ["city": "Nowhere"]
                        },
                    ]
                }, metadata: GatewayRig.metadata())
            #expect(batch.objects.first?.properties["city"] == "Springfield")
            #expect(
                batch.errors.map(\.index) == [1] && batch.errors.first?.code == Int32(RPCError.Code.notFound.rawValue))
            _ = try await rig.objects.archiveObject(
                .with {
                    $0.objectType = "companies"; $0.id = id
                }, metadata: GatewayRig.metadata())
            let gone = await rpcError {
                _ = try await rig.objects.getObject(
                    .with {
                        $0.objectType = "companies"; $0.id = id; $0.readOptions.maxStaleness = .init(seconds: 0)
                    }, metadata: GatewayRig.metadata())
            }
            #expect(gone?.code == .notFound)
            let badType = await rpcError {
                _ = try await rig.objects.getObject(
                    .with {
                        $0.objectType = "com panies"; $0.id = "1"
                    }, metadata: GatewayRig.metadata())
            }
            #expect(badType?.code == .invalidArgument)
        }
    }

    @Test func anUpsertByANonUniquePropertyIsRefusedNamingTheUniqueOnes() async throws {
        try await GatewayRig.with { rig in
            let refused = await rpcError {
                _ = try await rig.objects.upsertObject(
                    .with {
                        $0.objectType = "companies"; $0.idProperty = "domain"; $0.idValue = "acme.example";
                        $0.properties = ["name": "Acme"]
                    }, metadata: GatewayRig.metadata())
            }
            #expect(refused?.code == .invalidArgument)
            #expect(
                refused?.message.contains("id_property 'domain' is not a unique property of companies") == true,
                "\(String(describing: refused))")
            #expect(
                refused?.message.contains("for companies: none yet") == true,
                "the simulator's companies have no unique property")
            #expect(refused?.metadata.firstString(GatewayErrors.Key.property) == "id_property")
            // Contacts are upserted by email, which is unique: that works.
            let upserted = try await rig.objects.upsertObject(
                .with {
                    $0.objectType = "contacts"; $0.idProperty = "email"; $0.idValue = "unique@example.com";
                    $0.properties = ["firstname": "Una"]
                }, metadata: GatewayRig.metadata())
            #expect(upserted.created)
        }
    }
}
