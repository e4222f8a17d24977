import Foundation
import HTTPTypes
import HubSpotSimulator
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import WebhookSignature

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
