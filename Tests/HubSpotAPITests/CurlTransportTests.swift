import HubSpotAPI
import HubSpotSimulator
import Logging
import Testing
import TestSupport

/// Runs `body` against an in-process simulator with `configure` applied (limits off by default).
/// Waits until the simulator has received `count` API requests (`received` counts them on
/// arrival, before any injected latency), so a test can act while they are in flight.
func waitForArrivals(_ count: Int, at baseURL: String) async throws {
    try await eventually("\(count) requests reached the simulator") {
        (try await adminStats(baseURL)["received"] as? Int ?? 0) >= count
    }
}

func withSimulator<T: Sendable>(
    _ configure: (inout SimulatorConfiguration) -> Void = { _ in },
    _ body: (_ baseURL: String, _ token: String) async throws -> T
) async throws -> T {
    var configuration = SimulatorConfiguration()
    configuration.burstLimit = 0
    configuration.searchPerSecondLimit = 0
    configuration.dailyLimit = 0
    configure(&configuration)
    var logger = Logger(label: "sim")
    logger.logLevel = .critical
    return try await HubSpotSimulator.withRunning(configuration, logger: logger) { _, baseURL in
        try await body(baseURL, configuration.token)
    }
}

@Suite struct CurlTransportTests {
    @Test func getReturnsStatusHeadersAndBody() async throws {
        let transport = CurlTransport()
        defer { transport.shutdown() }
        try await withSimulator({ $0.seedContacts = 3 }) { baseURL, token in
            let response = try await transport.send(
                HTTPRequest(
                    method: .get, url: baseURL + "/crm/v3/objects/contacts?limit=2",
                    headers: [("Authorization", "Bearer \(token)")]),
                timeout: .seconds(30))
            #expect(response.status == 200)
            #expect(response.header("x-hubspot-correlation-id")?.count == 36)
            #expect(response.header("Content-Type") == "application/json;charset=utf-8")
            #expect(String(decoding: response.body, as: UTF8.self).hasPrefix(#"{"results":["#))
        }
    }

