import Foundation
import GRPCCore
import GatewayAPI
import GatewayProto
import SwiftProtobuf
import Testing

/// The RPCs the service suites do not reach, each through the real door against hubspot-sim.
@Suite struct RemainingRPCTests {
    @Test func contactsAreArchivedAndBatchUpdatedAndUpsertedPerInput() async throws {
        try await GatewayRig.with { rig in
            let updated = try await rig.client.batchUpdateContacts(
                .with {
                    $0.contacts = [
                        .with {
                            $0.id = rig.ids[0]; $0.firstName = "Batched"
                        },
                        .with {
                            $0.id = "999999999"; $0.firstName = "Nobody"
                        },
                    ]
                }, metadata: GatewayRig.metadata())
            #expect(updated.contacts.first?.firstName == "Batched")
            #expect(updated.errors.map(\.index) == [1])
            #expect(updated.errors.first?.code == Int32(RPCError.Code.notFound.rawValue))

            let upserted = try await rig.client.batchUpsertContacts(
                .with {
                    $0.contacts = [
                        .with {
                            $0.email = "upsert-new@example.com"; $0.firstName = "New"
                        },
                        .with {
                            $0.email = "upsert-new-2@example.com"; $0.lastName = "Second"
                        },
                    ]
                }, metadata: GatewayRig.metadata())
            #expect(upserted.errors.isEmpty, "\(upserted.errors)")
            #expect(upserted.contacts.map(\.email) == ["upsert-new@example.com", "upsert-new-2@example.com"])
            let again = try await rig.client.batchUpsertContacts(
                .with {
                    $0.contacts = [
                        .with {
                            $0.email = "upsert-new@example.com"; $0.lastName = "Again"
                        }
                    ]
                },
                metadata: GatewayRig.metadata())
            #expect(
                again.contacts.first?.id == upserted.contacts.first?.id, "an upsert by email updates the same record")

            _ = try await rig.client.archiveContact(.with { $0.id = rig.ids[1] }, metadata: GatewayRig.metadata())
            let gone = await rpcError {
                _ = try await rig.client.getContact(
                    .with {
                        $0.id = rig.ids[1]; $0.readOptions.maxStaleness = .init(seconds: 0)
                    },
                    metadata: GatewayRig.metadata())
            }
            #expect(gone?.code == .notFound)
        }
    }

    @Test func dealsAreListedSearchedUpdatedBatchedAndArchived() async throws {
        try await GatewayRig.with { rig in
            let created = try await rig.deals.batchCreateDeals(
                .with {
                    $0.deals = [
                        .with {
                            $0.name = "First"; $0.amount = "10"; $0.stage = "appointmentscheduled";
                            $0.pipeline = "default"
                        },
                        .with {
                            $0.name = "Second"; $0.amount = "20"; $0.stage = "appointmentscheduled";
                            $0.pipeline = "default"
                        },
                    ]
                }, metadata: GatewayRig.metadata())
            #expect(created.errors.isEmpty, "\(created.errors)")
            let ids = created.deals.map(\.id)
            #expect(ids.count == 2 && ids.allSatisfy { !$0.isEmpty })

            let read = try await rig.deals.batchGetDeals(
                .with { $0.ids = ids + ["999999999"] }, metadata: GatewayRig.metadata())
            #expect(Set(read.deals.map(\.name)) == ["First", "Second"])
            #expect(read.missingIds == ["999999999"])

            let renamed = try await rig.deals.updateDeal(
                .with {
                    $0.deal = .with {
                        $0.id = ids[0]; $0.name = "First, renamed"
                    }
                }, metadata: GatewayRig.metadata())
            #expect(renamed.deal.name == "First, renamed" && renamed.deal.amount == "10")

            let batch = try await rig.deals.batchUpdateDeals(
                .with {
                    $0.deals = [
                        .with {
                            $0.id = ids[1]; $0.amount = "25"
                        },
                        .with {
                            $0.id = "999999999"; $0.amount = "1"
                        },
                    ]
                }, metadata: GatewayRig.metadata())
            #expect(batch.deals.first?.amount == "25")
            #expect(batch.errors.map(\.index) == [1])

            let listed = try await rig.deals.listDeals(
                .with { $0.page.pageSize = 100 }, metadata: GatewayRig.metadata())
            #expect(Set(ids).isSubset(of: Set(listed.deals.map(\.id))))

            let found = try await rig.deals.searchDeals(
                .with {
                    $0.query.filterGroups = [
                        .with {
                            $0.filters = [
                                .with {
                                    $0.propertyName = "amount"; $0.operator = .gte; $0.value = "25"
                                }
                            ]
                        }
                    ]
                }, metadata: GatewayRig.metadata())
            #expect(found.deals.map(\.id).contains(ids[1]))
            #expect(!found.deals.map(\.id).contains(ids[0]))

            _ = try await rig.deals.archiveDeal(.with { $0.id = ids[0] }, metadata: GatewayRig.metadata())
            let gone = await rpcError {
                _ = try await rig.deals.getDeal(
                    .with {
                        $0.id = ids[0]; $0.readOptions.maxStaleness = .init(seconds: 0)
                    }, metadata: GatewayRig.metadata())
            }
            #expect(gone?.code == .notFound)
        }
    }

    @Test func objectsAreUpdatedSearchedBatchReadCreatedAndArchived() async throws {
        try await GatewayRig.with { rig in
            let created = try await rig.objects.batchCreateObjects(
                .with {
                    $0.objectType = "companies"
                    $0.inputs = [
                        .with { $0.properties = ["name": "Alpha Ltd", "city": "Berlin"] },
                        .with { $0.properties = ["name": "Beta Ltd", "city": "Paris"] },
                    ]
                }, metadata: GatewayRig.metadata())
            #expect(created.errors.isEmpty, "\(created.errors)")
            let ids = created.objects.map(\.id)

            let updated = try await rig.objects.updateObject(
                .with {
                    $0.objectType = "companies"; $0.id = ids[0]; $0.properties = ["city": "Hamburg"]
                },
                metadata: GatewayRig.metadata())
            #expect(updated.object.properties["city"] == "Hamburg")

            let read = try await rig.objects.batchGetObjects(
                .with {
                    $0.objectType = "companies"; $0.ids = ids + ["999999999"]; $0.properties = ["name", "city"]
                },
                metadata: GatewayRig.metadata())
            #expect(Set(read.objects.compactMap { $0.properties["city"] }) == ["Hamburg", "Paris"])
            #expect(read.missingIds == ["999999999"])

            let found = try await rig.objects.searchObjects(
                .with {
                    $0.objectType = "companies"
                    $0.query.filterGroups = [
                        .with {
                            $0.filters = [
                                .with {
                                    $0.propertyName = "city"; $0.operator = .eq; $0.value = "Paris"
                                }
                            ]
                        }
                    ]
                    $0.properties = ["name"]
                }, metadata: GatewayRig.metadata())
            #expect(found.objects.map(\.id) == [ids[1]])
            #expect(found.page.total == 1)

            _ = try await rig.objects.batchArchiveObjects(
                .with {
                    $0.objectType = "companies"; $0.ids = ids
                }, metadata: GatewayRig.metadata())
            let after = try await rig.objects.batchGetObjects(
                .with {
                    $0.objectType = "companies"; $0.ids = ids; $0.readOptions.maxStaleness = .init(seconds: 0)
                },
                metadata: GatewayRig.metadata())
            #expect(after.objects.isEmpty && Set(after.missingIds) == Set(ids))
        }
    }

    @Test func anAssociationIsRemovedAndNoLongerListed() async throws {
        try await GatewayRig.with { rig in
            let company = try await rig.objects.createObject(
                .with {
                    $0.objectType = "companies"; $0.properties = ["name": "Gamma"]
                }, metadata: GatewayRig.metadata())
            let from = Hubspot_Gateway_V1_ObjectRef.with {
                $0.objectType = "contacts"; $0.id = rig.ids[2]
            }
            let to = Hubspot_Gateway_V1_ObjectRef.with {
                $0.objectType = "companies"; $0.id = company.object.id
            }
            _ = try await rig.associations.associate(
                .with {
                    $0.from = from; $0.to = to
                }, metadata: GatewayRig.metadata())
            let listed = try await rig.associations.listAssociations(
                .with {
                    $0.from = from; $0.toObjectType = "companies"
                }, metadata: GatewayRig.metadata())
            #expect(listed.associations.map(\.toObjectID).contains(company.object.id))
            _ = try await rig.associations.removeAssociation(
                .with {
                    $0.from = from; $0.to = to
                }, metadata: GatewayRig.metadata())
            let after = try await rig.associations.listAssociations(
                .with {
                    $0.from = from; $0.toObjectType = "companies"
                }, metadata: GatewayRig.metadata())
            #expect(!after.associations.map(\.toObjectID).contains(company.object.id))
        }
    }
}
