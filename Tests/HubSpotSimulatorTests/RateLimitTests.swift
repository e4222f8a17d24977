import Foundation
import HubSpotSimulator
import Testing
import Time

@Suite struct RateLimitTests {
    @Test func burstLimitAnswers429WithHubSpotsBodyAndChangesNothing() async throws {
        try await SimulatorHarness.with({
            $0.burstLimit = 5; $0.burstInterval = .seconds(10)
        }) { sim in
            var remaining: [String] = []
            for index in 0..<5 {
                let reply = try await sim.post("/crm/v3/objects/contacts", ["properties": ["email": "r\(index)@b.co"]])
                #expect(reply.status == 201)
                remaining.append(reply.header("X-HubSpot-RateLimit-Remaining") ?? "")
            }
            #expect(remaining == ["4", "3", "2", "1", "0"])
            let refused = try await sim.post("/crm/v3/objects/contacts", ["properties": ["email": "late@b.co"]])
            #expect(refused.status == 429)
            #expect(refused.object["errorType"] as? String == "RATE_LIMIT")
            #expect(refused.object["policyName"] as? String == "TEN_SECONDLY_ROLLING")
            #expect(refused.message == "You have reached your ten_secondly_rolling limit.")
            #expect(refused.category == nil)
            #expect(refused.header("X-HubSpot-RateLimit-Max") == "5")
            #expect(refused.header("X-HubSpot-RateLimit-Interval-Milliseconds") == "10000")
            // The refused create changed nothing.
            let stats = try await sim.stats()
            #expect(stats["rateLimited"] as? Int == 1)
            _ = try await sim.request("PUT", "/_sim/limits", json: ["burstLimit": 0], authorized: false)
            let late = try await sim.get("/crm/v3/objects/contacts/late@b.co?idProperty=email")
            #expect(late.status == 404)
        }
    }

    @Test func rollingWindowAdmitsAgainOnceOldRequestsAge() async throws {
        let clock = ManualClock()
        try await SimulatorHarness.with({
            $0.burstLimit = 3; $0.burstInterval = .seconds(3); $0.time = .manual(clock)
        }) { (sim: SimulatorHarness) async throws -> Void in
            for _ in 0..<3 { #expect(try await sim.get("/crm/v3/objects/contacts").status == 200) }
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 429)
            clock.advance(by: .milliseconds(2900))
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 429, "the window still holds all three")
            clock.advance(by: .milliseconds(200))
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 200)
        }
    }

    @Test func theAdminClockMovesTheSimulatorsTimeForwardAndNeverBack() async throws {
        try await SimulatorHarness.with({
            $0.burstLimit = 1; $0.burstInterval = .seconds(60)
        }) {
            (sim: SimulatorHarness) async throws -> Void in
            let before = try await sim.request("GET", "/_sim/clock", authorized: false).object["now"] as? Int ?? 0
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 200)
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 429)
            let moved = try await sim.request(
                "POST", "/_sim/clock", json: ["advanceMilliseconds": 60_000], authorized: false)
            #expect(moved.status == 200)
            #expect((moved.object["now"] as? Int ?? 0) >= before + 60_000)
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 200, "the window aged on the moved clock")
            let back = try await sim.request(
                "POST", "/_sim/clock", json: ["advanceMilliseconds": -1], authorized: false)
            #expect(back.status == 400)
        }
    }

    @Test func searchHasItsOwnSecondlyLimitAndNoRateLimitHeaders() async throws {
        // A long window keeps the test independent of how fast a loaded machine sends.
        try await SimulatorHarness.with({
            $0.searchPerSecondLimit = 2; $0.searchInterval = .seconds(30); $0.burstLimit = 100
        }) { sim in
            for _ in 0..<2 {
                let ok = try await sim.post("/crm/v3/objects/contacts/search", [:])
                #expect(ok.status == 200)
                #expect(ok.header("X-HubSpot-RateLimit-Remaining") == nil)
            }
            let refused = try await sim.post("/crm/v3/objects/contacts/search", [:])
            #expect(refused.status == 429)
            #expect(refused.object["policyName"] as? String == "SECONDLY")
            #expect(refused.message == "You have reached your secondly limit.")
            // Search does not use the burst budget: other calls still pass.
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 200)
        }
    }

    @Test func dailyLimitRefusesWithTheDailyPolicy() async throws {
        try await SimulatorHarness.with({ $0.dailyLimit = 2 }) { sim in
            #expect(try await sim.get("/crm/v3/objects/contacts").header("X-HubSpot-RateLimit-Daily-Remaining") == "1")
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 200)
            let refused = try await sim.get("/crm/v3/objects/contacts")
            #expect(refused.status == 429)
            #expect(refused.object["policyName"] as? String == "DAILY")
        }
    }

    @Test func concurrentLoadNeverAdmitsMoreThanTheLimitInAnyWindow() async throws {
        try await SimulatorHarness.with({
            $0.burstLimit = 20; $0.burstInterval = .milliseconds(500)
        }) { sim in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<200 { group.addTask { try await sim.get("/crm/v3/objects/contacts").status } }
                var statuses: [Int: Int] = [:]
                for try await status in group { statuses[status, default: 0] += 1 }
                #expect(statuses[200, default: 0] >= 20)
                #expect(statuses.keys.allSatisfy { $0 == 200 || $0 == 429 })
            }
            let stats = try await sim.request("GET", "/_sim/stats?windowMs=500", authorized: false).object
            let window = stats["slidingWindow"] as? [String: Any]
            #expect((window?["maxAdmitted"] as? Int ?? 99) <= 20)
        }
    }
}
