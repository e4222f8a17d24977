import Foundation
import HubSpotSimulator
import Logging
import Testing

@Suite struct FaultTests {
    @Test func outageAnswers503UntilLifted() async throws {
        try await SimulatorHarness.with { sim in
            #expect(
                try await sim.request("PUT", "/_sim/faults", json: ["outage": true], authorized: false).status == 200)
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

    @Test func aRuleWithAfterRequestsSparesThatManyMatchingRequestsFirst() async throws {
        try await SimulatorHarness.with { sim in
            let rule: [String: Any] = ["endpoint": "objects.batch.*", "errorRate": 1.0, "afterRequests": 2]
            _ = try await sim.request("PUT", "/_sim/faults", json: ["rules": [rule]], authorized: false)
            // Requests of other endpoints are not counted against the rule.
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 200)
            var statuses: [Int] = []
            for _ in 0..<4 {
                statuses.append(try await sim.post("/crm/v3/objects/contacts/batch/read", ["inputs": []]).status)
            }
            #expect(statuses[0] == 200 && statuses[1] == 200)
            #expect(statuses[2] >= 500 && statuses[3] >= 500)
            let negative = try await sim.request(
                "PUT", "/_sim/faults", json: ["rules": [["afterRequests": -1]]], authorized: false)
            #expect(negative.status == 400)
            #expect(negative.message.contains("afterRequests"))
        }
    }

    @Test func droppedConnectionsGiveTheClientATransportError() async throws {
        try await SimulatorHarness.with { sim in
            _ = try await sim.request(
                "PUT", "/_sim/faults", json: ["rules": [["endpoint": "objects.get", "dropRate": 1.0]]],
                authorized: false)
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

    @Test func aDelayedRequestIsCountedInTheSecondItArrivedIn() async throws {
        // With the rolling limit at 2 per 10 s, a request delayed by a latency fault must count
        // when it arrived: a second request that arrives during the delay sees one already used.
        try await SimulatorHarness.with({ configuration in
            configuration.burstLimit = 2
            var rule = FaultRule()
            rule.endpoint = "objects.list"
            rule.latency = .fixed(milliseconds: 1500)
            configuration.faults.rules = [rule]
        }) { sim in
            // Arrive early in a second so that the delay certainly ends in a later one.
            while Int(Date().timeIntervalSince1970 * 1000) % 1000 > 300 { try await Task.sleep(for: .milliseconds(5)) }
            let arrival = Int(Date().timeIntervalSince1970)
            async let delayed = sim.get("/crm/v3/objects/contacts")
            // Wait until the delayed request has been admitted (the limits say one is used).
            var used = 0
            for _ in 0..<200 where used == 0 {
                used =
                    (try await sim.request("GET", "/_sim/limits", authorized: false).object["burstUsed"] as? Int) ?? 0
                if used == 0 { try await Task.sleep(for: .milliseconds(5)) }
            }
            #expect(used == 1, "the delayed request was not counted on arrival")
            // It was counted by now, well before its 1.5 s delay ends (a loaded machine may have
            // sent it a second later than the test asked).
            let admittedBy = Int(Date().timeIntervalSince1970)
            // The seconds the other requests were sent in (a loaded machine may send them late).
            var sentSeconds = [arrival]
            sentSeconds.append(Int(Date().timeIntervalSince1970))
            #expect(try await sim.get("/crm/v3/objects/contacts/1").status == 404)
            sentSeconds.append(Int(Date().timeIntervalSince1970))
            #expect(
                try await sim.get("/crm/v3/objects/contacts/1").status == 429,
                "two admitted already: the third is over the limit")
            sentSeconds.append(Int(Date().timeIntervalSince1970))
            #expect(try await delayed.status == 200)
            let perSecond = try await sim.stats()["perSecond"] as? [[String: Any]] ?? []
            let counted = perSecond.filter { (arrival...admittedBy).contains($0["second"] as? Int ?? -1) }
                .reduce(0) { $0 + ($1["requests"] as? Int ?? 0) }
            #expect(
                counted >= 1,
                "the delayed request counts in its arrival second (\(arrival)–\(admittedBy)): \(perSecond)")
            #expect(
                !perSecond.contains { ($0["second"] as? Int ?? 0) > sentSeconds.max()! },
                "nothing counts at release: \(perSecond)")
        }
    }

    @Test func aSimulatorThatCannotBindFailsInsteadOfWaitingForever() async throws {
        try await SimulatorHarness.with { first in
            let port = Int(first.baseURL.split(separator: ":").last!)!
            var configuration = SimulatorConfiguration()
            configuration.port = port
            var logger = Logger(label: "hubspot-sim-test")
            logger.logLevel = .critical
            await #expect(throws: (any Error).self) {
                try await HubSpotSimulator.withRunning(configuration, logger: logger) { _, _ in
                    Issue.record("the second simulator claims to listen")
                }
            }
        }
    }

    @Test func slowBodiesArriveWhole() async throws {
        try await SimulatorHarness.with({ $0.seedContacts = 10 }) { sim in
            _ = try await sim.request(
                "PUT", "/_sim/faults", json: ["rules": [["slowBodyChunkDelayMs": 2, "slowBodyChunkBytes": 256]]],
                authorized: false)
            let reply = try await sim.get("/crm/v3/objects/contacts?limit=10")
            #expect(reply.status == 200)
            #expect(reply.results.count == 10)
        }
    }

    @Test func badFaultDocumentsAreRefused() async throws {
        try await SimulatorHarness.with { sim in
            let badRate = try await sim.request(
                "PUT", "/_sim/faults", json: ["rules": [["errorRate": 2]]], authorized: false)
            #expect(badRate.status == 400)
            let badLatency = try await sim.request(
                "PUT", "/_sim/faults", json: ["rules": [["latency": "soon"]]], authorized: false)
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
            let limits = try await sim.request(
                "PUT", "/_sim/limits", json: ["burstLimit": 1, "burstIntervalMs": 60000], authorized: false)
            #expect(limits.object["burstLimit"] as? Int == 1)
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 200)
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 429)
            #expect(
                try await sim.request("PUT", "/_sim/limits", json: ["burstIntervalMs": 0], authorized: false).status
                    == 400)
        }
    }
}

@Suite struct SeedTests {
    @Test func sameSeedGivesTheSameDataAndAnotherSeedDiffers() async throws {
        func snapshot(_ seedValue: UInt64) async throws -> String {
            try await SimulatorHarness.with({
                $0.seedContacts = 25; $0.seedValue = seedValue
            }) { sim in
                let contacts = try await sim.get(
                    "/crm/v3/objects/contacts?limit=100&properties=email,firstname,lastname,lifecyclestage&associations=companies"
                )
                let deals = try await sim.get(
                    "/crm/v3/objects/deals?limit=100&properties=dealname,amount,dealstage&associations=contacts")
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
