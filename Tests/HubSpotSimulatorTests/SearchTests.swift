import Foundation
import HubSpotSimulator
import Testing
import Time
import TestSupport

@Suite struct SearchTests {
    /// Five contacts and four deals with known values.
    func seed(_ sim: SimulatorHarness) async throws {
        for (email, first, stage) in [
            ("ann@acme.com", "Ann", "lead"), ("bob@acme.com", "Bob", "customer"), ("cy@other.org", "Cy", "lead"),
            ("dee@other.org", "Dee", "subscriber"), ("eve@acme.com", "Eve", "customer"),
        ] {
            _ = try await sim.createContact(["email": email, "firstname": first, "lifecyclestage": stage])
        }
        for (name, amount) in [("Small", "100"), ("Medium", "2500"), ("Large", "90000"), ("Nine", "9")] {
            #expect(
                try await sim.post("/crm/v3/objects/deals", ["properties": ["dealname": name, "amount": amount]]).status
                    == 201)
        }
    }

    func search(_ sim: SimulatorHarness, _ body: [String: Any], type: String = "contacts") async throws
        -> SimulatorHarness.Reply
    {
        try await sim.post("/crm/v3/objects/\(type)/search", body)
    }

    func names(_ reply: SimulatorHarness.Reply, _ property: String = "firstname") -> [String] {
        reply.results.compactMap { $0.properties[property] as? String }
    }

    @Test func filtersInAGroupAreAndedAndGroupsAreOred() async throws {
        try await SimulatorHarness.with { sim in
            try await seed(sim)
            let reply = try await search(
                sim,
                [
                    "filterGroups": [
                        [
                            "filters": [
                                ["propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"],
                                ["propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@acme.com"],
                            ]
                        ],
                        ["filters": [["propertyName": "firstname", "operator": "EQ", "value": "dee"]]],
                    ], "properties": ["firstname"],
                ])
            #expect(reply.status == 200)
            #expect(Set(names(reply)) == ["Ann", "Dee"])
            #expect(reply.object["total"] as? Int == 2)
        }
    }

    @Test func operatorsCompareNumbersNumericallyAndTextIgnoringCase() async throws {
        try await SimulatorHarness.with { sim in
            try await seed(sim)
            func deals(_ filter: [String: Any]) async throws -> Set<String> {
                Set(
                    names(
                        try await search(
                            sim, ["filterGroups": [["filters": [filter]]], "properties": ["dealname"]], type: "deals"),
                        "dealname"))
            }
            #expect(
                try await deals(["propertyName": "amount", "operator": "GT", "value": "100"]) == ["Medium", "Large"])
            #expect(try await deals(["propertyName": "amount", "operator": "LTE", "value": 100]) == ["Small", "Nine"])
            #expect(
                try await deals(["propertyName": "amount", "operator": "BETWEEN", "value": "9", "highValue": "2500"])
                    == ["Small", "Medium", "Nine"])
            #expect(try await deals(["propertyName": "dealname", "operator": "EQ", "value": "LARGE"]) == ["Large"])
            #expect(
                try await deals(["propertyName": "dealname", "operator": "NEQ", "value": "large"]) == [
                    "Small", "Medium", "Nine",
                ])
            #expect(
                try await deals(["propertyName": "dealname", "operator": "IN", "values": ["small", "nine"]]) == [
                    "Small", "Nine",
                ])
            #expect(
                try await deals(["propertyName": "dealname", "operator": "IN", "values": ["SMALL"]]) == [],
                "IN values must be lower case for strings")
            #expect(
                try await deals(["propertyName": "dealname", "operator": "NOT_IN", "values": ["small"]]) == [
                    "Medium", "Large", "Nine",
                ])
            #expect(try await deals(["propertyName": "description", "operator": "NOT_HAS_PROPERTY"]).count == 4)
            #expect(try await deals(["propertyName": "amount", "operator": "HAS_PROPERTY"]).count == 4)
            #expect(
                try await deals(["propertyName": "dealname", "operator": "CONTAINS_TOKEN", "value": "med*"]) == [
                    "Medium"
                ])
            #expect(
                try await deals(["propertyName": "dealname", "operator": "NOT_CONTAINS_TOKEN", "value": "med*"]) == [
                    "Small", "Large", "Nine",
                ])
            // Dates compare as epoch milliseconds.
            #expect(try await deals(["propertyName": "createdate", "operator": "GT", "value": "0"]).count == 4)
            #expect(try await deals(["propertyName": "createdate", "operator": "LT", "value": "946684800000"]).isEmpty)
        }
    }

    @Test func sortsAndPagesWithOffsetCursors() async throws {
        try await SimulatorHarness.with { sim in
            try await seed(sim)
            var seen: [String] = []
            var after: Any? = nil
            repeat {
                var body: [String: Any] = [
                    "sorts": [["propertyName": "firstname", "direction": "DESCENDING"]], "properties": ["firstname"],
                    "limit": 2,
                ]
                if let after { body["after"] = after }
                let reply = try await search(sim, body)
                #expect(reply.object["total"] as? Int == 5)
                seen += names(reply)
                after = ((reply.object["paging"] as? [String: Any])?["next"] as? [String: Any])?["after"]
            } while after != nil
            #expect(seen == ["Eve", "Dee", "Cy", "Bob", "Ann"])
        }
    }

    @Test func freeTextQueryMatchesWordPrefixesAndEmails() async throws {
        try await SimulatorHarness.with { sim in
            try await seed(sim)
            #expect(Set(names(try await search(sim, ["query": "other.org"]))) == ["Cy", "Dee"])
            #expect(names(try await search(sim, ["query": "bo"])) == ["Bob"])
        }
    }

    @Test func capsAreEnforcedWithA400() async throws {
        try await SimulatorHarness.with { sim in
            let filter: [String: Any] = ["propertyName": "email", "operator": "HAS_PROPERTY"]
            let tooManyGroups = try await search(
                sim, ["filterGroups": Array(repeating: ["filters": [filter]], count: 6)])
            #expect(tooManyGroups.status == 400)
            #expect(tooManyGroups.message.contains("filter groups"))
            let tooManyInGroup = try await search(
                sim, ["filterGroups": [["filters": Array(repeating: filter, count: 7)]]])
            #expect(tooManyInGroup.status == 400)
            let tooManyInAll = try await search(
                sim, ["filterGroups": Array(repeating: ["filters": Array(repeating: filter, count: 4)], count: 5)])
            #expect(tooManyInAll.status == 400)
            #expect(tooManyInAll.message.contains("18"))
            #expect(try await search(sim, ["limit": 201]).status == 400)
            #expect(try await search(sim, ["sorts": [["propertyName": "a"], ["propertyName": "b"]]]).status == 400)
            #expect(
                try await search(
                    sim, ["filterGroups": [["filters": [["propertyName": "email", "operator": "LIKE", "value": "x"]]]]]
                ).status == 400)
            let pastWindow = try await search(sim, ["after": "9950", "limit": 100])
            #expect(pastWindow.status == 400)
            #expect(pastWindow.message.contains("10000"))
            let longBody = try await search(sim, ["query": String(repeating: "x", count: 3100)])
            #expect(longBody.status == 400)
        }
    }

    @Test func archivedRecordsNeverMatch() async throws {
        try await SimulatorHarness.with { sim in
            let id = try await sim.createContact(["email": "z@b.co"])
            _ = try await sim.request("DELETE", "/crm/v3/objects/contacts/\(id)")
            #expect(try await search(sim, [:]).object["total"] as? Int == 0)
        }
    }
}

