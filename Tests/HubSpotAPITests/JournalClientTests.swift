import Foundation
import HubSpotAPI
import HubSpotSimulator
import Testing

/// The webhooks-journal calls of `HubSpotClient` against hubspot-sim's journal, with the app's
/// client-credentials token.
@Suite struct JournalClientTests {
    func withJournalClient(
        scopes: [String] = [
            "developer.webhooks_journal.read", "developer.webhooks_journal.subscriptions.write",
            "developer.webhooks_journal.subscriptions.read",
        ],
        retention: Duration = .seconds(3600),
        _ body: (HubSpotClient, _ baseURL: String, _ token: String) async throws -> Void
    ) async throws {
        try await withSimulator({ configuration in
            configuration.oauth = OAuthConfiguration(
                clientId: "app-1", clientSecret: "client-secret", refreshToken: "r")
            configuration.journal.retention = retention
            configuration.journal.maxEventsPerEntry = 2
            configuration.seedContacts = 3
        }) { baseURL, token in
            let transport = CurlTransport()
            defer { transport.shutdown() }
            let client = HubSpotClient(
                transport: transport,
                credentials: .clientCredentials(
                    ClientCredentials(clientId: "app-1", clientSecret: Secret("client-secret"), scopes: scopes)),
                configuration: HubSpotClientConfiguration(baseURL: baseURL))
            try await body(client, baseURL, token)
        }
    }

    @Test func subscribedChangesAreReadEntryAfterEntryAndAnUnknownOffsetIs404() async throws {
        try await withJournalClient { client, baseURL, token in
            #expect(try await client.journalEntry(.earliest) == nil, "an empty journal answers 204")
            let made = try await client.upsertJournalSubscription(
                JournalSubscription(objectTypeId: "0-1", actions: ["UPDATE"]))
            let again = try await client.upsertJournalSubscription(
                JournalSubscription(objectTypeId: "0-1", actions: ["UPDATE"]))
            #expect(made.id != nil && again.id == made.id, "upserted, not duplicated")
            #expect(try await client.journalSubscriptions().count == 1)
            let crmTransport = CurlTransport()
            defer { crmTransport.shutdown() }
            let crm = HubSpotClient(
                transport: crmTransport, credentials: .privateAppToken(Secret(token)),
                configuration: HubSpotClientConfiguration(baseURL: baseURL))
            let ids = try await crm.listObjects("contacts", limit: 3).results.map(\.id)
            for (n, id) in ids.enumerated() {
                _ = try await crm.updateObject("contacts", id: id, properties: ["jobtitle": "t\(n)"])
            }
            // Three changes, two an entry: two entries, then nothing newer.
            let first = try #require(try await client.journalEntry(.earliest))
            let second = try #require(try await client.journalEntry(.next(after: first.currentOffset)))
            #expect(try await client.journalEntry(.next(after: second.currentOffset)) == nil)
            #expect(try await client.journalEntry(.latest)?.currentOffset == second.currentOffset)
            var values: [String] = []
            for entry in [first, second] {
                let data = try await client.downloadJournalData(from: entry.url)
                let json = try #require(try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any])
                let events = try #require(json["events"] as? [[String: Any]])
                values += events.compactMap { $0["propertyValue"] as? String }
                #expect(events.allSatisfy { $0["action"] as? String == "UPDATE" })
            }
            #expect(values == ["t0", "t1", "t2"])
            do {
                _ = try await client.journalEntry(.next(after: "00000000-0000-0000-0000-000000000000"))
                Issue.record("an unknown offset must be refused")
            } catch let error as HubSpotError {
                #expect(error.status == 404)
            }
        }
    }

    @Test func aTokenWithoutTheJournalScopeIsRefusedNamingIt() async throws {
        try await withJournalClient(scopes: ["crm.objects.contacts.read"]) { client, _, _ in
            do {
                _ = try await client.journalEntry(.earliest)
                Issue.record("a token without developer.webhooks_journal.read must be refused")
            } catch let error as HubSpotError {
                #expect(error.status == 403 && error.message.contains("developer.webhooks_journal.read"))
            }
        }
    }

    @Test func clientCredentialsNeverShowTheSecret() {
        let credentials = HubSpotCredentials.clientCredentials(
            ClientCredentials(clientId: "app", clientSecret: Secret("s3cr3t"), scopes: ["x"]))
        #expect(!"\(credentials)".contains("s3cr3t"))
    }
}
