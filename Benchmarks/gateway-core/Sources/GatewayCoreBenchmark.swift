import Foundation
import GatewayCore
import HubSpotAPI
import Logging
import RedisClient
import Synchronization

/// Open-loop load through the door: RATE reads per second of distinct contacts (none cached)
/// for SECONDS, against a running hubspot-sim with HubSpot's limits on, with the limiter and
/// cache on a real Redis. Prints records per upstream call, upstream calls per second, served
/// records per second and the latency of served reads.
/// Usage: gateway-core-bench SIM_URL TOKEN REDIS_URL RATE SECONDS DEADLINE_SECONDS SKIP
/// (SKIP: contacts to skip, so a second run reads records the first did not cache).
/// Or: gateway-core-bench SIM_URL TOKEN REDIS_URL services RATE_PER_SERVICE SECONDS DEADLINE_SECONDS —
/// three calling services weighted 2:1:1, each asking RATE_PER_SERVICE list calls/s (one HubSpot
/// call each, never coalesced): the split, the budget used, and how fast refusals come.
@main
struct GatewayCoreBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments
        if arguments.count == 8, arguments[4] == "services" {
            try await ServicesBenchmark.run(arguments)
            return
        }
        guard arguments.count == 8, let rate = Int(arguments[4]), let seconds = Int(arguments[5]),
            let deadlineSeconds = Double(arguments[6]), let skip = Int(arguments[7])
        else {
            print("usage: gateway-core-bench SIM_URL TOKEN REDIS_URL RATE SECONDS DEADLINE_SECONDS SKIP")
            exit(2)
        }
        let baseURL = arguments[1]
        let token = arguments[2]
        let logger = {
            var logger = Logger(label: "gateway-core-bench"); logger.logLevel = .warning; return logger
        }()
        let redisURL = arguments[3]
        do {
            let (redis, transport, client, crm) = try await Door.open(
                simulator: baseURL, token: token, redis: redisURL, logger: logger)
            let firstId = try await client.listObjects("contacts", limit: 1).results[0].id
            guard let first = Int(firstId).map({ $0 + skip }) else { fatalError("simulator ids are numeric") }
            _ = try await client.send(transport, baseURL + "/_sim/stats/reset")

            let tally = Tally()
            let clock = ContinuousClock()
            let start = clock.now
            let tick = Duration.milliseconds(5)
            let total = rate * seconds
            await withDiscardingTaskGroup { group in
                var sent = 0
                var next = start
                while sent < total {
                    // Catch up with the schedule: reads due by now, whatever the loop's own delays.
                    let elapsed = clock.now - start
                    let due = min(
                        total,
                        Int(
                            (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                                * Double(rate)))
                    while sent < due {
                        let id = String(first + sent)
                        sent += 1
                        group.addTask {
                            let began = clock.now
                            do {
                                let read = try await crm.upstream.readObject(
                                    type: "contacts", id: id, properties: ["email", "firstname"],
                                    CallTerms(deadline: began + .seconds(deadlineSeconds)))
                                tally.served(read.object != nil, after: clock.now - began)
                            } catch {
                                tally.failed(error, after: clock.now - began)
                            }
                        }
                    }
                    next = next + tick
                    try? await Task.sleep(until: next, clock: clock)
                }
            }
            let elapsed = clock.now - start
            let stats = try await client.statistics(transport, baseURL)
            let result = tally.snapshot
            let calls = stats.batchReads
            // Rates over the whole run (the load and the drain of reads still waiting after it).
            let loadSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let servedPerSecond = Double(result.found) / loadSeconds
            let demanded = result.found + result.missing + result.failures.values.reduce(0, +)
            print(
                String(
                    format:
                        "demand: reads=%d asked_per_s=%d achieved_per_s=%.0f duration_s=%d deadline_s=%.1f (run with the drain: %.1f s)",
                    demanded, rate, Double(demanded) / Double(seconds), seconds, deadlineSeconds, loadSeconds))
            print(
                String(
                    format:
                        "upstream: batch_read_calls=%d calls_per_s=%.2f max_calls_in_a_second=%d http_429=%d records_per_call=%.1f",
                    calls, Double(calls) / loadSeconds, stats.maxPerSecond, stats.rateLimited,
                    calls == 0 ? 0 : Double(result.found) / Double(calls)))
            print(
                String(
                    format:
                        "served: records=%d records_per_s=%.0f of_physical_limit=%.0f%% p50_ms=%.0f p99_ms=%.0f missing=%d",
                    result.found, servedPerSecond, 100 * servedPerSecond / 800, result.percentile(0.5),
                    result.percentile(0.99), result.missing))
            print(
                "refused: "
                    + (result.failures.isEmpty
                        ? "none"
                        : result.failures.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(
                            separator: " ")
                            + String(
                                format: " told_after_p50_ms=%.0f p99_ms=%.0f",
                                result.percentile(0.5, of: result.failureLatencies),
                                result.percentile(0.99, of: result.failureLatencies))))
            transport.shutdown()
            await redis.shutdown()
        }
    }
}

