import Foundation

/// A real Redis Sentinel (`redis-server --sentinel`) monitoring one master, with timings short
/// enough for a test: the master is considered down after `downAfter` and failed over to a
/// replica a moment later.
public final class RedisSentinelProcess: Sendable {
    public let port: Int
    public let directory: String
    public let masterName: String
    private let process: SpawnedProcess

    public static func start(
        monitoring master: RedisServerProcess, masterName: String = "gateway", downAfterMilliseconds: Int = 1000
    ) async throws -> RedisSentinelProcess {
        try await SpawnedProcess.offThePool {
            try RedisSentinelProcess(master: master, masterName: masterName, downAfter: downAfterMilliseconds)
        }
    }

    /// The Sentinel authenticates to the master and its replicas with the master's password.
    init(master: RedisServerProcess, masterName: String, downAfter: Int) throws {
        let directory = try SpawnedProcess.temporaryDirectory("redis-sentinel-test")
        self.directory = directory
        self.masterName = masterName
        (process, port) = try SpawnedProcess.onFreePort("/usr/bin/redis-server") { port in
            // Sentinel rewrites its configuration file as it learns the fleet: it must be writable.
            let configuration = """
                port \(port)
                bind 127.0.0.1
                dir \(directory)
                logfile \(directory)/sentinel.log
                sentinel monitor \(masterName) 127.0.0.1 \(master.port) 1
                sentinel down-after-milliseconds \(masterName) \(downAfter)
                sentinel failover-timeout \(masterName) 10000
                sentinel parallel-syncs \(masterName) 1
                \(master.password.map { "sentinel auth-pass \(masterName) \($0)" } ?? "")

                """
            try configuration.write(toFile: directory + "/sentinel.conf", atomically: true, encoding: .utf8)
            return [directory + "/sentinel.conf", "--sentinel"]
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// What the Sentinel's log says (for a failing test's message).
    public var log: String { (try? String(contentsOfFile: directory + "/sentinel.log", encoding: .utf8)) ?? "" }
}
