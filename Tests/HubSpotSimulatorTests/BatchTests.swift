import Foundation
import HubSpotSimulator
import Testing

@Suite struct BatchTests {
    @Test func batchReadReturnsFoundRecordsAnd207ForMissingIds() async throws {
        try await SimulatorHarness.with({ $0.seedContacts = 5 }) { sim in
            let list = try await sim.get("/crm/v3/objects/contacts?limit=5")
            let ids = list.results.compactMap { $0["id"] as? String }
            let all = try await sim.post(
                "/crm/v3/objects/contacts/batch/read", ["inputs": ids.map { ["id": $0] }, "properties": ["email"]])
            #expect(all.status == 200)
            #expect(all.object["status"] as? String == "COMPLETE")
            #expect(Set(all.results.compactMap { $0["id"] as? String }) == Set(ids))
            #expect(all.results.allSatisfy { $0.properties.keys.sorted() == ["email"] })

            let some = try await sim.post(
                "/crm/v3/objects/contacts/batch/read", ["inputs": [["id": ids[0]], ["id": "999999"], ["id": "888888"]]])
            #expect(some.status == 207)
            #expect(some.results.count == 1)
            #expect(some.object["numErrors"] as? Int == 1)
            let error = (some.object["errors"] as? [[String: Any]])?.first
            #expect(error?["category"] as? String == "OBJECT_NOT_FOUND")
            #expect((error?["context"] as? [String: [String]])?["ids"] == ["999999", "888888"])
        }
    }

    @Test func moreThanOneHundredInputsIsA400() async throws {
        try await SimulatorHarness.with { sim in
            let inputs = (1...101).map { ["id": String($0)] }
            let reply = try await sim.post("/crm/v3/objects/contacts/batch/read", ["inputs": inputs])
            #expect(reply.status == 400)
            #expect(reply.message.contains("limited to 100"))
        }
    }

    @Test func batchCreateWithoutTraceIdsFailsWholeOnOneConflict() async throws {
        try await SimulatorHarness.with { sim in
            let existing = try await sim.createContact(["email": "taken@b.co"])
            let reply = try await sim.post(
                "/crm/v3/objects/contacts/batch/create",
                [
                    "inputs": [
                        ["properties": ["email": "new1@b.co"]], ["properties": ["email": "taken@b.co"]],
                        ["properties": ["email": "new2@b.co"]],
                    ]
                ])
            #expect(reply.status == 409)
            #expect(reply.message == "Contact already exists. Existing ID: \(existing)")
            let list = try await sim.get("/crm/v3/objects/contacts")
            #expect(list.results.count == 1, "an atomic batch that failed must create nothing")
        }
    }

    @Test func batchCreateWithTraceIdsCreatesTheGoodInputsAndReportsTheBad() async throws {
        try await SimulatorHarness.with { sim in
            _ = try await sim.createContact(["email": "taken@b.co"])
            let reply = try await sim.post(
                "/crm/v3/objects/contacts/batch/create",
                [
                    "inputs": [
                        ["properties": ["email": "new1@b.co"], "objectWriteTraceId": "t1"],
                        ["properties": ["email": "taken@b.co"], "objectWriteTraceId": "t2"],
                        ["properties": ["email": "new2@b.co", "bogus": "x"], "objectWriteTraceId": "t3"],
                        ["properties": ["email": "new1@b.co"], "objectWriteTraceId": "t4"],
                    ]
                ])
            #expect(reply.status == 207)
            #expect(reply.results.compactMap { $0.properties["email"] as? String } == ["new1@b.co"])
            let errors = reply.object["errors"] as? [[String: Any]] ?? []
            let byTrace = Dictionary(
                uniqueKeysWithValues: errors.map {
                    (
                        ($0["context"] as? [String: [String]])?["objectWriteTraceId"]?.first ?? "",
                        $0["category"] as? String ?? ""
                    )
                })
            #expect(byTrace == ["t2": "CONFLICT", "t3": "VALIDATION_ERROR", "t4": "CONFLICT"])
            #expect(errors.allSatisfy { $0["links"] != nil && $0["errors"] != nil })
        }
    }

    @Test func batchCreateReturns201AndMakesEveryRecord() async throws {
        try await SimulatorHarness.with { sim in
            let inputs = (1...100).map { ["properties": ["email": "c\($0)@b.co"]] }
            let reply = try await sim.post("/crm/v3/objects/contacts/batch/create", ["inputs": inputs])
            #expect(reply.status == 201)
            #expect(reply.results.count == 100)
        }
    }

    @Test func batchUpdateAppliesAllOrReportsTheMissingRecord() async throws {
        try await SimulatorHarness.with { sim in
            let a = try await sim.createContact(["email": "a@b.co"])
            let b = try await sim.createContact(["email": "b@b.co"])
            let ok = try await sim.post(
                "/crm/v3/objects/contacts/batch/update",
                [
                    "inputs": [
                        ["id": a, "properties": ["firstname": "A"]], ["id": b, "properties": ["firstname": "B"]],
                    ]
                ])
            #expect(ok.status == 200)
            #expect(Set(ok.results.compactMap { $0.properties["firstname"] as? String }) == ["A", "B"])
            let missing = try await sim.post(
                "/crm/v3/objects/contacts/batch/update",
                [
                    "inputs": [
                        ["id": a, "properties": ["firstname": "AA"]],
                        ["id": "424242", "properties": ["firstname": "X"]],
                    ]
                ])
            #expect(missing.status == 404)
            #expect(try await sim.get("/crm/v3/objects/contacts/\(a)").object.properties["firstname"] as? String == "A")
        }
    }

    @Test func upsertCreatesOrUpdatesByEmailAndSaysWhich() async throws {
        try await SimulatorHarness.with { sim in
            let existing = try await sim.createContact(["email": "up@b.co"])
            let reply = try await sim.post(
                "/crm/v3/objects/contacts/batch/upsert",
                [
                    "inputs": [
                        ["idProperty": "email", "id": "up@b.co", "properties": ["firstname": "Old"]],
                        ["idProperty": "email", "id": "fresh@b.co", "properties": ["firstname": "New"]],
                    ]
                ])
            #expect(reply.status == 200)
            let byEmail = Dictionary(
                uniqueKeysWithValues: reply.results.map { ($0.properties["email"] as? String ?? "", $0) })
            #expect(byEmail["up@b.co"]?["new"] as? Bool == false)
            #expect(byEmail["up@b.co"]?["id"] as? String == existing)
            #expect(byEmail["fresh@b.co"]?["new"] as? Bool == true)
            let noIdProperty = try await sim.post(
                "/crm/v3/objects/contacts/batch/upsert", ["inputs": [["id": "x@b.co", "properties": [:]]]])
            #expect(noIdProperty.status == 400)
        }
    }

    @Test func batchArchiveRemovesRecordsAndIgnoresUnknownIds() async throws {
        try await SimulatorHarness.with { sim in
            let a = try await sim.createContact(["email": "a@b.co"])
            let reply = try await sim.post(
                "/crm/v3/objects/contacts/batch/archive", ["inputs": [["id": a], ["id": "777"]]])
            #expect(reply.status == 204)
            #expect(try await sim.get("/crm/v3/objects/contacts/\(a)").status == 404)
        }
    }
}