/// Outcomes of the reads, counted from many tasks.
final class Tally: Sendable {
    struct Snapshot {
        var found = 0
        var missing = 0
        var latencies: [Double] = []
        var failures: [String: Int] = [:]
        /// How long each failed read took to be told so.
        var failureLatencies: [Double] = []

        func percentile(_ p: Double, of values: [Double]? = nil) -> Double {
            let sorted = (values ?? latencies).sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000
        }
    }

    private let state = Mutex(Snapshot())

    func served(_ found: Bool, after duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        state.withLock { state in
            if found { state.found += 1 } else { state.missing += 1 }
            state.latencies.append(seconds)
        }
    }

    func failed(_ error: any Error, after duration: Duration) {
        let name = String(describing: type(of: error))
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        state.withLock {
            $0.failures[name, default: 0] += 1
            $0.failureLatencies.append(seconds)
        }
    }

    var snapshot: Snapshot { state.withLock { $0 } }
}

/// What the simulator counted.
struct SimulatorStatistics {
    var batchReads = 0
    var rateLimited = 0
    var maxPerSecond = 0
}

extension HubSpotClient {
    func send(_ transport: CurlTransport, _ url: String) async throws -> HTTPResponse {
        try await transport.send(HTTPRequest(method: .post, url: url, headers: [], body: nil), timeout: .seconds(5))
    }

    func statistics(_ transport: CurlTransport, _ baseURL: String) async throws -> SimulatorStatistics {
        let response = try await transport.send(
            HTTPRequest(method: .get, url: baseURL + "/_sim/stats", headers: [], body: nil), timeout: .seconds(5))
        let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
        var statistics = SimulatorStatistics()
        statistics.batchReads =
            ((json["byEndpoint"] as? [String: Any])?["objects.batch.read"] as? NSNumber)?.intValue ?? 0
        statistics.rateLimited = (json["rateLimited"] as? NSNumber)?.intValue ?? 0
        statistics.maxPerSecond = (json["maxAdmittedInAnyWallClockSecond"] as? NSNumber)?.intValue ?? 0
        return statistics
    }
}

