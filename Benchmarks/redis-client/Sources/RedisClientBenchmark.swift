import Foundation
import Logging
import RedisClient

/// Load generator for `RedisClient`: CONCURRENCY callers doing SET then GET for SECONDS each,
/// one command per call (PIPELINE 1) or PIPELINE commands per `pipeline` call.
/// Usage: redis-client-bench URL CONCURRENCY SECONDS PIPELINE
@main
struct RedisClientBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 5, let concurrency = Int(arguments[2]), let seconds = Int(arguments[3]),
            let depth = Int(arguments[4])
        else {
            print("usage: redis-client-bench URL CONCURRENCY SECONDS PIPELINE")
            exit(2)
        }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        var configuration = try RedisConfiguration(url: arguments[1])
        configuration.commandTimeout = .seconds(5)
        let client = RedisClient(configuration: configuration, logger: logger)
        try await client.waitUntilConnected()
        let value = RESPArgument([UInt8](repeating: UInt8(ascii: "x"), count: 3))
        for command in ["SET", "GET"] {
            let clock = ContinuousClock()
            let end = clock.now + .seconds(seconds)
            let start = clock.now
            let operations = try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        var done = 0
                        var n = 0
                        while clock.now < end {
                            let keys = (0..<depth).map { i in
                                RESPArgument("key:\((worker * 100_000 + n + i) % 100_000)")
                            }
                            n += depth
                            if depth == 1 {
                                if command == "SET" {
                                    try await client.set(keys[0], value)
                                } else {
                                    _ = try await client.get(keys[0])
                                }
                            } else {
                                _ = try await client.pipeline(
                                    keys.map { command == "SET" ? ["SET", $0, value] : ["GET", $0] })
                            }
                            done += depth
                        }
                        return done
                    }
                }
                var total = 0
                for try await count in group { total += count }
                return total
            }
            let elapsed = clock.now - start
            let secondsElapsed = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(String(format: "client %@ P%d: %.0f ops/s", command, depth, Double(operations) / secondsElapsed))
        }
        await client.shutdown()
    }
}
