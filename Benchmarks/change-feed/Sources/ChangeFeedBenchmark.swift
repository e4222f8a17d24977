import Foundation
import HubSpotAPI
import Hummingbird
import Logging
import Synchronization
import Digests

/// The change-feed benchmark's two halves:
/// - `reference PORT`: a Hummingbird route on the webhook path that reads the body and answers
///   200 without any work — what the gateway's intake is measured against;
/// - `load URL PUBLIC_URL SECRET EVENTS_PER_S SECONDS [OCCURRED_AT_NOW]`: signed HubSpot
///   deliveries of 100 events each (unique event ids), sent open-loop at the given rate, with
///   the time each took and the statuses answered.
@main
struct ChangeFeedBenchmark {
    static func main() async throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case "reference" where arguments.count == 2: try await reference(port: Int(arguments[1]) ?? 0)
        case "load" where arguments.count >= 6:
            try await load(
                url: arguments[1], publicURL: arguments[2], secret: arguments[3],
                eventsPerSecond: Int(arguments[4]) ?? 10_000, seconds: Double(arguments[5]) ?? 10)
        default:
            FileHandle.standardError.write(
                Data(
                    "usage: change-feed-bench reference PORT | load URL PUBLIC_URL SECRET EVENTS_PER_S SECONDS\n".utf8))
            exit(2)
        }
    }

    static func reference(port: Int) async throws {
        let router = Router()
        router.post("/webhooks/hubspot") { request, _ -> Response in
            var request = request
            _ = try await request.collectBody(upTo: 1 << 20)
            return Response(status: .ok, body: .init(byteBuffer: .init(string: #"{"accepted":100,"duplicates":0}"#)))
        }
        var logger = Logger(label: "reference")
        logger.logLevel = .warning
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in
                FileHandle.standardOutput.write(
                    Data("reference listening on \(channel.localAddress?.port ?? 0)\n".utf8))
            }, logger: logger)
        try await app.runService()
    }

    /// One delivery's body: 100 property changes, event ids unique to this run.
    static func body(run: String, batch: Int) -> [UInt8] {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var text = "["
        for n in 0..<100 {
            let event = batch * 100 + n
            if n > 0 { text += "," }
            text +=
                #"{"eventId":"\#(run)-\#(event)","subscriptionId":1,"portalId":62515,"appId":1,"occurredAt":\#(now),"subscriptionType":"deal.propertyChange","attemptNumber":0,"objectId":\#(900_000 + event % 1000),"propertyName":"dealname","propertyValue":"bench \#(event)","changeSource":"INTEGRATION"}"#
        }
        return Array((text + "]").utf8)
    }

    static func load(url: String, publicURL: String, secret: String, eventsPerSecond: Int, seconds: Double)
        async throws
    {
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let run = UUID().uuidString.prefix(8).lowercased()
        let requestsPerSecond = max(1.0, Double(eventsPerSecond) / 100)
        let total = Int(requestsPerSecond * seconds)
        let interval = Duration.seconds(1 / requestsPerSecond)
        let tally = Tally()
        let clock = ContinuousClock()
        let start = clock.now
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<total {
                // Open loop: each delivery at its time, whether or not earlier ones are answered.
                try? await clock.sleep(until: start + interval * index)
                group.addTask {
                    let body = body(run: String(run), batch: index)
                    let timestamp = Int64(Date().timeIntervalSince1970 * 1000)
                    let signature = HubSpotWebhookSignature.v3(
                        clientSecret: secret, method: "POST", uri: publicURL, body: body,
                        timestampMilliseconds: timestamp)
                    let sent = clock.now
                    let status: Int
                    do {
                        status =
                            try await transport.send(
                                HubSpotAPI.HTTPRequest(
                                    method: .post, url: url,
                                    headers: [
                                        ("Content-Type", "application/json"), ("X-HubSpot-Signature-v3", signature),
                                        ("X-HubSpot-Request-Timestamp", String(timestamp)),
                                    ], body: body), timeout: .seconds(10)
                            ).status
                    } catch {
                        status = 0
                    }
                    let took = clock.now - sent
                    tally.latencies.withLock {
                        $0.append(Double(took.components.seconds) * 1000 + Double(took.components.attoseconds) / 1e15)
                    }
                    tally.statuses.withLock { $0[status, default: 0] += 1 }
                }
            }
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let sorted = tally.latencies.withLock { $0 }.sorted()
        func percentile(_ p: Double) -> Double {
            sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        let answered = tally.statuses.withLock { $0 }
        let ok = answered[200] ?? 0
        print(
            String(
                format: "deliveries=%d ok=%d other=%@ events_per_s=%.0f p50_ms=%.2f p99_ms=%.2f", total, ok,
                answered.filter { $0.key != 200 }.map { "\($0.key):\($0.value)" }.joined(separator: ",") as NSString,
                Double(ok * 100) / seconds, percentile(0.5), percentile(0.99)))
    }
}

/// What the deliveries of a run took and were answered.
final class Tally: Sendable {
    let latencies = Mutex<[Double]>([])
    let statuses = Mutex<[Int: Int]>([:])
}
