import Foundation
@testable import HubSpotAPI
import HubSpotSimulator
import Synchronization
import Testing
import TestSupport
import Time

/// A client on a fresh transport, pointed at `baseURL`.
func makeClient(
    _ baseURL: String, token: String, retry: HubSpotRetryPolicy = HubSpotRetryPolicy(), time: TimeSource = .system,
    version: HubSpotAPIVersion = .current, observer: (@Sendable (HubSpotExchange) -> Void)? = nil
) -> (HubSpotClient, CurlTransport) {
    let transport = CurlTransport()
    var configuration = HubSpotClientConfiguration(baseURL: baseURL)
    configuration.retryPolicy = retry
    configuration.apiVersion = version
    configuration.requestTimeout = .seconds(10)
    return (
        HubSpotClient(
            transport: transport, credentials: .privateAppToken(Secret(token)), configuration: configuration,
            time: time, observer: observer), transport
    )
}

/// Runs `body` with a client against a fresh simulator.
/// A client of a fresh simulator; with `clock`, both keep time by it (the client's retry waits,
/// the simulator's windows), and the test moves it.
func withClient(
    _ configure: (inout SimulatorConfiguration) -> Void = { _ in },
    retry: HubSpotRetryPolicy = HubSpotRetryPolicy(), clock: ManualClock? = nil, version: HubSpotAPIVersion = .current,
    _ body: (HubSpotClient, String) async throws -> Void
) async throws {
    let time: TimeSource = clock.map { .manual($0) } ?? .system
    try await withSimulator({
        $0.time = time
        configure(&$0)
    }) { baseURL, token in
        let (client, transport) = makeClient(baseURL, token: token, retry: retry, time: time, version: version)
        defer { transport.shutdown() }
        try await body(client, baseURL)
    }
}

@Suite struct HubSpotClientObjectTests {
    @Test(arguments: HubSpotAPIVersion.allCases) func createGetUpdateArchive(version: HubSpotAPIVersion) async throws {
        try await withClient(version: version) { client, baseURL in
            let created = try await client.createObject("contacts", properties: ["email": "c@b.co", "firstname": "Cy"])
            #expect(created["email"] == "c@b.co")
            #expect(created.createdAt != nil)
            let fetched = try await client.getObject("contacts", id: created.id, properties: ["email", "phone"])
            #expect(fetched.properties == ["email": "c@b.co", "phone": String?.none])
            let byEmail = try await client.getObject("contacts", id: "c@b.co", idProperty: "email")
            #expect(byEmail.id == created.id)
            let updated = try await client.updateObject(
                "contacts", id: created.id, properties: ["lastname": "Lee", "firstname": String?.none])
            #expect(updated["lastname"] == "Lee")
            #expect(updated["firstname"] == nil)
            #expect(updated.updatedAt! >= updated.createdAt!)
            try await client.archiveObject("contacts", id: created.id)
            await #expect(throws: HubSpotError.self) { try await client.getObject("contacts", id: created.id) }
            let archived = try await client.getObject("contacts", id: created.id, archived: true)
            #expect(archived.archived == true)
            try await expectEveryCall(on: version, baseURL)
        }
    }

    @Test func errorsCarryHubSpotsFields() async throws {
        try await withClient { client, _ in
            let first = try await client.createObject("contacts", properties: ["email": "dup@b.co"])
            do {
                _ = try await client.createObject("contacts", properties: ["email": "dup@b.co"])
                Issue.record("a duplicate must fail")
            } catch let error as HubSpotError {
                #expect(error.status == 409)
                #expect(error.category == "CONFLICT")
                #expect(error.existingObjectId == first.id)
                #expect(error.correlationId?.count == 36)
            }
            do {
                _ = try await client.createObject("deals", properties: ["dealname": "x", "color": "red"])
                Issue.record("an unknown property must fail")
            } catch let error as HubSpotError {
                #expect(error.status == 400)
                #expect(error.category == "VALIDATION_ERROR")
                #expect(error.errors.first?.code == "PROPERTY_DOESNT_EXIST")
                #expect(error.errors.first?.context?["propertyName"] == ["color"])
            }
            do {
                _ = try await client.getObject("contacts", id: "424242")
                Issue.record("a missing record must fail")
            } catch let error as HubSpotError {
                #expect(error.isNotFound)
                #expect(error.category == "OBJECT_NOT_FOUND")
                #expect(error.rateLimit.dailyRemaining == nil)
            }
        }
    }

