import Foundation
import HubSpotSimulator
import Testing

@Suite struct AssociationsTests {
    func companyAndContact(_ sim: SimulatorHarness) async throws -> (company: String, contact: String) {
        let company =
            try await sim.post("/crm/v3/objects/companies", ["properties": ["name": "Acme"]]).object["id"] as? String
            ?? ""
        let contact = try await sim.createContact(["email": "a@acme.com"])
        return (company, contact)
    }

    func listTypes(_ sim: SimulatorHarness, _ path: String) async throws -> [Int: [Int]] {
        let reply = try await sim.get(path)
        var out: [Int: [Int]] = [:]
        for result in reply.results {
            out[result["toObjectId"] as? Int ?? 0] = ((result["associationTypes"] as? [[String: Any]]) ?? []).compactMap
            { $0["typeId"] as? Int }.sorted()
        }
        return out
    }

    @Test func defaultAssociationIsCreatedInBothDirections() async throws {
        try await SimulatorHarness.with { sim in
            let (company, contact) = try await companyAndContact(sim)
            let reply = try await sim.request(
                "PUT", "/crm/v4/objects/contacts/\(contact)/associations/default/companies/\(company)")
            #expect(reply.status == 200)
            let specs = reply.results.compactMap {
                ($0["associationSpec"] as? [String: Any])?["associationTypeId"] as? Int
            }
            #expect(specs == [279, 280])
            #expect(
                try await listTypes(sim, "/crm/v4/objects/contacts/\(contact)/associations/companies") == [
                    Int(company)!: [279]
                ])
            #expect(
                try await listTypes(sim, "/crm/v4/objects/companies/\(company)/associations/contacts") == [
                    Int(contact)!: [280]
                ])
        }
    }

    @Test func labelledPrimaryAssociationCarriesItsLabelAndTheUnlabelledType() async throws {
        try await SimulatorHarness.with { sim in
            let (company, contact) = try await companyAndContact(sim)
            let reply = try await sim.request(
                "PUT", "/crm/v4/objects/contacts/\(contact)/associations/companies/\(company)",
                json: [["associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1]])
            #expect(reply.status == 201)
            #expect(reply.object["labels"] as? [String] == ["Primary"])
            #expect(
                try await listTypes(sim, "/crm/v4/objects/contacts/\(contact)/associations/companies") == [
                    Int(company)!: [1, 279]
                ])
            let wrongType = try await sim.request(
                "PUT", "/crm/v4/objects/contacts/\(contact)/associations/companies/\(company)",
                json: [["associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 4]])
            #expect(wrongType.status == 400)
            let missing = try await sim.request(
                "PUT", "/crm/v4/objects/contacts/\(contact)/associations/companies/999999",
                json: [["associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1]])
            #expect(missing.status == 404)
        }
    }

    @Test func deleteRemovesBothDirectionsAndArchivedRecordsDropOut() async throws {
        try await SimulatorHarness.with { sim in
            let (company, contact) = try await companyAndContact(sim)
            let other =
                try await sim.post("/crm/v3/objects/companies", ["properties": ["name": "Other"]]).object["id"]
                as? String ?? ""
            _ = try await sim.request(
                "PUT", "/crm/v4/objects/contacts/\(contact)/associations/default/companies/\(company)")
            _ = try await sim.request(
                "PUT", "/crm/v4/objects/contacts/\(contact)/associations/default/companies/\(other)")
            #expect(
                try await sim.request("DELETE", "/crm/v4/objects/contacts/\(contact)/associations/companies/\(company)")
                    .status == 204)
            #expect(try await listTypes(sim, "/crm/v4/objects/companies/\(company)/associations/contacts").isEmpty)
            _ = try await sim.request("DELETE", "/crm/v3/objects/companies/\(other)")
            #expect(try await listTypes(sim, "/crm/v4/objects/contacts/\(contact)/associations/companies").isEmpty)
        }
    }

    @Test func createWithAssociationsAndReadThemThroughV3() async throws {
        try await SimulatorHarness.with { sim in
            let (company, contact) = try await companyAndContact(sim)
            let deal = try await sim.post(
                "/crm/v3/objects/deals",
                [
                    "properties": ["dealname": "D"],
                    "associations": [
                        [
                            "to": ["id": contact],
                            "types": [["associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3]],
                        ],
                        [
                            "to": ["id": company],
                            "types": [["associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5]],
                        ],
                    ],
                ])
            #expect(deal.status == 201)
            let id = deal.object["id"] as? String ?? ""
            let read = try await sim.get("/crm/v3/objects/deals/\(id)?associations=contacts,companies")
            let associations = read.object["associations"] as? [String: Any]
            let contacts = (associations?["contacts"] as? [String: Any])?["results"] as? [[String: Any]]
            #expect(contacts?.first?["id"] as? String == contact)
            #expect(contacts?.first?["type"] as? String == "deal_to_contact")
            let badAssociation = try await sim.post(
                "/crm/v3/objects/deals",
                [
                    "properties": ["dealname": "E"],
                    "associations": [
                        [
                            "to": ["id": "1"],
                            "types": [["associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3]],
                        ]
                    ],
                ])
            #expect(badAssociation.status == 400)
        }
    }

    @Test func batchCallsAssociateReadAndArchive() async throws {
        try await SimulatorHarness.with { sim in
            let (company, contact) = try await companyAndContact(sim)
            let second = try await sim.createContact(["email": "b@acme.com"])
            let associate = try await sim.post(
                "/crm/v4/associations/contacts/companies/batch/associate/default",
                [
                    "inputs": [
                        ["from": ["id": contact], "to": ["id": company]],
                        ["from": ["id": second], "to": ["id": company]],
                    ]
                ])
            #expect(associate.status == 200)
            let read = try await sim.post(
                "/crm/v4/associations/companies/contacts/batch/read", ["inputs": [["id": company], ["id": "123456"]]])
            #expect(read.status == 207)
            let targets = (read.results.first?["to"] as? [[String: Any]])?.compactMap { $0["toObjectId"] as? Int }
            #expect(targets == [Int(contact)!, Int(second)!])
            let labelled = try await sim.post(
                "/crm/v4/associations/contacts/companies/batch/create",
                [
                    "inputs": [
                        [
                            "from": ["id": contact], "to": ["id": company],
                            "types": [["associationCategory": "USER_DEFINED", "associationTypeId": 77]],
                        ]
                    ]
                ])
            #expect(labelled.status == 201)
            let archive = try await sim.post(
                "/crm/v4/associations/contacts/companies/batch/archive",
                ["inputs": [["from": ["id": contact], "to": [["id": company]]]]])
            #expect(archive.status == 204)
            #expect(try await listTypes(sim, "/crm/v4/objects/contacts/\(contact)/associations/companies").isEmpty)
        }
    }

    @Test func listPagesWithAfterCursor() async throws {
        try await SimulatorHarness.with { sim in
            let company =
                try await sim.post("/crm/v3/objects/companies", ["properties": ["name": "Big"]]).object["id"] as? String
                ?? ""
            for index in 0..<5 {
                let contact = try await sim.createContact(["email": "p\(index)@b.co"])
                _ = try await sim.request(
                    "PUT", "/crm/v4/objects/companies/\(company)/associations/default/contacts/\(contact)")
            }
            let first = try await sim.get("/crm/v4/objects/companies/\(company)/associations/contacts?limit=3")
            #expect(first.results.count == 3)
            let after = try #require(
                ((first.object["paging"] as? [String: Any])?["next"] as? [String: Any])?["after"] as? String)
            let second = try await sim.get(
                "/crm/v4/objects/companies/\(company)/associations/contacts?limit=3&after=\(after)")
            #expect(second.results.count == 2)
            #expect(second.object["paging"] == nil)
        }
    }

    @Test func engagementsNeedATimestampAndAreLoggedOnRecordsWithHubSpotsTypeIds() async throws {
        try await SimulatorHarness.with { sim in
            let contact = try await sim.createContact(["email": "e@acme.com"])
            let untimed = try await sim.post("/crm/v3/objects/notes", ["properties": ["hs_note_body": "no time"]])
            #expect(untimed.status == 400)
            let toContact: [String: Any] = [
                "to": ["id": contact], "types": [["associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202]],
            ]
            let note = try await sim.post(
                "/crm/v3/objects/notes",
                [
                    "properties": ["hs_note_body": "Called", "hs_timestamp": "1790000000000"],
                    "associations": [toContact],
                ])
            #expect(note.status == 201)
            #expect(
                (note.object["properties"] as? [String: Any])?["hs_timestamp"] as? String == "2026-09-21T14:13:20.000Z")
            // The other direction is contact → note, 201; a call is not a note.
            #expect(
                try await listTypes(sim, "/crm/v4/objects/contacts/\(contact)/associations/notes") == [
                    Int(note.object["id"] as? String ?? "")!: [201]
                ])
            let wrongKind = try await sim.post(
                "/crm/v3/objects/calls",
                ["properties": ["hs_timestamp": "1790000000000"], "associations": [toContact]])
            #expect(wrongKind.status == 400)
        }
    }

    @Test func aRecordReadHoldsAHundredAssociationsOfATypeAndPagesTheRest() async throws {
        try await SimulatorHarness.with { sim in
            let contact = try await sim.createContact(["email": "busy@acme.com"])
            let inputs: [[String: Any]] = (0..<120).map { n in
                [
                    "properties": ["hs_timestamp": String(1_790_000_000_000 + n)],
                    "associations": [
                        [
                            "to": ["id": contact],
                            "types": [["associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202]],
                        ]
                    ],
                ]
            }
            #expect(
                try await sim.post("/crm/v3/objects/notes/batch/create", ["inputs": Array(inputs[..<100])]).status
                    == 201)
            #expect(
                try await sim.post("/crm/v3/objects/notes/batch/create", ["inputs": Array(inputs[100...])]).status
                    == 201)
            let read = try await sim.get("/crm/v3/objects/contacts/\(contact)?associations=notes")
            let notes = (read.object["associations"] as? [String: Any])?["notes"] as? [String: Any]
            #expect((notes?["results"] as? [[String: Any]])?.count == 100)
            let after = try #require(
                ((notes?["paging"] as? [String: Any])?["next"] as? [String: Any])?["after"] as? String)
            let rest = try await sim.get("/crm/v4/objects/contacts/\(contact)/associations/notes?after=\(after)")
            #expect(rest.results.count == 20)
        }
    }
}
