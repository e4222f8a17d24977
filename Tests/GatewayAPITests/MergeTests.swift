import GatewayAPI
import GatewayProto
import GRPCCore
import SwiftProtobuf
import Testing
import TestSupport

/// Merges through ContactsService and ObjectsService, against hubspot-sim.
@Suite struct MergeTests {
    @Test func aMergedContactIsReadAsItsSurvivorAndItsValuesFillTheGaps() async throws {
        try await GatewayRig.with(contacts: 5) { rig in
            let (primary, merged) = (rig.ids[0], rig.ids[1])
            // Both cached before the merge: the merge must drop them.
            for id in [primary, merged] {
                _ = try await rig.client.getContact(.with { $0.id = id }, metadata: GatewayRig.metadata())
            }
            let survivor = try await rig.client.mergeContacts(
                .with {
                    $0.primaryID = primary
                    $0.mergedID = merged
                }, metadata: GatewayRig.metadata()
            ).contact
            #expect(survivor.id == primary)
            let read = try await rig.client.getContact(
                .with {
                    $0.id = merged
                    $0.properties = ["hs_merged_object_ids"]
                }, metadata: GatewayRig.metadata())
            #expect(read.contact.id == primary, "the merged-away id answers the survivor")
            #expect(read.contact.properties["hs_merged_object_ids"]?.contains(merged) == true)
            let merges = try await rig.answeredOK("objects.merge")
            #expect(merges == 1)
        }
    }

    @Test func mergingARecordIntoItselfOrAMissingOneIsRefusedClearly() async throws {
        try await GatewayRig.with(contacts: 3) { rig in
            let itself = await rpcError {
                _ = try await rig.objects.mergeObjects(
                    .with {
                        $0.objectType = "contacts"
                        $0.primaryID = rig.ids[0]
                        $0.mergedID = rig.ids[0]
                    }, metadata: GatewayRig.metadata())
            }
            #expect(itself?.code == .invalidArgument && itself?.message.contains("itself") == true)
            let merges = try await rig.answeredOK("objects.merge")
            #expect(merges == 0, "refused before HubSpot was called")
            let missing = await rpcError {
                _ = try await rig.objects.mergeObjects(
                    .with {
                        $0.objectType = "contacts"
                        $0.primaryID = rig.ids[0]
                        $0.mergedID = "999999999"
                    }, metadata: GatewayRig.metadata())
            }
            #expect(missing?.code == .notFound)
            let reader = await rpcError {
                _ = try await rig.client.mergeContacts(
                    .with {
                        $0.primaryID = rig.ids[0]
                        $0.mergedID = rig.ids[1]
                    }, metadata: GatewayRig.metadata(key: GatewayRig.readerKey))
            }
            #expect(reader?.code == .permissionDenied, "a merge writes")
        }
    }
}
