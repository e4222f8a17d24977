import Foundation
import RedisClient
import Testing
import TestSupport

/// Real `redis-server` master and replica watched by a real Sentinel: the client finds the
/// master through the Sentinel, follows a failover when the master is killed, and a write it
/// was told is durable survives it.
@Suite(.serialized) struct RedisSentinelTests {
    @Test func parsesSentinelURLs() throws {
        let configuration = try RedisConfiguration(url: "redis-sentinel://:pw@s1:26380,s2,[::1]:26381/gateway/2")
        #expect(
            configuration.endpoint
                == .sentinel(
                    nodes: [.init(host: "s1", port: 26380), .init(host: "s2"), .init(host: "::1", port: 26381)],
                    masterName: "gateway"))
        #expect(configuration.password == "pw")
        #expect(configuration.database == 2)
        for bad in ["redis-sentinel://s1:26379", "redis-sentinel://s1:26379/", "redis://a,b/0"] {
            #expect(throws: RedisError.self, "\(bad)") { try RedisConfiguration(url: bad) }
        }
    }

    /// Where the client's commands land: the port of the server that answers.
    private func servingPort(_ client: RedisClient) async throws -> Int? {
        let info = try await client.send("INFO", ["server"]).string ?? ""
        return info.split(separator: "\r\n").first { $0.hasPrefix("tcp_port:") }.flatMap { Int($0.dropFirst(9)) }
    }

    @Test func followsAFailoverAndKeepsWhatItAcknowledgedAsDurable() async throws {
        // Every server may become a replica of another: each knows the password (`masterauth`).
        let master = try await RedisServerProcess.start(password: "pw", extraArguments: ["--masterauth", "pw"])
        let replica = try await RedisServerProcess.start(
            password: "pw", extraArguments: ["--replicaof", "127.0.0.1", String(master.port), "--masterauth", "pw"])
        var adminConfiguration = try RedisConfiguration(url: master.url)
        adminConfiguration.commandTimeout = .seconds(2)  // shared CI machines
        let admin = RedisClient(configuration: adminConfiguration, logger: quietLogger())
        try await admin.waitUntilConnected()
        try await eventually("the replica is in sync", within: .seconds(20)) {
            (try await admin.send("INFO", ["replication"]).string ?? "").contains("state=online")
        }
        await admin.shutdown()
        let sentinel = try await RedisSentinelProcess.start(monitoring: master)
        var sentinelConfiguration = RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: sentinel.port))
        sentinelConfiguration.commandTimeout = .seconds(2)
        let sentinelAdmin = RedisClient(configuration: sentinelConfiguration, logger: quietLogger())
        try await sentinelAdmin.waitUntilConnected()
        try await eventually("the Sentinel knows the replica", within: .seconds(20)) {
            let replicas = try await sentinelAdmin.send("SENTINEL", ["REPLICAS", "gateway"])
            return (replicas.array ?? []).count == 1
        }

        var configuration = try RedisConfiguration(url: "redis-sentinel://:pw@127.0.0.1:\(sentinel.port)/gateway")
        configuration.commandTimeout = .seconds(2)
        configuration.durableReplicas = 1
        configuration.durableTimeout = .seconds(2)
        configuration.maxReconnectDelay = .milliseconds(200)
        let client = RedisClient(configuration: configuration, logger: quietLogger())
        try await client.waitUntilConnected()
        #expect(try await servingPort(client) == master.port)

        // Acknowledged as durable: the replica has it.
        _ = try await client.pipeline([["SET", "acknowledged", "kept"]], durable: true)

        let killed = ContinuousClock.now
        master.kill()
        try await eventually("the client writes to the promoted replica", within: .seconds(30)) {
            guard (try? await client.send("SET", ["after", "failover"])) != nil else { return false }
            return try await servingPort(client) == replica.port
        }
        let followedAfter = ContinuousClock.now - killed
        print("followed the failover \(followedAfter) after the master was killed (down-after 1 s)")
        let kept = try await client.get("acknowledged")
        #expect(kept.map { String(decoding: $0, as: UTF8.self) } == "kept")
        #expect(followedAfter < .seconds(15), "\(sentinel.log)")

        // With its only replica gone, the new master cannot make a write durable: refused, not
        // acknowledged…
        try await eventually("a durable write is refused for want of a replica") {
            do {
                _ = try await client.pipeline([["SET", "refused", "1"]], durable: true)
                Issue.record("acknowledged as durable with no replica")
                return true
            } catch RedisError.notReplicated(let acknowledged, let wanted) {
                #expect(acknowledged == 0 && wanted == 1)
                return true
            } catch {
                return false  // a connection of the old master closing; asked again
            }
        }
        // …until the old master is back as its replica (the Sentinel reconfigures it).
        try await master.startAgain()
        try await eventually("the old master rejoins as a replica", within: .seconds(30)) {
            (try? await client.pipeline([["SET", "durable-again", "1"]], durable: true)) != nil
        }
        await client.shutdown()
        await sentinelAdmin.shutdown()
        withExtendedLifetime((master, replica, sentinel)) {}
    }
}
