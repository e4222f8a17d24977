import Foundation
import HubSpotSimulator
import Testing
import Time

/// What a gateway sharing HubSpot's budget with others needs to see: several private apps of one
/// account, the account's day, and a non-CRM API to pass through.
@Suite struct AccountTests {
    @Test func eachPrivateAppHasItsOwnBurstWindowAndAllShareTheAccountsDay() async throws {
        try await SimulatorHarness.with({
            $0.burstLimit = 3; $0.burstInterval = .seconds(60); $0.dailyLimit = 5
            $0.otherPrivateAppTokens = ["pat-other-app"]
        }) { sim in
            for remaining in ["2", "1", "0"] {
                let reply = try await sim.get("/crm/v3/objects/contacts")
                #expect(reply.status == 200 && reply.header("X-HubSpot-RateLimit-Remaining") == remaining)
            }
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 429, "the main app's window is full")
            // The other app's window is its own; the day is the account's.
            let other = try await sim.request("GET", "/crm/v3/objects/contacts", token: "pat-other-app")
            #expect(other.status == 200 && other.header("X-HubSpot-RateLimit-Remaining") == "2")
            #expect(other.header("X-HubSpot-RateLimit-Daily-Remaining") == "1")
            #expect(try await sim.request("GET", "/crm/v3/objects/contacts", token: "pat-other-app").status == 200)
            let spent = try await sim.request("GET", "/crm/v3/objects/contacts", token: "pat-other-app")
            #expect(spent.status == 429 && spent.object["policyName"] as? String == "DAILY")
            #expect(try await sim.request("GET", "/crm/v3/objects/contacts", token: "pat-unknown").status == 401)
        }
    }

    @Test func theAccountsDetailsAndDailyUsageNameItsTimeZoneAndItsMidnight() async throws {
        // 2026-12-07 12:00 UTC is 07:00 in an account five hours west of UTC: its day ends at
        // 05:00 UTC the next day.
        let clock = ManualClock(startingAt: 1_796_644_800_000)
        try await SimulatorHarness.with({
            $0.dailyLimit = 2_000; $0.dailyResetUTCOffset = .seconds(-5 * 3600)
            $0.accountTimeZone = "America/Bogota"; $0.time = .manual(clock)
        }) { sim in
            let details = try await sim.get("/account-info/2026-03/details")
            #expect(details.status == 200)
            #expect(details.object["timeZone"] as? String == "America/Bogota")
            #expect(details.object["utcOffset"] as? String == "-05:00")
            #expect(details.object["portalId"] as? Int != nil)
            _ = try await sim.get("/crm/v3/objects/contacts")
            let usage = try await sim.get("/account-info/2026-03/api-usage/daily/private-apps")
            let result = try #require((usage.object["results"] as? [[String: Any]])?.first)
            #expect(result["name"] as? String == "private-apps-api-calls-daily")
            #expect(result["usageLimit"] as? Int == 2_000)
            // The contacts call, the details call and this one.
            #expect(result["currentUsage"] as? Int == 3)
            #expect(result["resetsAt"] as? String == "2026-12-08T05:00:00.000Z")
        }
    }

    @Test func communicationPreferencesAreReadAndChangedPerRecipientAndSubscription() async throws {
        try await SimulatorHarness.with({ _ in }) { sim in
            let definitions = try await sim.get("/communication-preferences/v3/definitions")
            let ids = (definitions.object["subscriptionDefinitions"] as? [[String: Any]])?.compactMap {
                $0["id"] as? String
            }
            #expect(ids == ["1", "2"])
            func statuses() async throws -> [String] {
                let reply = try await sim.get("/communication-preferences/v3/status/email/a%40b.co")
                #expect(reply.object["recipient"] as? String == "a@b.co")
                return (reply.object["subscriptionStatuses"] as? [[String: Any]])?.compactMap {
                    $0["status"] as? String
                }
                    ?? []
            }
            #expect(try await statuses() == ["NOT_SUBSCRIBED", "NOT_SUBSCRIBED"])
            // GDPR on: no subscription without its lawful basis.
            let withoutBasis = try await sim.post(
                "/communication-preferences/v3/subscribe", ["emailAddress": "a@b.co", "subscriptionId": "1"])
            #expect(withoutBasis.status == 400 && withoutBasis.message.contains("legalBasis") == true)
            let consent = ["legalBasis": "CONSENT_WITH_NOTICE", "legalBasisExplanation": "Ticked the box"]
            let subscribed = try await sim.post(
                "/communication-preferences/v3/subscribe",
                ["emailAddress": "a@b.co", "subscriptionId": "1"].merging(consent) { $1 })
            #expect(subscribed.status == 200 && subscribed.object["status"] as? String == "SUBSCRIBED")
            #expect(try await statuses() == ["SUBSCRIBED", "NOT_SUBSCRIBED"])
            let again = try await sim.post(
                "/communication-preferences/v3/subscribe",
                ["emailAddress": "A@b.co", "subscriptionId": "1"].merging(consent) { $1 })
            #expect(again.status == 400 && again.category == "VALIDATION_ERROR")
            let unsubscribed = try await sim.post(
                "/communication-preferences/v3/unsubscribe", ["emailAddress": "a@b.co", "subscriptionId": "1"])
            #expect(unsubscribed.object["status"] as? String == "NOT_SUBSCRIBED")
            // Opted out: v3 cannot put the person back; the batch read (v4, dated 2026-03) says so.
            let back = try await sim.post(
                "/communication-preferences/v3/subscribe",
                ["emailAddress": "a@b.co", "subscriptionId": "1"].merging(consent) { $1 })
            #expect(back.status == 400 && back.message.contains("opted out") == true)
            let batch = try await sim.post(
                "/communication-preferences/2026-03/statuses/batch/read", ["inputs": ["a@b.co", "c@d.co"]])
            let results = batch.object["results"] as? [[String: Any]] ?? []
            let first = (results.first?["statuses"] as? [[String: Any]])?.compactMap { $0["status"] as? String }
            #expect(first == ["UNSUBSCRIBED", "NOT_SPECIFIED"])
            #expect(results.count == 2)
            #expect(try await sim.post("/communication-preferences/v3/subscribe", ["emailAddress": "x"]).status == 400)
            #expect(try await sim.get("/communication-preferences/v3/nothing-here").status == 404)
        }
    }
}
