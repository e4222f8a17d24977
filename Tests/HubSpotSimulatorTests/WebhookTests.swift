import Foundation
import HTTPTypes
import HubSpotSimulator
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport
import Digests

/// A real HTTP receiver that records what the simulator delivers.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        var body: [UInt8]
        var signature: String?
        var timestamp: String?
        var path: String
    }

    let deliveries = Mutex<[Delivery]>([])
    let failuresLeft: Mutex<Int>

    init(failFirst: Int = 0) { failuresLeft = Mutex(failFirst) }

    func application(onPort: @escaping @Sendable (Int) -> Void) -> some Service {
        let router = Router()
        router.post("/hooks") { request, _ -> HTTPResponse.Status in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            if self.failuresLeft.withLock({ left in
                defer { left -= 1 }; return left > 0
            }) {
                return .internalServerError
            }
            self.deliveries.withLock {
                $0.append(
                    Delivery(
                        body: Array(buffer: body),
                        signature: request.headers[HTTPField.Name("X-HubSpot-Signature-v3")!],
                        timestamp: request.headers[HTTPField.Name("X-HubSpot-Request-Timestamp")!],
                        path: request.uri.path))
            }
            return .noContent
        }
        var logger = Logger(label: "receiver")
        logger.logLevel = .warning
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { onPort($0.localAddress?.port ?? 0) }, logger: logger)
    }
}

@Suite struct WebhookTests {
    func withReceiver(failFirst: Int = 0, _ body: (WebhookReceiver, Int) async throws -> Void) async throws {
        let receiver = WebhookReceiver(failFirst: failFirst)
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "receiver")
        logger.logLevel = .warning
        let group = ServiceGroup(services: [receiver.application { continuation.yield($0) }], logger: logger)
        let task = Task { try await group.run() }
        var iterator = stream.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        do {
            try await body(receiver, port)
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await task.value
    }

    func waitFor(_ receiver: WebhookReceiver, events count: Int) async throws -> [[String: Any]] {
        for _ in 0..<200 {
            let events = receiver.deliveries.withLock { $0 }.flatMap { delivery in
                (try? JSONSerialization.jsonObject(with: Data(delivery.body))) as? [[String: Any]] ?? []
            }
            if events.count >= count { return events }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("timed out waiting for \(count) webhook events")
        return []
    }

    @Test func changesAreDeliveredAsSignedV3Batches() async throws {
        try await withReceiver { receiver, port in
            let url = "http://127.0.0.1:\(port)/hooks"
            try await SimulatorHarness.with({ configuration in
                var webhook = WebhookConfiguration(targetURL: url, clientSecret: "shh-secret")
                webhook.batchInterval = .milliseconds(20)
                configuration.webhook = webhook
            }) { sim in
                let id = try await sim.createContact(["email": "w@b.co"])
                _ = try await sim.request(
                    "PATCH", "/crm/v3/objects/contacts/\(id)", json: ["properties": ["firstname": "Wen"]])
                _ = try await sim.request("DELETE", "/crm/v3/objects/contacts/\(id)")
                let events = try await waitFor(receiver, events: 3)
                let types = events.compactMap { $0["subscriptionType"] as? String }
                #expect(types.contains("contact.creation"))
                #expect(types.contains("contact.deletion"))
                let change = events.first { $0["subscriptionType"] as? String == "contact.propertyChange" }
                #expect(change?["propertyName"] as? String == "firstname")
                #expect(change?["propertyValue"] as? String == "Wen")
                #expect(
                    events.allSatisfy {
                        ($0["objectId"] as? Int).map(String.init) == id && $0["portalId"] as? Int == 62515
                    })
                for delivery in receiver.deliveries.withLock({ $0 }) {
                    #expect(throws: Never.self, "signature must verify") {
                        try HubSpotWebhookSignature.verifyV3(
                            clientSecret: "shh-secret", method: "POST", uri: url, body: delivery.body,
                            signature: delivery.signature, timestamp: delivery.timestamp)
                    }
                }
            }
        }
    }

    @Test func failedDeliveriesAreRetried() async throws {
        try await withReceiver(failFirst: 2) { receiver, port in
            try await SimulatorHarness.with({ configuration in
                var webhook = WebhookConfiguration(targetURL: "http://127.0.0.1:\(port)/hooks", clientSecret: "s")
                webhook.batchInterval = .milliseconds(20)
                webhook.retryBaseDelay = .milliseconds(20)
                configuration.webhook = webhook
            }) { sim in
                _ = try await sim.createContact(["email": "retry@b.co"])
                let events = try await waitFor(receiver, events: 1)
                #expect(events.count == 1)
                // The receiver has the events before the dispatcher has read its answer and
                // counted the delivery: wait for the count, not for time.
                var stats = try await sim.request("GET", "/_sim/webhooks", authorized: false).object
                let deadline = ContinuousClock.now + .seconds(10)
                while stats["deliveries"] as? Int != 1, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(10))
                    stats = try await sim.request("GET", "/_sim/webhooks", authorized: false).object
                }
                #expect(stats["failedAttempts"] as? Int == 2)
                #expect(stats["deliveries"] as? Int == 1)
            }
        }
    }
}

