import GatewayAPI
import GatewayProto
import GRPCCore
import SwiftProtobuf
import Testing
import TestSupport

/// Association writes merged into HubSpot's v4 batch calls, and the batch association RPCs.
@Suite struct AssociationBatchTests {
    static func dealIds(_ rig: GatewayRig, _ count: Int) async throws -> [String] {
        try await rig.objects.listObjects(
            .with {
                $0.objectType = "deals"
                $0.page.pageSize = Int32(count)
            }, metadata: GatewayRig.metadata()
        ).objects.map(\.id)
    }

    static func pair(_ from: String, _ to: String) -> Hubspot_Gateway_V1_AssociationPair {
        .with {
            $0.fromID = from
            $0.toID = to
        }
    }

    @Test func fiftyCallersAssociatingAtOnceCostAHandfulOfBatchCallsNotFifty() async throws {
        try await GatewayRig.with(contacts: 100) { rig in
            let deals = try await Self.dealIds(rig, 50)
            let contacts = Array(rig.ids.prefix(50))
            let before = try await rig.answeredOK("associations.batch.associate.default")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (contact, deal) in zip(contacts, deals) {
                    group.addTask {
                        let made = try await rig.associations.associate(
                            .with {
                                $0.from = .with {
                                    $0.objectType = "contacts"
                                    $0.id = contact
                                }
                                $0.to = .with {
                                    $0.objectType = "deals"
                                    $0.id = deal
                                }
                            }, metadata: GatewayRig.metadata())
                        #expect(made.types.map(\.typeID) == [4], "HubSpot's default contact → deal type")
                    }
                }
                try await group.waitForAll()
            }
            let calls = try await rig.answeredOK("associations.batch.associate.default") - before
            let single = try await rig.answeredOK("associations.createDefault")
            #expect(single == 0)
            #expect((1...10).contains(calls), "\(calls) batch calls for 50 associations")
            let listed = try await rig.associations.batchListAssociations(
                .with {
                    $0.fromObjectType = "contacts"
                    $0.ids = contacts
                    $0.toObjectType = "deals"
                }, metadata: GatewayRig.metadata())
            for (result, deal) in zip(listed.results, deals) {
                #expect(result.associations.map(\.toObjectID).contains(deal), "contact \(result.fromID)")
            }
        }
    }

    @Test func aBatchWithABadPairAssociatesTheOthersAndNamesIt() async throws {
        try await GatewayRig.with(contacts: 10) { rig in
            let deals = try await Self.dealIds(rig, 3)
            let answer = try await rig.associations.batchAssociate(
                .with {
                    $0.fromObjectType = "contacts"
                    $0.toObjectType = "deals"
                    $0.pairs = [
                        Self.pair(rig.ids[0], deals[0]), Self.pair(rig.ids[1], "999999999"),
                        Self.pair(rig.ids[2], deals[2]),
                    ]
                }, metadata: GatewayRig.metadata())
            #expect(answer.errors.map(\.index) == [1])
            #expect(answer.errors.first?.code == Int32(RPCError.Code.notFound.rawValue))
            let listed = try await rig.associations.batchListAssociations(
                .with {
                    $0.fromObjectType = "contacts"
                    $0.ids = [rig.ids[0], rig.ids[2]]
                    $0.toObjectType = "deals"
                }, metadata: GatewayRig.metadata())
            #expect(listed.results[0].associations.map(\.toObjectID).contains(deals[0]))
            #expect(listed.results[1].associations.map(\.toObjectID).contains(deals[2]))
            // And removed again, in one batch.
            let removed = try await rig.associations.batchRemoveAssociations(
                .with {
                    $0.fromObjectType = "contacts"
                    $0.toObjectType = "deals"
                    $0.pairs = [Self.pair(rig.ids[0], deals[0]), Self.pair(rig.ids[2], deals[2])]
                }, metadata: GatewayRig.metadata())
            #expect(removed.errors.isEmpty)
            let after = try await rig.associations.batchListAssociations(
                .with {
                    $0.fromObjectType = "contacts"
                    $0.ids = [rig.ids[0], rig.ids[2]]
                    $0.toObjectType = "deals"
                }, metadata: GatewayRig.metadata())
            #expect(!after.results[0].associations.map(\.toObjectID).contains(deals[0]))
            #expect(!after.results[1].associations.map(\.toObjectID).contains(deals[2]))
        }
    }

    @Test func batchesThatAreTooLargeOrMalformedAreRefusedBeforeHubSpot() async throws {
        try await GatewayRig.with(contacts: 3) { rig in
            let tooMany = await rpcError {
                _ = try await rig.associations.batchAssociate(
                    .with {
                        $0.fromObjectType = "contacts"
                        $0.toObjectType = "deals"
                        $0.pairs = (0..<101).map { _ in Self.pair("1", "2") }
                    }, metadata: GatewayRig.metadata())
            }
            #expect(tooMany?.code == .invalidArgument && tooMany?.message.contains("100") == true)
            let badId = await rpcError {
                _ = try await rig.associations.batchRemoveAssociations(
                    .with {
                        $0.fromObjectType = "contacts"
                        $0.toObjectType = "deals"
                        $0.pairs = [Self.pair("abc", "2")]
                    }, metadata: GatewayRig.metadata())
            }
            #expect(badId?.code == .invalidArgument && badId?.message.contains("pairs[0].from_id") == true)
        }
    }
}