/// Three weighted services far over the budget, through one replica's door.
enum ServicesBenchmark {
    static func run(_ arguments: [String]) async throws {
        guard let rate = Int(arguments[5]), let seconds = Int(arguments[6]), let deadlineSeconds = Double(arguments[7])
        else { fatalError("usage: gateway-core-bench SIM_URL TOKEN REDIS_URL services RATE SECONDS DEADLINE") }
        let (baseURL, token) = (arguments[1], arguments[2])
        var logger = Logger(label: "gateway-core-bench")
        logger.logLevel = .warning
        let (redis, transport, client, crm) = try await Door.open(
            simulator: baseURL, token: token, redis: arguments[3], logger: logger)
        _ = try await client.send(transport, baseURL + "/_sim/stats/reset")
        let services = [
            Caller(service: "marketing", scopes: [.read], weight: 2), Caller(service: "orders", scopes: [.read]),
            Caller(service: "analytics", scopes: [.read]),
        ]
        let tally = ServiceTally()
        let clock = ContinuousClock()
        let start = clock.now
        await withDiscardingTaskGroup { group in
            for caller in services {
                group.addTask {
                    await Caller.$current.withValue(caller) {
                        await withDiscardingTaskGroup { calls in
                            for index in 0..<(rate * seconds) {
                                let due = start + .seconds(Double(index) / Double(rate))
                                try? await Task.sleep(until: due, clock: clock)
                                calls.addTask {
                                    let began = clock.now
                                    do {
                                        _ = try await crm.records.list(
                                            "contacts", limit: 1, after: nil, properties: [],
                                            CallTerms(deadline: began + .seconds(deadlineSeconds)))
                                        tally.served(caller.service)
                                    } catch let refusal as RateLimitExceeded {
                                        tally.refused(caller.service, refusal.cause.rawValue, after: clock.now - began)
                                    } catch {
                                        tally.refused(caller.service, "\(type(of: error))", after: clock.now - began)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let elapsed = (clock.now - start) / .seconds(1)
        let stats = try await client.statistics(transport, baseURL)
        let result = tally.snapshot
        let served = result.served.values.reduce(0, +)
        print(
            String(
                format: "demand: services=3 weights=2:1:1 asked_per_s_each=%d duration_s=%d deadline_s=%.1f",
                rate, seconds, deadlineSeconds))
        print(
            String(
                format:
                    "budget: served_calls_per_s=%.2f reference_budget_per_s=8 used=%.0f%% http_429=%d max_calls_in_a_second=%d",
                Double(served) / elapsed, 100 * Double(served) / elapsed / 8, stats.rateLimited, stats.maxPerSecond))
        print(
            "split: "
                + services.map { caller in
                    let count = result.served[caller.service, default: 0]
                    return String(
                        format: "%@=%d (%.0f%%, fair %.0f%%)", caller.service, count,
                        100 * Double(count) / Double(max(1, served)), 100 * caller.weight / 4)
                }.joined(separator: " "))
        print(
            String(
                format: "refused: count=%d p50_ms=%.1f p99_ms=%.1f by_cause=%@", result.refusals.count,
                result.percentile(0.5), result.percentile(0.99),
                result.causes.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")))
        transport.shutdown()
        await redis.shutdown()
    }
}

/// Served calls per service and refusals with the time they took.
final class ServiceTally: Sendable {
    struct Snapshot {
        var served: [String: Int] = [:]
        var refusals: [Double] = []
        var causes: [String: Int] = [:]

        func percentile(_ p: Double) -> Double {
            let sorted = refusals.sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000
        }
    }

    private let state = Mutex(Snapshot())

    func served(_ service: String) { state.withLock { $0.served[service, default: 0] += 1 } }

    func refused(_ service: String, _ cause: String, after duration: Duration) {
        state.withLock {
            $0.refusals.append(duration / .seconds(1))
            $0.causes[cause, default: 0] += 1
        }
    }

    var snapshot: Snapshot { state.withLock { $0 } }
}

/// The door the benchmark drives: a Redis limiter and cache, a curl client to the simulator.
enum Door {
    static func open(simulator baseURL: String, token: String, redis url: String, logger: Logger) async throws
        -> (RedisClient, CurlTransport, HubSpotClient, CRM)
    {
        let redis = RedisClient(configuration: try RedisConfiguration(url: url), logger: logger)
        try await redis.waitUntilConnected()
        let transport = CurlTransport()
        let client = HubSpotClient(
            transport: transport, credentials: .privateAppToken(Secret(token)),
            configuration: HubSpotClientConfiguration(baseURL: baseURL))
        let crm = CRM(
            door: DoorConfiguration(baseURL: baseURL), credentials: .privateAppToken(Secret(token)), redis: redis,
            transport: transport, logger: logger)
        return (redis, transport, client, crm)
    }
}