    @Test(arguments: HubSpotAPIVersion.allCases) func listPagesThroughEverything(version: HubSpotAPIVersion)
        async throws
    {
        try await withClient({ $0.seedContacts = 120 }, version: version) { client, baseURL in
            var ids: [String] = []
            var after: String?
            repeat {
                let page = try await client.listObjects(
                    "contacts", limit: 50, after: after, properties: ["email"], associations: ["companies"])
                ids += page.results.map(\.id)
                #expect(page.results.allSatisfy { $0.associations?["companies"]?.results.isEmpty == false })
                after = page.nextAfter
            } while after != nil
            #expect(ids.count == 120)
            #expect(Set(ids).count == 120)
            try await expectEveryCall(on: version, baseURL)
        }
    }

    @Test(arguments: HubSpotAPIVersion.allCases) func batchCallsReportPartialFailures(version: HubSpotAPIVersion)
        async throws
    {
        try await withClient(version: version) { client, baseURL in
            let created = try await client.batchCreate(
                "contacts", inputs: (0..<3).map { BatchCreateInput(properties: ["email": "b\($0)@b.co"]) })
            #expect(created.httpStatus == 201)
            #expect(created.results.count == 3)
            let ids = created.results.map(\.id)
            let read = try await client.batchRead("contacts", ids: ids + ["999999"], properties: ["email"])
            #expect(read.httpStatus == 207)
            #expect(Set(read.results.map(\.id)) == Set(ids))
            #expect(read.errors.first?.context?["ids"] == ["999999"])
            let partial = try await client.batchCreate(
                "contacts",
                inputs: [
                    BatchCreateInput(properties: ["email": "b0@b.co"], objectWriteTraceId: "dup"),
                    BatchCreateInput(properties: ["email": "fresh@b.co"], objectWriteTraceId: "ok"),
                ])
            #expect(partial.httpStatus == 207)
            #expect(partial.results.map { $0["email"] } == ["fresh@b.co"])
            #expect(partial.errors.first?.context?["objectWriteTraceId"] == ["dup"])
            let updated = try await client.batchUpdate(
                "contacts", inputs: ids.map { BatchUpdateInput(id: $0, properties: ["firstname": "U"]) })
            #expect(updated.results.allSatisfy { $0["firstname"] == "U" })
            let upserted = try await client.batchUpsert(
                "contacts",
                inputs: [
                    BatchUpdateInput(id: "b1@b.co", properties: ["lastname": "Old"], idProperty: "email"),
                    BatchUpdateInput(id: "new@b.co", properties: ["lastname": "New"], idProperty: "email"),
                ])
            #expect(
                Dictionary(uniqueKeysWithValues: upserted.results.map { ($0["email"] ?? "", $0.new) }) == [
                    "b1@b.co": false, "new@b.co": true,
                ])
            try await client.batchArchive("contacts", ids: ids)
            #expect(try await client.batchRead("contacts", ids: ids).results.isEmpty)
            try await expectEveryCall(on: version, baseURL)
        }
    }

    @Test(arguments: HubSpotAPIVersion.allCases) func searchWithFiltersSortsAndPaging(version: HubSpotAPIVersion)
        async throws
    {
        try await withClient(version: version) { client, baseURL in
            for (index, stage) in ["lead", "customer", "lead", "lead"].enumerated() {
                _ = try await client.createObject(
                    "contacts",
                    properties: ["email": "s\(index)@b.co", "firstname": "N\(index)", "lifecyclestage": stage])
            }
            let request = SearchRequest(
                filterGroups: [FilterGroup([Filter("lifecyclestage", .eq, value: "lead")])],
                sorts: [Sort("firstname", .descending)], properties: ["firstname"], limit: 2)
            let first = try await client.search("contacts", request)
            #expect(first.total == 3)
            #expect(first.results.map { $0["firstname"] } == ["N3", "N2"])
            var next = request
            next.after = first.nextAfter
            #expect(try await client.search("contacts", next).results.map { $0["firstname"] } == ["N0"])
            try await expectEveryCall(on: version, baseURL)
        }
    }

    @Test(arguments: HubSpotAPIVersion.allCases) func associationsAndProperties(version: HubSpotAPIVersion) async throws
    {
        try await withClient(version: version) { client, baseURL in
            let contact = try await client.createObject("contacts", properties: ["email": "a@b.co"])
            let company = try await client.createObject("companies", properties: ["name": "Acme"])
            try await client.associateDefault(from: "contacts", id: contact.id, to: "companies", toId: company.id)
            let labels = try await client.associate(
                from: "contacts", id: contact.id, to: "companies", toId: company.id,
                types: [AssociationSpec(.hubspotDefined, 1)])
            #expect(labels.labels == ["Primary"])
            let page = try await client.listAssociations(from: "contacts", id: contact.id, to: "companies")
            #expect(page.results.map(\.toObjectId) == [company.id])
            #expect(page.results.first?.associationTypes.map(\.typeId).sorted() == [1, 279])
            let batch = try await client.batchReadAssociations(
                from: "companies", to: "contacts", ids: [company.id, "31337"])
            #expect(batch.httpStatus == 207)
            #expect(batch.results.first?.to.map(\.toObjectId) == [contact.id])
            try await client.removeAssociations(from: "contacts", id: contact.id, to: "companies", toId: company.id)
            #expect(
                try await client.listAssociations(from: "contacts", id: contact.id, to: "companies").results.isEmpty)
            let properties = try await client.properties(of: "contacts")
            #expect(properties.first { $0.name == "email" }?.hasUniqueValue == true)
            let deal = try await client.createObject(
                "deals", properties: ["dealname": "D"],
                associations: [AssociationInput(toId: contact.id, types: [AssociationSpec(.hubspotDefined, 3)])])
            #expect(
                try await client.getObject("deals", id: deal.id, associations: ["contacts"]).associations?["contacts"]?
                    .results.map(\.id) == [contact.id])
            try await expectEveryCall(on: version, baseURL)
        }
    }

    @Test func emptyIdsAreRefusedBeforeAnyCall() async throws {
        try await withClient { client, _ in
            await #expect(throws: HubSpotClientError.self) { try await client.getObject("contacts", id: "") }
            _ = try await client.listObjects("contacts", limit: 1)
        }
    }
}