    @Test func postPatchAndDeleteCarryTheirBodies() async throws {
        let transport = CurlTransport()
        defer { transport.shutdown() }
        try await withSimulator { baseURL, token in
            let auth = [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")]
            let created = try await transport.send(
                HTTPRequest(
                    method: .post, url: baseURL + "/crm/v3/objects/contacts", headers: auth,
                    body: Array(#"{"properties":{"email":"t@b.co"}}"#.utf8)), timeout: .seconds(30))
            #expect(created.status == 201)
            let patched = try await transport.send(
                HTTPRequest(
                    method: .patch, url: baseURL + "/crm/v3/objects/contacts/t@b.co?idProperty=email", headers: auth,
                    body: Array(#"{"properties":{"firstname":"T"}}"#.utf8)), timeout: .seconds(30))
            #expect(patched.status == 200)
            #expect(String(decoding: patched.body, as: UTF8.self).contains(#""firstname":"T""#))
            let deleted = try await transport.send(
                HTTPRequest(method: .delete, url: baseURL + "/crm/v3/objects/contacts/1001", headers: auth),
                timeout: .seconds(30))
            #expect(deleted.status == 204)
            #expect(deleted.body.isEmpty)
            let emptyPost = try await transport.send(
                HTTPRequest(method: .post, url: baseURL + "/crm/v3/objects/contacts/search", headers: auth),
                timeout: .seconds(30))
            #expect(emptyPost.status == 400)
        }
    }

    @Test func aThousandConcurrentRequestsCompleteWithoutErrorsOrLeakedHandles() async throws {
        var configuration = CurlTransportConfiguration()
        configuration.handlePoolSize = 32
        let transport = CurlTransport(configuration: configuration)
        defer { transport.shutdown() }
        try await withSimulator({ $0.seedContacts = 50 }) { baseURL, token in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<1000 {
                    group.addTask {
                        let id = 1011 + index % 50
                        return try await transport.send(
                            HTTPRequest(
                                method: .get, url: baseURL + "/crm/v3/objects/contacts/\(id)",
                                headers: [("Authorization", "Bearer \(token)")]), timeout: .seconds(30)
                        ).status
                    }
                }
                var statuses: [Int: Int] = [:]
                for try await status in group { statuses[status, default: 0] += 1 }
                #expect(statuses == [200: 1000])
            }
        }
        let statistics = transport.statistics
        #expect(statistics.inFlight == 0)
        #expect(statistics.completed == 1000)
        #expect(statistics.easyHandlesAlive == statistics.easyHandlesPooled)
        #expect(statistics.easyHandlesPooled <= 32)
    }

    @Test func cancellationAbortsTheTransferPromptlyAndFreesItsHandle() async throws {
        let transport = CurlTransport()
        defer { transport.shutdown() }
        try await withSimulator({ configuration in
            var rule = FaultRule()
            rule.endpoint = "objects.list"
            rule.latency = .fixed(milliseconds: 4_000)
            configuration.faults.rules = [rule]
        }) { baseURL, token in
            let clock = ContinuousClock()
            let task = Task {
                try await transport.send(
                    HTTPRequest(
                        method: .get, url: baseURL + "/crm/v3/objects/contacts",
                        headers: [("Authorization", "Bearer \(token)")]), timeout: .seconds(30))
            }
            try await waitForArrivals(1, at: baseURL)
            let cancelledAt = clock.now
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            // The answer was 4 s away: finishing well before proves the transfer was aborted.
            #expect(clock.now - cancelledAt < .seconds(2))
            #expect(transport.statistics.cancelled == 1)
            #expect(transport.statistics.inFlight == 0)
            #expect(transport.statistics.easyHandlesAlive == transport.statistics.easyHandlesPooled)
        }
    }

    @Test func alreadyCancelledTasksNeverStartATransfer() async throws {
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await transport.send(HTTPRequest(method: .get, url: "http://127.0.0.1:1/"), timeout: .seconds(1))
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(transport.statistics.completed == 0)
    }

    @Test func timeoutsAndRefusedConnectionsCarryCurlsCode() async throws {
        let transport = CurlTransport()
        defer { transport.shutdown() }
        do {
            _ = try await transport.send(HTTPRequest(method: .get, url: "http://127.0.0.1:1/"), timeout: .seconds(2))
            Issue.record("a closed port must fail")
        } catch let error as CurlError {
            #expect(error.code == 7)
            #expect(error.requestCertainlyNotSent)
            #expect(error.message.contains("onnect"))
        }
        try await withSimulator({ configuration in
            var rule = FaultRule()
            rule.latency = .fixed(milliseconds: 1_500)
            configuration.faults.rules = [rule]
        }) { baseURL, _ in
            do {
                _ = try await transport.send(
                    HTTPRequest(method: .get, url: baseURL + "/crm/v3/objects/contacts"), timeout: .milliseconds(300))
                Issue.record("a slow answer must time out")
            } catch let error as CurlError {
                #expect(error.isTimeout)
                #expect(!error.requestCertainlyNotSent)
            }
        }
    }

    @Test func droppedConnectionsAreConnectionFailures() async throws {
        let transport = CurlTransport()
        defer { transport.shutdown() }
        try await withSimulator({ configuration in
            var rule = FaultRule()
            rule.dropRate = 1
            configuration.faults.rules = [rule]
        }) { baseURL, token in
            do {
                _ = try await transport.send(
                    HTTPRequest(
                        method: .get, url: baseURL + "/crm/v3/objects/contacts",
                        headers: [("Authorization", "Bearer \(token)")]), timeout: .seconds(30))
                Issue.record("a dropped connection must fail")
            } catch let error as CurlError {
                #expect(error.isConnectionFailure)
                #expect(!error.requestCertainlyNotSent)
            }
        }
    }

    @Test func aRequestWhoseReusedConnectionDiesIsNotSentAgainBehindTheCallersBack() async throws {
        let transport = CurlTransport()
        defer { transport.shutdown() }
        try await withSimulator({ configuration in
            var rule = FaultRule()
            rule.dropRate = 1
            rule.afterRequests = 1  // the first request is answered and leaves its connection open
            configuration.faults.rules = [rule]
        }) { baseURL, token in
            let request = HTTPRequest(
                method: .post, url: baseURL + "/crm/v3/objects/contacts",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                body: Array(#"{"properties":{"email":"once@example.com"}}"#.utf8))
            let first = try await transport.send(request, timeout: .seconds(30))
            #expect(first.status == 201)
            do {
                _ = try await transport.send(request, timeout: .seconds(30))
                Issue.record("a dropped connection must fail")
            } catch let error as CurlError {
                // Sent, with no answer: the caller must treat the outcome as unknown.
                #expect(error.isConnectionFailure && !error.requestCertainlyNotSent)
            }
            // libcurl would have resent the POST on a fresh connection (up to 5 times).
            let received = try await adminStats(baseURL)["received"] as? Int
            #expect(received == 2)
        }
    }

    @Test func responsesOverTheSizeCapFail() async throws {
        var configuration = CurlTransportConfiguration()
        configuration.maxResponseBytes = 1024
        let transport = CurlTransport(configuration: configuration)
        defer { transport.shutdown() }
        try await withSimulator({ $0.seedContacts = 30 }) { baseURL, token in
            await #expect(throws: CurlTransportError.responseTooLarge(limit: 1024)) {
                try await transport.send(
                    HTTPRequest(
                        method: .get, url: baseURL + "/crm/v3/objects/contacts?limit=30",
                        headers: [("Authorization", "Bearer \(token)")]), timeout: .seconds(30))
            }
        }
        #expect(transport.statistics.inFlight == 0)
    }

    @Test func headersWithLineBreaksAreRefused() async throws {
        let transport = CurlTransport()
        defer { transport.shutdown() }
        await #expect(throws: CurlTransportError.self) {
            try await transport.send(
                HTTPRequest(method: .get, url: "http://127.0.0.1:1/", headers: [("X-Evil", "a\r\nHost: b")]),
                timeout: .seconds(1))
        }
    }

    @Test func shutdownFailsLaterRequests() async throws {
        let transport = CurlTransport()
        transport.shutdown()
        await #expect(throws: CurlTransportError.shutDown) {
            try await transport.send(HTTPRequest(method: .get, url: "http://127.0.0.1:1/"), timeout: .seconds(1))
        }
    }
}