/// HubSpot's search index lags behind writes; the simulator's can too.
@Suite struct SearchIndexDelayTests {
    @Test func aWrittenRecordIsSearchableOnlyAfterTheIndexDelay() async throws {
        let clock = ManualClock()
        try await SimulatorHarness.with({
            $0.searchIndexDelay = .seconds(3); $0.time = .manual(clock)
        }) { sim in
            let id = try await sim.createContact(["email": "late@acme.com"])
            let query: [String: Any] = [
                "filterGroups": [["filters": [["propertyName": "email", "operator": "EQ", "value": "late@acme.com"]]]]
            ]
            let early = try await sim.post("/crm/v3/objects/contacts/search", query)
            #expect(early.object["total"] as? Int == 0, "not indexed yet")
            // The read by id sees it at once: only search lags.
            #expect(try await sim.get("/crm/v3/objects/contacts/\(id)").status == 200)
            clock.advance(by: .milliseconds(2999))
            let almost = try await sim.post("/crm/v3/objects/contacts/search", query)
            #expect(almost.object["total"] as? Int == 0, "not indexed before the delay")
            clock.advance(by: .milliseconds(1))
            let indexed = try await sim.post("/crm/v3/objects/contacts/search", query)
            #expect(indexed.object["total"] as? Int == 1, "indexed once the delay passed")
        }
    }
}