@Suite struct HubSpotClientRetryTests {
    @Test func tenSecondlyRateLimitIsWaitedOutAndRetried() async throws {
        let clock = ManualClock()
        try await withClient(
            {
                $0.burstLimit = 2; $0.burstInterval = .seconds(3)
            }, clock: clock
        ) { client, baseURL in
            // Three calls against a limit of two per 3 s: the third gets a 429, waits the
            // interval HubSpot names (3,000 ms, not the 10 s default), and succeeds.
            let started = clock.now
            await runMovingClock(
                clock,
                [
                    { for _ in 0..<3 { _ = try? await client.listObjects("contacts", limit: 1) } }
                ])
            let stats = try await adminStats(baseURL)
            #expect(stats["rateLimited"] as? Int == 1)
            #expect((stats["byStatus"] as? [String: Int])?["200"] == 3)
            #expect(clock.now - started == .seconds(3), "waited what HubSpot named, no more")
        }
    }

    @Test func dailyLimitIsNotRetried() async throws {
        try await withClient({ $0.dailyLimit = 1 }) { client, baseURL in
            _ = try await client.listObjects("contacts", limit: 1)
            do {
                _ = try await client.listObjects("contacts", limit: 1)
                Issue.record("the daily limit must surface")
            } catch let error as HubSpotError {
                #expect(error.isRateLimit)
                #expect(error.policyName == "DAILY")
                #expect(error.errorType == "RATE_LIMIT")
            }
            #expect(try await adminStats(baseURL)["total"] as? Int == 2)
        }
    }

    @Test func serviceUnavailableBurstsAreRetriedWithBackoff() async throws {
        var retry = HubSpotRetryPolicy()
        retry.baseDelay = .milliseconds(20)
        retry.maxAttempts = 30
        try await withClient(
            { configuration in
                var rule = FaultRule(endpoint: "objects.list")
                rule.errorRate = 0.5
                rule.errorStatuses = [503]
                configuration.faults.rules = [rule]
            }, retry: retry
        ) { client, baseURL in
            for _ in 0..<10 { _ = try await client.listObjects("contacts", limit: 1) }
            let statuses = try await adminStats(baseURL)["byStatus"] as? [String: Int]
            #expect(statuses?["200"] == 10)
        }
    }

