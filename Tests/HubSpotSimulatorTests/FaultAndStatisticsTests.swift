import Foundation
import HubSpotSimulator
import Testing

@Suite struct FaultTests {
    @Test func outageAnswers503UntilLifted() async throws {
        try await SimulatorHarness.with { sim in
            #expect(try await sim.request("PUT", "/_sim/faults", json: ["outage": true], authorized: false).status == 200)
            let down = try await sim.get("/crm/v3/objects/contacts")
            #expect(down.status == 503)
            #expect(down.object["status"] as? String == "error")
            #expect(try await sim.request("DELETE", "/_sim/faults", authorized: false).status == 204)
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 200)
        }
    }

    @Test func errorRateAppliesOnlyToTheNamedEndpoint() async throws {
        try await SimulatorHarness.with { sim in
            let rule: [String: Any] = ["endpoint": "objects.batch.*", "errorRate": 1.0, "errorStatuses": [502]]
            _ = try await sim.request("PUT", "/_sim/faults", json: ["rules": [rule]], authorized: false)
            #expect(try await sim.post("/crm/v3/objects/contacts/batch/read", ["inputs": []]).status == 502)
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 200)
            let faults = try await sim.request("GET", "/_sim/faults", authorized: false).object
            #expect((faults["rules"] as? [[String: Any]])?.first?["endpoint"] as? String == "objects.batch.*")
        }
    }

    @Test func droppedConnectionsGiveTheClientATransportError() async throws {
        try await SimulatorHarness.with { sim in
            _ = try await sim.request("PUT", "/_sim/faults", json: ["rules": [["endpoint": "objects.get", "dropRate": 1.0]]], authorized: false)
            await #expect(throws: (any Error).self) { try await sim.get("/crm/v3/objects/contacts/1") }
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 200)
        }
    }

    @Test func latencyDelaysAnswersByAtLeastTheFixedAmount() async throws {
        try await SimulatorHarness.with({ configuration in
            var rule = FaultRule()
            rule.latency = .fixed(milliseconds: 200)
            configuration.faults.rules = [rule]
        }) { sim in
            let clock = ContinuousClock()
            let start = clock.now
            let reply = try await sim.get("/crm/v3/objects/contacts")
            #expect(reply.status == 200)
            #expect(clock.now - start >= .milliseconds(200))
        }
    }

    @Test func slowBodiesArriveWhole() async throws {
        try await SimulatorHarness.with({ $0.seedContacts = 10 }) { sim in
            _ = try await sim.request("PUT", "/_sim/faults", json: ["rules": [["slowBodyChunkDelayMs": 2, "slowBodyChunkBytes": 256]]], authorized: false)
            let reply = try await sim.get("/crm/v3/objects/contacts?limit=10")
            #expect(reply.status == 200)
            #expect(reply.results.count == 10)
        }
    }

    @Test func badFaultDocumentsAreRefused() async throws {
        try await SimulatorHarness.with { sim in
            let badRate = try await sim.request("PUT", "/_sim/faults", json: ["rules": [["errorRate": 2]]], authorized: false)
            #expect(badRate.status == 400)
            let badLatency = try await sim.request("PUT", "/_sim/faults", json: ["rules": [["latency": "soon"]]], authorized: false)
            #expect(badLatency.status == 400)
            #expect(badLatency.message.contains("latency"))
        }
    }

    @Test func latencySpecificationsParse() {
        #expect(LatencySpec.parse("50") == .fixed(milliseconds: 50))
        #expect(LatencySpec.parse("0") == LatencySpec.none)
        #expect(LatencySpec.parse("20-80") == .uniform(minMilliseconds: 20, maxMilliseconds: 80))
        #expect(LatencySpec.parse("50~10") == .normal(meanMilliseconds: 50, standardDeviationMilliseconds: 10))
        #expect(LatencySpec.parse("80-20") == nil)
        #expect(LatencySpec.parse("x") == nil)
    }
}

@Suite struct StatisticsTests {
    @Test func statisticsCountByEndpointStatusAndSecondAndReset() async throws {
        try await SimulatorHarness.with { sim in
            _ = try await sim.get("/crm/v3/objects/contacts")
            _ = try await sim.get("/crm/v3/objects/contacts/1")
            _ = try await sim.request("GET", "/crm/v3/objects/contacts", authorized: false)
            let stats = try await sim.stats()
            #expect(stats["total"] as? Int == 3)
            #expect((stats["byEndpoint"] as? [String: Int]) == ["objects.list": 2, "objects.get": 1])
            #expect((stats["byStatus"] as? [String: Int]) == ["200": 1, "401": 1, "404": 1])
            let perSecond = stats["perSecond"] as? [[String: Any]] ?? []
            #expect(perSecond.reduce(0) { $0 + ($1["requests"] as? Int ?? 0) } == 3)
            #expect(try await sim.request("POST", "/_sim/stats/reset", authorized: false).status == 204)
            #expect(try await sim.stats()["total"] as? Int == 0)
        }
    }

    @Test func resetRestoresTheSeededStartState() async throws {
        try await SimulatorHarness.with({ $0.seedContacts = 3 }) { sim in
            _ = try await sim.createContact(["email": "extra@b.co"])
            #expect(try await sim.request("GET", "/_sim/objects", authorized: false).object["contacts"] as? Int == 4)
            #expect(try await sim.request("POST", "/_sim/reset", authorized: false).status == 204)
            #expect(try await sim.request("GET", "/_sim/objects", authorized: false).object["contacts"] as? Int == 3)
        }
    }

    @Test func limitsCanBeChangedAtRunTime() async throws {
        try await SimulatorHarness.with { sim in
            let limits = try await sim.request("PUT", "/_sim/limits", json: ["burstLimit": 1, "burstIntervalMs": 60000], authorized: false)
            #expect(limits.object["burstLimit"] as? Int == 1)
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 200)
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 429)
            #expect(try await sim.request("PUT", "/_sim/limits", json: ["burstIntervalMs": 0], authorized: false).status == 400)
        }
    }
}

@Suite struct SeedTests {
    @Test func sameSeedGivesTheSameDataAndAnotherSeedDiffers() async throws {
        func snapshot(_ seedValue: UInt64) async throws -> String {
            try await SimulatorHarness.with({ $0.seedContacts = 25; $0.seedValue = seedValue }) { sim in
                let contacts = try await sim.get("/crm/v3/objects/contacts?limit=100&properties=email,firstname,lastname,lifecyclestage&associations=companies")
                let deals = try await sim.get("/crm/v3/objects/deals?limit=100&properties=dealname,amount,dealstage&associations=contacts")
                #expect(contacts.results.count == 25)
                #expect(deals.results.count == 12)
                #expect(try await sim.get("/crm/v3/objects/companies").results.count == 5)
                #expect(contacts.results.allSatisfy { $0["associations"] != nil })
                return String(decoding: contacts.data + deals.data, as: UTF8.self)
            }
        }
        let first = try await snapshot(7)
        #expect(try await snapshot(7) == first)
        #expect(try await snapshot(8) != first)
    }
}