/// Changes as a person makes them in HubSpot's UI, webhook targets set at run time, and the
/// delivery faults a receiver must survive.
@Suite struct WebhookControlTests {
    func events(_ receiver: WebhookReceiver) -> [[String: Any]] {
        receiver.deliveries.withLock { $0 }.flatMap { delivery in
            (try? JSONSerialization.jsonObject(with: Data(delivery.body))) as? [[String: Any]] ?? []
        }
    }

    func withTarget(
        _ body: (SimulatorHarness, WebhookReceiver, _ url: String) async throws -> Void
    ) async throws {
        try await WebhookTests().withReceiver { receiver, port in
            try await SimulatorHarness.with { sim in
                try await body(sim, receiver, "http://127.0.0.1:\(port)/hooks")
            }
        }
    }

    @Test func aUIEditSpendsNoBudgetAndIsReportedAsMadeInTheUI() async throws {
        try await withTarget { sim, receiver, url in
            let set = try await sim.request(
                "PUT", "/_sim/webhooks", json: ["targetURL": url, "clientSecret": "s", "batchIntervalMs": 20],
                authorized: false)
            #expect(set.status == 200 && set.object["enabled"] as? Bool == true)
            let id = try await sim.createContact(["email": "ui@b.co"])
            try await sim.request("POST", "/_sim/stats/reset", authorized: false)
            let edit = try await sim.request(
                "PATCH", "/_sim/ui/objects/contacts/\(id)", json: ["properties": ["firstname": "Clicked"]],
                authorized: false)
            #expect(edit.status == 200)
            let stats = try await sim.request("GET", "/_sim/stats", authorized: false).object
            #expect(stats["received"] as? Int == 0, "a UI edit is not an API call")
            try await eventually("the UI edit is delivered") {
                events(receiver).contains { $0["propertyName"] as? String == "firstname" }
            }
            let change = events(receiver).first { $0["propertyName"] as? String == "firstname" }
            #expect(change?["changeSource"] as? String == "CRM_UI")
            #expect(
                events(receiver).first { $0["subscriptionType"] as? String == "contact.creation" }?["changeSource"]
                    as? String == "API")
            let read = try await sim.get("/crm/v3/objects/contacts/\(id)?properties=firstname")
            #expect((read.object["properties"] as? [String: Any])?["firstname"] as? String == "Clicked")
        }
    }

    @Test func deliveriesStartWhenATargetIsSetAndStopWhenItIsRemoved() async throws {
        try await withTarget { sim, receiver, url in
            _ = try await sim.createContact(["email": "before@b.co"])
            try await sim.request(
                "PUT", "/_sim/webhooks", json: ["targetURL": url, "clientSecret": "s", "batchIntervalMs": 20],
                authorized: false)
            _ = try await sim.createContact(["email": "during@b.co"])
            try await eventually("the change made with a target is delivered") { events(receiver).count == 1 }
            #expect(try await sim.request("DELETE", "/_sim/webhooks", authorized: false).status == 204)
            _ = try await sim.createContact(["email": "after@b.co"])
            let status = try await sim.request("GET", "/_sim/webhooks", authorized: false).object
            #expect(status["enabled"] as? Bool == false)
            #expect(events(receiver).count == 1, "changes before and after the target are not delivered")
        }
    }

    @Test func aDuplicatingTargetGetsEveryBatchTwiceAndAReorderingOneOutOfOrder() async throws {
        try await withTarget { sim, receiver, url in
            try await sim.request(
                "PUT", "/_sim/webhooks",
                json: ["targetURL": url, "clientSecret": "s", "batchIntervalMs": 20, "duplicateRate": 1],
                authorized: false)
            _ = try await sim.createContact(["email": "twice@b.co"])
            try await eventually("the batch arrives twice") { events(receiver).count == 2 }
            let ids = events(receiver).compactMap { $0["eventId"] as? Int }
            #expect(ids.count == 2 && ids[0] == ids[1])
            receiver.deliveries.withLock { $0.removeAll() }
            try await sim.request(
                "PUT", "/_sim/webhooks",
                json: [
                    "targetURL": url, "clientSecret": "s", "batchIntervalMs": 20, "maxBatchSize": 1, "reorder": true,
                ],
                authorized: false)
            // Two events enqueued at once (one batch create), each its own delivery.
            let created = try await sim.post(
                "/crm/v3/objects/contacts/batch/create",
                ["inputs": [["properties": ["email": "first@b.co"]], ["properties": ["email": "second@b.co"]]]])
            #expect(created.status == 201)
            try await eventually("both batches arrive") { events(receiver).count == 2 }
            let order = events(receiver).compactMap { $0["eventId"] as? Int }
            #expect(order == order.sorted(by: >), "delivered newest first: \(order)")
        }
    }
}