    @Test func createsAreNotRetriedAfterA5xxUnlessIdempotent() async throws {
        var retry = HubSpotRetryPolicy()
        retry.baseDelay = .milliseconds(10)
        try await withClient(
            { configuration in
                var rule = FaultRule(endpoint: "objects.create")
                rule.errorRate = 1
                rule.errorStatuses = [502]
                configuration.faults.rules = [rule]
            }, retry: retry
        ) { client, baseURL in
            await #expect(throws: HubSpotError.self) {
                try await client.createObject("contacts", properties: ["email": "x@b.co"])
            }
            let afterPlainCreate = try await adminStats(baseURL)["total"] as? Int
            #expect(afterPlainCreate == 1)
            await #expect(throws: HubSpotError.self) {
                try await client.createObject(
                    "contacts", properties: ["email": "x@b.co"], options: CallOptions(idempotent: true))
            }
            let afterIdempotentCreate = try await adminStats(baseURL)["total"] as? Int
            #expect(afterIdempotentCreate == 1 + retry.maxAttempts)
        }
    }

    @Test func droppedConnectionsAreRetriedForReads() async throws {
        var retry = HubSpotRetryPolicy()
        retry.baseDelay = .milliseconds(10)
        retry.maxAttempts = 40
        try await withClient(
            { configuration in
                var rule = FaultRule(endpoint: "objects.list")
                rule.dropRate = 0.5
                configuration.faults.rules = [rule]
                configuration.seedValue = 3  // fault draws repeat: this seed drops some of the first calls
            }, retry: retry
        ) { client, baseURL in
            for _ in 0..<5 { _ = try await client.listObjects("contacts", limit: 1) }
            let statuses =
                (try await adminStats(baseURL)["byEndpointAndStatus"] as? [String: Any])?["objects.list"]
                as? [String: Int] ?? [:]
            #expect(statuses["200"] == 5, "every call succeeded in the end: \(statuses)")
            #expect((statuses["0"] ?? 0) >= 1, "connections were dropped and the reads retried: \(statuses)")
        }
    }

    @Test func retriesNeverWaitPastTheDeadline() async throws {
        let clock = ManualClock()
        try await withClient(
            {
                $0.burstLimit = 1; $0.burstInterval = .seconds(60)
            }, clock: clock
        ) { client, baseURL in
            _ = try await client.listObjects("contacts", limit: 1)
            let start = clock.now
            do {
                _ = try await client.listObjects(
                    "contacts", limit: 1, options: CallOptions(deadline: clock.now + .seconds(2)))
                Issue.record("a 60-second wait cannot fit a 2-second deadline")
            } catch let error as HubSpotError {
                #expect(error.policyName == "TEN_SECONDLY_ROLLING")
                #expect(error.rateLimit.intervalMilliseconds == 60_000)
            }
            #expect(clock.now == start, "gave up at once instead of waiting")
            #expect(try await adminStats(baseURL)["total"] as? Int == 2)
        }
    }

    @Test func timeoutsBecomeCurlErrorsWithinTheDeadline() async throws {
        try await withClient(
            { configuration in
                var rule = FaultRule()
                rule.latency = .fixed(milliseconds: 1500)
                configuration.faults.rules = [rule]
            }, retry: .none
        ) { client, _ in
            let clock = ContinuousClock()
            do {
                _ = try await client.listObjects(
                    "contacts", options: CallOptions(deadline: clock.now + .milliseconds(300)))
                Issue.record("must time out")
            } catch let error as CurlError {
                #expect(error.isTimeout)
            }
        }
    }

    @Test func cancellingTheCallingTaskAbortsTheCall() async throws {
        try await withClient({ configuration in
            var rule = FaultRule()
            rule.endpoint = "objects.list"
            rule.latency = .fixed(milliseconds: 3000)
            configuration.faults.rules = [rule]
        }) { client, baseURL in
            let task = Task { try await client.listObjects("contacts") }
            try await waitForArrivals(1, at: baseURL)
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
        }
    }

    @Test func retryPolicyDecisions() {
        let policy = HubSpotRetryPolicy()
        let connectRefused = CurlError(code: 7, message: "refused")
        let received = CurlError(code: 56, message: "reset")
        #expect(
            policy.decide(after: connectRefused, attempt: 1, idempotent: false, jitter: 1)
                == .retry(after: .milliseconds(200)))
        #expect(policy.decide(after: received, attempt: 1, idempotent: false) == .fail)
        #expect(
            policy.decide(after: received, attempt: 2, idempotent: true, jitter: 1) == .retry(after: .milliseconds(400))
        )
        #expect(policy.decide(after: received, attempt: 4, idempotent: true) == .fail)
        #expect(policy.backoff(attempt: 20, jitter: 1, floor: .zero) == .seconds(10))
    }
}

@Suite struct HubSpotClientAuthTests {
    @Test func wrongTokenIsAnAuthenticationError() async throws {
        try await withSimulator { baseURL, _ in
            let (client, transport) = makeClient(baseURL, token: "pat-wrong")
            defer { transport.shutdown() }
            do {
                _ = try await client.listObjects("contacts")
                Issue.record("a wrong token must fail")
            } catch let error as HubSpotError {
                #expect(error.status == 401)
                #expect(error.category == "INVALID_AUTHENTICATION")
                #expect(error.authFailure == "401 Unauthorized")
                #expect(!"\(error)".contains("pat-wrong"))
            }
        }
    }

