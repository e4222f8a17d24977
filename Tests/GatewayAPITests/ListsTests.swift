import Foundation
import GatewayAPI
import GatewayProto
import GRPCCore
import HubSpotAPI
import SwiftProtobuf
import Testing
import TestSupport

/// ListsService against hubspot-sim's lists.
@Suite struct ListsTests {
    /// A DYNAMIC list's filters (HubSpot requires them): contacts with an email.
    static let everyoneWithAnEmail =
        #", "filterBranch": {"filterBranchType": "OR", "filterBranches": [{"filterBranchType": "AND", "filters": [{"filterType": "PROPERTY", "property": "email", "operation": {"operationType": "ALL_PROPERTY", "operator": "IS_KNOWN"}}]}]}"#

    /// Creates a list at the simulator (as a marketer would in HubSpot); its id.
    static func makeList(_ rig: GatewayRig, _ name: String, processing: String = "MANUAL") async throws -> String {
        let response = try await rig.simulatorAdmin.send(
            HTTPRequest(
                method: .post, url: rig.simulatorURL + "/crm/v3/lists",
                headers: [("Content-Type", "application/json"), ("Authorization", "Bearer pat-sim-token")],
                body: Array(
                    #"{"name": "\#(name)", "objectTypeId": "0-1", "processingType": "\#(processing)"\#(processing == "DYNAMIC" ? Self.everyoneWithAnEmail : "")}"#
                        .utf8)),
            timeout: .seconds(30))
        let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return try #require((json?["list"] as? [String: Any])?["listId"] as? String)
    }

    @Test func listsAreFoundByNameAndAStaticListsMembersAddedPagedAndRemoved() async throws {
        try await GatewayRig.with(contacts: 6) { rig in
            let newsletter = try await Self.makeList(rig, "Newsletter subscribers")
            _ = try await Self.makeList(rig, "Webinar attendees")
            _ = try await Self.makeList(rig, "Newsletter bounces", processing: "DYNAMIC")
            let found = try await rig.lists.listLists(
                .with {
                    $0.nameContains = "newsletter"
                    $0.page.pageSize = 1
                }, metadata: GatewayRig.metadata(key: GatewayRig.readerKey))
            #expect(found.lists.map(\.name) == ["Newsletter subscribers"] && found.page.total == 2)
            let rest = try await rig.lists.listLists(
                .with {
                    $0.nameContains = "newsletter"
                    $0.page.cursor = found.page.nextCursor
                }, metadata: GatewayRig.metadata())
            #expect(rest.lists.map(\.processingType) == ["DYNAMIC"] && rest.page.nextCursor.isEmpty)

            let added = try await rig.lists.addListMembers(
                .with {
                    $0.listID = newsletter
                    $0.recordIds = Array(rig.ids.prefix(5)) + ["999999999"]
                }, metadata: GatewayRig.metadata())
            #expect(added.changedRecordIds == Array(rig.ids.prefix(5)) && added.missingRecordIds == ["999999999"])
            #expect(
                try await rig.lists.getList(.with { $0.listID = newsletter }, metadata: GatewayRig.metadata()).list.size
                    == 5)
            var members: [String] = []
            var cursor = ""
            repeat {
                let page = try await rig.lists.listMemberships(
                    .with {
                        $0.listID = newsletter
                        $0.page.pageSize = 2
                        $0.page.cursor = cursor
                    }, metadata: GatewayRig.metadata())
                members += page.recordIds
                cursor = page.page.nextCursor
            } while !cursor.isEmpty
            #expect(members == Array(rig.ids.prefix(5)), "in the order they joined")
            let removed = try await rig.lists.removeListMembers(
                .with {
                    $0.listID = newsletter
                    $0.recordIds = [rig.ids[0]]
                }, metadata: GatewayRig.metadata())
            #expect(removed.changedRecordIds == [rig.ids[0]])
        }
    }

    @Test func aDynamicListOrAMissingOneCannotBeChangedAndReadersCannotChangeAny() async throws {
        try await GatewayRig.with(contacts: 2) { rig in
            let dynamic = try await Self.makeList(rig, "Active", processing: "DYNAMIC")
            let refused = await rpcError {
                _ = try await rig.lists.addListMembers(
                    .with {
                        $0.listID = dynamic
                        $0.recordIds = [rig.ids[0]]
                    }, metadata: GatewayRig.metadata())
            }
            #expect(refused?.code == .invalidArgument && refused?.message.contains("MANUAL") == true)
            let missing = await rpcError {
                _ = try await rig.lists.getList(.with { $0.listID = "424242" }, metadata: GatewayRig.metadata())
            }
            #expect(missing?.code == .notFound)
            let reader = await rpcError {
                _ = try await rig.lists.addListMembers(
                    .with {
                        $0.listID = dynamic
                        $0.recordIds = [rig.ids[0]]
                    }, metadata: GatewayRig.metadata(key: GatewayRig.readerKey))
            }
            #expect(reader?.code == .permissionDenied)
        }
    }
}
