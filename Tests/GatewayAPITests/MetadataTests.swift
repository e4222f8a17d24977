import GatewayAPI
import GatewayProto
import GRPCCore
import SwiftProtobuf
import Testing
import TestSupport

/// MetadataService and the checks that use it, against hubspot-sim.
@Suite struct MetadataTests {
    @Test func pipelinesComeWithTheirStagesAndAreCachedThroughAnOutageUntilFlushed() async throws {
        try await GatewayRig.with(contacts: 2) { rig in
            let listed = try await rig.metadata.listPipelines(
                .with { $0.objectType = "deals" }, metadata: GatewayRig.metadata())
            #expect(listed.pipelines.map(\.id) == ["default", "renewals"])
            let won = try #require(listed.pipelines[0].stages.first { $0.id == "closedwon" })
            #expect(won.probability == 1.0 && won.isClosed == true && won.hasProbability)
            // Cached: no second HubSpot call, and served while HubSpot is down.
            try await rig.faults(#"{"outage": true}"#)
            let again = try await rig.metadata.getPipeline(
                .with {
                    $0.objectType = "deals"
                    $0.pipelineID = "renewals"
                }, metadata: GatewayRig.metadata())
            #expect(again.pipeline.stages.map(\.id) == ["renewalopen", "renewalwon", "renewallost"])
            let calls = try await rig.answeredOK("pipelines.list")
            #expect(calls == 1)
            // Flushed: the next read asks HubSpot, which is down.
            _ = try await rig.admin.flushMetadata(.init(), metadata: GatewayRig.metadata(key: GatewayRig.adminKey))
            let down = await rpcError {
                _ = try await rig.metadata.listPipelines(
                    .with { $0.objectType = "deals" }, metadata: GatewayRig.metadata())
            }
            #expect(down?.code == .unavailable)
            try await rig.faults(#"{"outage": false}"#)
            let missing = await rpcError {
                _ = try await rig.metadata.getPipeline(
                    .with {
                        $0.objectType = "deals"
                        $0.pipelineID = "nope"
                    }, metadata: GatewayRig.metadata())
            }
            #expect(missing?.code == .notFound && missing?.message.contains("default, renewals") == true)
        }
    }

    @Test func ownersPropertiesAndAssociationTypesAreListed() async throws {
        try await GatewayRig.with(contacts: 2) { rig in
            let first = try await rig.metadata.listOwners(
                .with { $0.page.pageSize = 2 }, metadata: GatewayRig.metadata(key: GatewayRig.readerKey))
            #expect(first.owners.map(\.email) == ["ada@example.com", "alan@example.com"])
            let rest = try await rig.metadata.listOwners(
                .with { $0.page.cursor = first.page.nextCursor }, metadata: GatewayRig.metadata())
            #expect(rest.owners.map(\.email) == ["grace@example.com"] && rest.page.nextCursor.isEmpty)
            let archived = try await rig.metadata.listOwners(
                .with { $0.archived = true }, metadata: GatewayRig.metadata())
            #expect(archived.owners.map(\.lastName) == ["Dijkstra"])
            let byEmail = try await rig.metadata.listOwners(
                .with { $0.email = "grace@example.com" }, metadata: GatewayRig.metadata())
            #expect(byEmail.owners.map(\.id) == ["103"])

            let properties = try await rig.metadata.listProperties(
                .with { $0.objectType = "contacts" }, metadata: GatewayRig.metadata())
            #expect(properties.properties.first { $0.name == "email" }?.unique == true)
            let created = try await rig.metadata.getProperty(
                .with {
                    $0.objectType = "contacts"
                    $0.name = "hs_object_id"
                }, metadata: GatewayRig.metadata())
            #expect(created.property.readOnly && created.property.type == "number")
            let stage = try await rig.metadata.getProperty(
                .with {
                    $0.objectType = "contacts"
                    $0.name = "lifecyclestage"
                }, metadata: GatewayRig.metadata())
            #expect(stage.property.options.map(\.value).contains("customer"))

            let kinds = try await rig.metadata.listAssociationTypes(
                .with {
                    $0.fromObjectType = "contacts"
                    $0.toObjectType = "companies"
                }, metadata: GatewayRig.metadata())
            #expect(Set(kinds.types.map(\.typeID)) == [279, 1])
            #expect(Set(kinds.inverseTypes.map(\.typeID)) == [280, 2])
            #expect(kinds.types.first { $0.typeID == 1 }?.label == "Primary")
        }
    }

    @Test func aStageOfAnotherPipelineIsRefusedBeforeHubSpotIsCalled() async throws {
        try await GatewayRig.with(contacts: 2) { rig in
            let deal = try await rig.deals.createDeal(
                .with {
                    $0.deal.name = "Stage test"
                    $0.deal.stage = "qualifiedtobuy"
                }, metadata: GatewayRig.metadata()
            ).deal
            let updatesBefore = try await rig.answeredOK("objects.batch.update")
            let wrong = await rpcError {
                _ = try await rig.deals.moveDealStage(
                    .with {
                        $0.id = deal.id
                        $0.stage = "renewalwon"
                    }, metadata: GatewayRig.metadata())
            }
            #expect(wrong?.code == .invalidArgument)
            #expect(wrong?.message.contains("closedwon") == true, "names the pipeline's stages")
            let updatesAfter = try await rig.answeredOK("objects.batch.update")
            #expect(updatesAfter == updatesBefore, "no HubSpot write made")
            // Into the other pipeline with its own stage: allowed.
            let moved = try await rig.deals.moveDealStage(
                .with {
                    $0.id = deal.id
                    $0.stage = "renewalwon"
                    $0.pipeline = "renewals"
                }, metadata: GatewayRig.metadata())
            #expect(moved.deal.stage == "renewalwon")
            let badCreate = await rpcError {
                _ = try await rig.deals.createDeal(
                    .with {
                        $0.deal.name = "Bad"
                        $0.deal.stage = "no-such-stage"
                    }, metadata: GatewayRig.metadata())
            }
            #expect(badCreate?.code == .invalidArgument && badCreate?.message.contains("appointmentscheduled") == true)
        }
    }

    @Test func writesNamingUnknownPropertiesOrOptionsAreRefusedBeforeHubSpotOnlyWhileTheSchemaIsCached() async throws {
        try await GatewayRig.with(contacts: 2) { rig in
            func create(_ properties: [String: String]) async -> RPCError? {
                await rpcError {
                    _ = try await rig.objects.createObject(
                        .with {
                            $0.objectType = "contacts"
                            $0.properties = properties
                        }, metadata: GatewayRig.metadata())
                }
            }
            // Nothing cached yet: HubSpot is asked, and refuses.
            let uncached = await create(["email": "u@example.com", "no_such_property": "x"])
            #expect(uncached?.code == .invalidArgument)
            let sent =
                try await rig.answeredOK("objects.batch.create")
                + (try await rig.simulatorErrors("objects.batch.create"))
            #expect(sent == 1)
            // The schema cached (a ListProperties): refused here, the same way, for nothing.
            _ = try await rig.metadata.listProperties(
                .with { $0.objectType = "contacts" }, metadata: GatewayRig.metadata())
            let unknown = await create(["email": "u@example.com", "no_such_property": "x"])
            #expect(unknown?.code == .invalidArgument && unknown?.message.contains("does not exist") == true)
            #expect(unknown?.metadata.firstString(GatewayErrors.Key.property) == "no_such_property")
            let option = await create(["email": "o@example.com", "lifecyclestage": "no-such-stage"])
            #expect(option?.message.contains("was not one of the allowed options") == true)
            let readOnly = await create(["email": "r@example.com", "hs_object_id": "5"])
            #expect(readOnly?.message.contains("read only") == true)
            let after =
                try await rig.answeredOK("objects.batch.create")
                + (try await rig.simulatorErrors("objects.batch.create"))
            #expect(after == sent, "no HubSpot call for the refused writes")
            // A batch: the bad input fails here, the good one is written.
            let batch = try await rig.objects.batchCreateObjects(
                .with {
                    $0.objectType = "contacts"
                    $0.inputs = [
                        .with { $0.properties = ["email": "good@example.com"] },
                        .with { $0.properties = ["email": "bad@example.com", "nope": "1"] },
                    ]
                }, metadata: GatewayRig.metadata())
            #expect(batch.errors.map(\.index) == [1] && !batch.objects[0].id.isEmpty)
        }
    }

    @Test func aNewRecordsAssociationWithoutTypesGetsTheDefaultKindOfAnyPairFromTheAssociationTypes() async throws {
        try await GatewayRig.with(contacts: 2) { rig in
            let line = try await rig.objects.createObject(
                .with {
                    $0.objectType = "line_items"
                    $0.properties = ["name": "Widget", "price": "5"]
                }, metadata: GatewayRig.metadata())
            // tickets → line_items: no default the gateway knows by heart.
            for subject in ["First", "Second"] {
                let ticket = try await rig.objects.createObject(
                    .with {
                        $0.objectType = "tickets"
                        $0.properties = ["subject": subject]
                        $0.associations = [
                            .with {
                                $0.objectType = "line_items"
                                $0.objectID = line.object.id
                            }
                        ]
                    }, metadata: GatewayRig.metadata())
                let listed = try await rig.associations.listAssociations(
                    .with {
                        $0.from = .with {
                            $0.objectType = "tickets"
                            $0.id = ticket.object.id
                        }
                        $0.toObjectType = "line_items"
                    }, metadata: GatewayRig.metadata())
                #expect(listed.associations.map(\.toObjectID) == [line.object.id])
            }
            let lookups = try await rig.answeredOK("associations.labels")
            #expect(lookups == 1, "the pair's types are read once, then cached")
        }
    }
}
