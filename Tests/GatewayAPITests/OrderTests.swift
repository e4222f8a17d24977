import GatewayAPI
import GatewayProto
import GRPCCore
import SwiftProtobuf
import Testing
import TestSupport

/// CreateDeal with line items: an order in one call.
@Suite struct OrderTests {
    static func line(_ n: Int) -> Hubspot_Gateway_V1_LineItemInput {
        .with {
            $0.name = "Widget \(n)"
            $0.price = "19.99"
            $0.quantity = String(n % 3 + 1)
        }
    }

    @Test func anOrderOfThirtyLinesCostsTwoHubSpotCallsAndEveryLineIsAssociated() async throws {
        try await GatewayRig.with(contacts: 2) { rig in
            let before = try await rig.answeredOK("objects.batch.create")
            let order = try await rig.deals.createDeal(
                .with {
                    $0.deal.name = "Order 4711"
                    $0.lineItems = (0..<30).map(Self.line)
                }, metadata: GatewayRig.metadata())
            let calls = try await rig.answeredOK("objects.batch.create") - before
            #expect(calls == 2, "the deal, then every line in one batch")
            #expect(order.lineItems.count == 30)
            #expect(order.lineItems.map(\.name) == (0..<30).map { "Widget \($0)" })
            #expect(order.lineItems[4].quantity == "2" && order.lineItems[4].price == "19.99")
            let listed = try await rig.associations.batchListAssociations(
                .with {
                    $0.fromObjectType = "deals"
                    $0.ids = [order.deal.id]
                    $0.toObjectType = "line_items"
                }, metadata: GatewayRig.metadata())
            #expect(Set(listed.results[0].associations.map(\.toObjectID)) == Set(order.lineItems.map(\.id)))
        }
    }

    @Test func aLineHubSpotRefusesLeavesTheDealAndSaysWhatToCreateAlone() async throws {
        try await GatewayRig.with(contacts: 2) { rig in
            var bad = Self.line(1)
            bad.properties = ["no_such_property": "x"]
            let failure = await rpcError {
                _ = try await rig.deals.createDeal(
                    .with {
                        $0.deal.name = "Order 4712"
                        $0.lineItems = [Self.line(0), bad, Self.line(2)]
                    }, metadata: GatewayRig.metadata())
            }
            #expect(failure?.code == .invalidArgument)
            let dealId = try #require(failure?.metadata.firstString(DealsService.createdDealIdKey))
            #expect(failure?.message.contains("line_items [1]") == true)
            // The deal exists, with the two good lines.
            let listed = try await rig.associations.batchListAssociations(
                .with {
                    $0.fromObjectType = "deals"
                    $0.ids = [dealId]
                    $0.toObjectType = "line_items"
                }, metadata: GatewayRig.metadata())
            #expect(listed.results[0].associations.count == 2)
            // The line alone, associated with the deal, as the error says.
            let retried = try await rig.objects.batchCreateObjects(
                .with {
                    $0.objectType = "line_items"
                    $0.inputs = [
                        .with {
                            $0.properties = ["name": "Widget 1", "price": "19.99", "quantity": "2"]
                            $0.associations = [
                                .with {
                                    $0.objectType = "deals"
                                    $0.objectID = dealId
                                }
                            ]
                        }
                    ]
                }, metadata: GatewayRig.metadata())
            #expect(retried.errors.isEmpty)
            let after = try await rig.associations.batchListAssociations(
                .with {
                    $0.fromObjectType = "deals"
                    $0.ids = [dealId]
                    $0.toObjectType = "line_items"
                }, metadata: GatewayRig.metadata())
            #expect(after.results[0].associations.count == 3)
        }
    }

    @Test func linesWithoutAProductOrANameOrWithABadPriceAreRefusedBeforeHubSpot() async throws {
        try await GatewayRig.with(contacts: 2) { rig in
            let nameless = await rpcError {
                _ = try await rig.deals.createDeal(
                    .with {
                        $0.deal.name = "Order"
                        $0.lineItems = [.with { $0.price = "1" }]
                    }, metadata: GatewayRig.metadata())
            }
            #expect(nameless?.code == .invalidArgument && nameless?.message.contains("product_id or a name") == true)
            let price = await rpcError {
                _ = try await rig.deals.createDeal(
                    .with {
                        $0.deal.name = "Order"
                        $0.lineItems = [
                            .with {
                                $0.name = "x"
                                $0.price = "12,50"
                            }
                        ]
                    }, metadata: GatewayRig.metadata())
            }
            #expect(price?.code == .invalidArgument && price?.message.contains("line_items[0].price") == true)
            let creates = try await rig.answeredOK("objects.batch.create")
            #expect(creates == 0)
        }
    }
}
