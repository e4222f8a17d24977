import Foundation
import HubSpotAPI

/// Load generator for `HubSpotClient.getObject` against a running simulator: N concurrent
/// callers for a fixed time, then the cancellation latency of in-flight calls.
/// Usage: hubspot-client-bench URL TOKEN FIRST_ID ID_COUNT CONCURRENCY SECONDS
@main
struct HubSpotClientBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 7, let firstId = Int(arguments[3]), let idCount = Int(arguments[4]),
            let concurrency = Int(arguments[5]), let seconds = Int(arguments[6])
        else {
            print("usage: hubspot-client-bench URL TOKEN FIRST_ID ID_COUNT CONCURRENCY SECONDS")
            exit(2)
        }
        let baseURL = arguments[1]
        var transportConfiguration = CurlTransportConfiguration()
        transportConfiguration.maxConnectionsPerHost = concurrency
        let transport = CurlTransport(configuration: transportConfiguration)
        var configuration = HubSpotClientConfiguration(baseURL: baseURL)
        configuration.retryPolicy = .none
        let client = HubSpotClient(
            transport: transport, credentials: .privateAppToken(Secret(arguments[2])), configuration: configuration)
        rawTransport = transport
        rawBase = baseURL
        rawHeaders = [("Authorization", "Bearer \(arguments[2])")]

        // Warm-up: open the connections.
        try await run(client, firstId: firstId, idCount: idCount, concurrency: concurrency, duration: .seconds(1))
        let (count, errors, latencies, elapsed) = try await run(
            client, firstId: firstId, idCount: idCount, concurrency: concurrency, duration: .seconds(seconds))
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double {
            sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        print(
            String(
                format: "client: requests=%d duration_s=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d",
                count, elapsed, Double(count) / elapsed, percentile(0.5) * 1000, percentile(0.99) * 1000, errors))

        // Cancellation: calls to a slow endpoint, cancelled after 100 ms; time from cancel() to the task's end.
        var cancelLatencies: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<20 {
            let task = Task { try await client.listObjects("contacts", limit: 1) }
            try await Task.sleep(for: .milliseconds(100))
            let cancelledAt = clock.now
            task.cancel()
            _ = try? await task.value
            let took = clock.now - cancelledAt
            cancelLatencies.append(Double(took.components.attoseconds) / 1e18 + Double(took.components.seconds))
        }
        cancelLatencies.sort()
        print(
            String(
                format: "cancel: samples=%d p50_ms=%.2f max_ms=%.2f", cancelLatencies.count,
                cancelLatencies[cancelLatencies.count / 2] * 1000, cancelLatencies.last! * 1000))
        let statistics = transport.statistics
        print(
            "handles: created=\(statistics.easyHandlesCreated) alive=\(statistics.easyHandlesAlive) pooled=\(statistics.easyHandlesPooled) in_flight=\(statistics.inFlight)"
        )
        transport.shutdown()
    }

    static let transportOnly = ProcessInfo.processInfo.environment["BENCH_TRANSPORT_ONLY"] != nil
    nonisolated(unsafe) static var rawTransport: CurlTransport!
    nonisolated(unsafe) static var rawBase = ""
    nonisolated(unsafe) static var rawHeaders: [(name: String, value: String)] = []

    @discardableResult
    static func run(_ client: HubSpotClient, firstId: Int, idCount: Int, concurrency: Int, duration: Duration)
        async throws -> (Int, Int, [Double], Double)
    {
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + duration
        return try await withThrowingTaskGroup(of: (Int, Int, [Double]).self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var count = 0
                    var errors = 0
                    var latencies: [Double] = []
                    latencies.reserveCapacity(100_000)
                    var next = worker
                    while clock.now < end {
                        let id = String(firstId + next % idCount)
                        next += concurrency
                        let began = clock.now
                        do {
                            if transportOnly {
                                _ = try await rawTransport.send(
                                    HTTPRequest(
                                        method: .get, url: rawBase + "/crm/v3/objects/contacts/" + id,
                                        headers: rawHeaders), timeout: .seconds(30))
                            } else {
                                _ = try await client.getObject("contacts", id: id)
                            }
                            count += 1
                        } catch {
                            errors += 1
                        }
                        let took = clock.now - began
                        latencies.append(Double(took.components.attoseconds) / 1e18 + Double(took.components.seconds))
                    }
                    return (count, errors, latencies)
                }
            }
            var total = 0
            var errors = 0
            var latencies: [Double] = []
            for try await (count, failed, samples) in group {
                total += count
                errors += failed
                latencies += samples
            }
            let elapsed = clock.now - start
            return (
                total, errors, latencies,
                Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            )
        }
    }
}