    @Test func secretsNeverShowInDescriptions() {
        let credentials = HubSpotCredentials.privateAppToken(Secret("pat-na1-very-secret"))
        #expect(!"\(credentials)".contains("very-secret"))
        #expect(!String(reflecting: Secret("pat-na1-very-secret")).contains("very-secret"))
        let oauth = HubSpotCredentials.oauth(
            OAuthCredentials(clientId: "app", clientSecret: Secret("s3cr3t"), refreshToken: Secret("r3fr3sh")))
        #expect(!"\(oauth)".contains("s3cr3t"))
        #expect(!"\(oauth)".contains("r3fr3sh"))
    }

    /// A simulator that issues OAuth tokens for app-1 / refresh-1, and a client presenting `refreshToken`.
    func withOAuthClient(refreshToken: String, _ body: (HubSpotClient, String) async throws -> Void) async throws {
        try await withSimulator({ configuration in
            configuration.oauth = OAuthConfiguration(
                clientId: "app-1", clientSecret: "client-secret", refreshToken: "refresh-1")
        }) { baseURL, _ in
            let transport = CurlTransport()
            defer { transport.shutdown() }
            let client = HubSpotClient(
                transport: transport,
                credentials: .oauth(
                    OAuthCredentials(
                        clientId: "app-1", clientSecret: Secret("client-secret"), refreshToken: Secret(refreshToken))),
                configuration: HubSpotClientConfiguration(baseURL: baseURL))
            try await body(client, baseURL)
        }
    }

    @Test func oauthRefreshesOnceForConcurrentCallsAndAgainAfterA401() async throws {
        try await withOAuthClient(refreshToken: "refresh-1") { client, baseURL in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 { group.addTask { _ = try await client.listObjects("contacts", limit: 1) } }
                try await group.waitForAll()
            }
            #expect((try await adminStats(baseURL)["byEndpoint"] as? [String: Int])?["oauth.token"] == 1)
            _ = try await adminRequest(baseURL, "POST", "/_sim/oauth/expire")
            _ = try await client.listObjects("contacts", limit: 1)
            let stats = try await adminStats(baseURL)
            #expect((stats["byEndpoint"] as? [String: Int])?["oauth.token"] == 2)
            #expect((stats["byStatus"] as? [String: Int])?["401"] == 1)
        }
    }

    @Test func badOAuthCredentialsFailClearly() async throws {
        try await withOAuthClient(refreshToken: "stale") { client, _ in
            do {
                _ = try await client.listObjects("contacts")
                Issue.record("a bad refresh token must fail")
            } catch let error as HubSpotClientError {
                #expect("\(error)".contains("refresh token"))
                #expect(!"\(error)".contains("stale"))
            }
        }
    }
}

@Suite struct HubSpotClientObserverTests {
    @Test func everyExchangeIsReportedWithRateLimitHeaders() async throws {
        try await withSimulator({ $0.burstLimit = 50 }) { baseURL, token in
            let seen = Mutex<[HubSpotExchange]>([])
            let (client, transport) = makeClient(baseURL, token: token) { exchange in
                seen.withLock { $0.append(exchange) }
            }
            defer { transport.shutdown() }
            _ = try await client.listObjects("contacts", limit: 1)
            _ = try? await client.getObject("contacts", id: "1")
            let exchanges = seen.withLock { $0 }
            #expect(exchanges.map(\.endpoint) == ["objects.list", "objects.get"])
            #expect(exchanges.map(\.status) == [200, 404])
            #expect(exchanges[0].rateLimit.max == 50)
            #expect(exchanges[0].rateLimit.remaining == 49)
            #expect(exchanges[1].rateLimit.remaining == 48)
        }
    }
}

// MARK: Admin helpers

func adminRequest(_ baseURL: String, _ method: String, _ path: String) async throws -> [String: Any] {
    let transport = CurlTransport()
    defer { transport.shutdown() }
    let response = try await transport.send(
        HTTPRequest(method: method == "POST" ? .post : .get, url: baseURL + path), timeout: .seconds(30))
    return (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
}

/// Every call the simulator counted went to `version`'s paths.
func expectEveryCall(on version: HubSpotAPIVersion, _ baseURL: String) async throws {
    let byVersion = try await adminStats(baseURL)["byVersion"] as? [String: Int] ?? [:]
    #expect(!byVersion.isEmpty && byVersion.keys.allSatisfy { $0 == version.rawValue }, "\(byVersion)")
}

func adminStats(_ baseURL: String) async throws -> [String: Any] {
    try await adminRequest(baseURL, "GET", "/_sim/stats")
}
