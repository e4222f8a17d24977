import Foundation
import Logging
import RedisClient
import Synchronization
import Testing
import TestSupport

/// A client of `server` with generous timeouts for shared CI machines unless told otherwise.
func withClient(
    _ server: RedisServerProcess, configure: (inout RedisConfiguration) -> Void = { _ in },
    _ body: (RedisClient) async throws -> Void
) async throws {
    var configuration = try RedisConfiguration(url: server.url)
    configuration.commandTimeout = .seconds(2)
    configure(&configuration)
    let client = RedisClient(configuration: configuration, logger: quietLogger())
    do {
        try await client.waitUntilConnected()
        try await body(client)
    } catch {
        await client.shutdown()
        throw error
    }
    await client.shutdown()
}

@Suite struct RedisConfigurationTests {
    @Test func parsesTCPAndUnixURLs() throws {
        let full = try RedisConfiguration(url: "redis://app:p%40ss@cache.internal:6380/3")
        #expect(full.endpoint == .tcp(host: "cache.internal", port: 6380))
        #expect(full.username == "app")
        #expect(full.password == "p@ss")
        #expect(full.database == 3)
        let bare = try RedisConfiguration(url: "redis://localhost")
        #expect(bare.endpoint == .tcp(host: "localhost", port: 6379))
        #expect(bare.password == nil)
        let passwordOnly = try RedisConfiguration(url: "redis://:secret@[::1]:7000")
        #expect(passwordOnly.endpoint == .tcp(host: "::1", port: 7000))
        #expect(passwordOnly.password == "secret")
        #expect(passwordOnly.username == nil)
        let unix = try RedisConfiguration(url: "unix:///run/redis.sock?db=2")
        #expect(unix.endpoint == .unix(path: "/run/redis.sock"))
        #expect(unix.database == 2)
        for bad in ["http://x", "redis://host:notaport", "redis://host/x", "unix://relative"] {
            #expect(throws: RedisError.self, "\(bad)") { try RedisConfiguration(url: bad) }
        }
    }
}

@Suite(.serialized) struct RedisClientTests {
    @Test func everyReplyTypeDecodes() async throws {
        let server = try await RedisServerProcess.start()
        try await withClient(server) { client in
            #expect(try await client.send("SET", ["k", "v"]) == .simpleString("OK"))
            #expect(try await client.send("GET", ["k"]) == .bulkString(Array("v".utf8)))
            #expect(try await client.send("GET", ["missing"]) == .null)
            #expect(try await client.send("INCR", ["n"]) == .integer(1))
            #expect(try await client.send("MGET", ["k", "missing"]) == .array([.bulkString(Array("v".utf8)), .null]))
            #expect(try await client.send("GET", [""]) == .null)
            do {
                try await client.send("LPUSH", ["k", "x"])
                Issue.record("WRONGTYPE must throw")
            } catch let error as RedisServerError {
                #expect(error.kind == .wrongType)
                #expect(error.message.hasPrefix("WRONGTYPE"))
            }
            await #expect(throws: RedisServerError.self) { try await client.send("NOSUCHCOMMAND") }
        }
    }

    @Test func conveniencesCoverTheGatewaysCommands() async throws {
        let server = try await RedisServerProcess.start()
        try await withClient(server) { client in
            #expect(try await client.set("a", "1", expiration: .seconds(60)))
            #expect(try await client.set("a", "2", condition: .ifNotExists) == false)
            #expect(try await client.set("b", "3", expiration: .milliseconds(60_000), condition: .ifNotExists))
            #expect(try await client.set("zzz", "4", condition: .ifExists) == false)
            #expect(try await client.get("a") == Array("1".utf8))
            #expect(try await client.mget(["a", "b", "c"]) == [Array("1".utf8), Array("3".utf8), nil])
            #expect(try await client.incr("counter") == 1)
            #expect(try await client.expire("counter", seconds: 10))
            #expect(try await client.expire("nothing", seconds: 10) == false)
            #expect(try await client.del(["a", "b", "c"]) == 2)
            #expect(try await client.hset("h", fields: [("f1", "x"), ("f2", "y")]) == 2)
            #expect(try await client.hget("h", field: "f1") == Array("x".utf8))
            #expect(try await client.hdel("h", fields: ["f1", "nope"]) == 1)
            let now = try await client.time()
            #expect(abs(now / 1_000_000 - Int64(Date().timeIntervalSince1970)) < 5)
            #expect(try await client.ping() == "PONG")
        }
    }

    @Test func scriptsLoadOnceAndReloadAfterFlush() async throws {
        let server = try await RedisServerProcess.start()
        try await withClient(server) { client in
            let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
            #expect(try await client.evaluate(script, keys: ["s"], arguments: [5]) == .integer(5))
            #expect(try await client.evaluate(script, keys: ["s"], arguments: [2]) == .integer(7))
            try await client.send("SCRIPT", ["FLUSH"])
            #expect(try await client.evaluate(script, keys: ["s"], arguments: [1]) == .integer(8))
            await #expect(throws: RedisServerError.self) {
                try await client.evaluate(RedisScript("return redis.call('NOPE')"))
            }
        }
    }

    @Test func explicitPipelineSendsManyAndKeepsOrder() async throws {
        let server = try await RedisServerProcess.start()
        try await withClient(server) { client in
            let commands: [[RESPArgument]] =
                (0..<100).map { ["SET", RESPArgument("p\($0)"), RESPArgument($0)] }
                + (0..<100).map { ["GET", RESPArgument("p\($0)")] } + [["LPUSH", "p0", "x"]]
            let replies = try await client.pipeline(commands)
            #expect(replies.count == 201)
            #expect(replies[0..<100].allSatisfy { $0 == .simpleString("OK") })
            #expect(replies[100..<200].enumerated().allSatisfy { $0.element.string == String($0.offset) })
            guard case .error(let error) = replies[200] else { Issue.record("expected an error reply"); return }
            #expect(error.kind == .wrongType)
        }
    }

    @Test func thousandConcurrentCallersGetTheirOwnReplies() async throws {
        let server = try await RedisServerProcess.start()
        try await withClient(server) { client in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<1000 {
                    group.addTask {
                        let key = RESPArgument("c\(index)")
                        let value = RESPArgument("value-\(index)-" + String(repeating: "x", count: index % 50))
                        try await client.set(key, value)
                        _ = try await client.incr("shared")
                        return try await client.get(key) == value.bytes
                    }
                }
                var all = true
                for try await matched in group { all = all && matched }
                #expect(all)
            }
            #expect(try await client.get("shared") == Array("1000".utf8))
        }
    }

    @Test func largeAndBinaryValuesRoundTrip() async throws {
        let server = try await RedisServerProcess.start()
        try await withClient(server) { client in
            var big = [UInt8](repeating: 0, count: 8 * 1024 * 1024)
            for index in big.indices { big[index] = UInt8(truncatingIfNeeded: index &* 31) }
            try await client.set("big", RESPArgument(big), timeout: .seconds(10))
            #expect(try await client.get("big", timeout: .seconds(10)) == big)
            let binaryKey = RESPArgument([0, 13, 10, 255, 36])
            let binaryValue = RESPArgument([10, 0, 42, 13, 10, 36, 45])
            try await client.set(binaryKey, binaryValue)
            #expect(try await client.get(binaryKey) == binaryValue.bytes)
        }
    }

    @Test func unixSocketAuthAndSelect() async throws {
        let server = try await RedisServerProcess.start(password: "s3cret")
        var configuration = RedisConfiguration(endpoint: .unix(path: server.socketPath))
        configuration.password = "s3cret"
        configuration.database = 5
        let client = RedisClient(configuration: configuration, logger: quietLogger())
        try await client.waitUntilConnected()
        try await client.set("in-db-5", "yes")
        #expect(try await client.send("CLIENT", ["INFO"]).string?.contains("db=5") == true)
        await client.shutdown()
        // The wrong password never connects, and says why.
        var wrong = try RedisConfiguration(url: "redis://:nope@127.0.0.1:\(server.port)")
        wrong.reconnectBaseDelay = .milliseconds(10)
        let refused = RedisClient(configuration: wrong, logger: quietLogger())
        await #expect(throws: RedisError.self) { try await refused.waitUntilConnected(timeout: .milliseconds(500)) }
        #expect(
            refused.health.lastError?.contains("WRONGPASS") == true
                || refused.health.lastError?.contains("invalid") == true)
        await refused.shutdown()
    }

    @Test func commandsFailFastWhileDownAndRecoverAfterRestart() async throws {
        let server = try await RedisServerProcess.start()
        let healthChanges = Mutex<[Bool]>([])
        var configuration = try RedisConfiguration(url: server.url)
        configuration.commandTimeout = .seconds(1)
        configuration.reconnectBaseDelay = .milliseconds(20)
        configuration.maxReconnectDelay = .milliseconds(100)
        let client = RedisClient(configuration: configuration, logger: quietLogger()) { health in
            healthChanges.withLock { $0.append(health.isUp) }
        }
        try await client.waitUntilConnected()
        // Load running across the kill.
        let served = Atomic<Int>(0)
        let load = Task {
            var successes = 0
            var failures = 0
            let clock = ContinuousClock()
            let end = clock.now + .seconds(3)
            while clock.now < end {
                do {
                    _ = try await client.incr("load")
                    successes += 1
                    served.add(1, ordering: .relaxed)
                } catch {
                    failures += 1
                    // Pacing the failing load (a client retrying), not ordering the test.
                    try? await Task.sleep(for: .milliseconds(5))
                }
            }
            return (successes, failures)
        }
        try await eventually("the load is being served") { served.load(ordering: .relaxed) >= 100 }
        server.kill()
        try await eventually("the client notices Redis is gone") { healthChanges.withLock { $0.last == false } }
        // While down: a command fails at once instead of hanging.
        let clock = ContinuousClock()
        let started = clock.now
        do {
            _ = try await client.get("x")
            Issue.record("a command must fail while Redis is down")
        } catch let error as RedisError {
            if case .notConnected = error {} else { Issue.record("expected notConnected, got \(error)") }
        }
        // Far below the 1 s command timeout: no I/O was attempted.
        #expect(clock.now - started < .milliseconds(500))
        #expect(client.health.isUp == false)
        try await server.restart()
        try await client.waitUntilConnected(timeout: .seconds(5))
        let (successes, failures) = await load.value
        #expect(successes > 0)
        #expect(failures > 0)
        #expect(try await client.ping() == "PONG")
        #expect(healthChanges.withLock { $0 }.contains(false))
        #expect(healthChanges.withLock { $0 }.last == true)
        await client.shutdown()
    }

    @Test func aServerThatNeverAnswersCostsOnlyTheTimeout() async throws {
        let silent = try FakeRedisServer(reply: nil)
        defer { silent.close() }
        var configuration = RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: silent.port))
        configuration.commandTimeout = .milliseconds(50)
        configuration.poolSize = 1
        let client = RedisClient(configuration: configuration, logger: quietLogger())
        try await client.waitUntilConnected()
        let clock = ContinuousClock()
        for _ in 0..<3 {
            let started = clock.now
            do {
                _ = try await client.get("x")
                Issue.record("a silent server cannot answer")
            } catch let error as RedisError {
                switch error {
                case .timeout(let ms): #expect(ms == 50)
                case .notConnected, .connectionClosed: break
                default: Issue.record("unexpected \(error)")
                }
            }
            // The timeout, plus scheduling slack on a shared machine; never seconds.
            #expect(clock.now - started < .milliseconds(1000))
        }
        await client.shutdown()
    }

    @Test func aProtocolErrorClosesTheConnectionAndFailsItsCommands() async throws {
        let garbage = try FakeRedisServer(reply: Array("?this is not RESP\r\n".utf8))
        defer { garbage.close() }
        var configuration = RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: garbage.port))
        configuration.poolSize = 1
        let client = RedisClient(configuration: configuration, logger: quietLogger())
        try await client.waitUntilConnected()
        do {
            _ = try await client.get("x")
            Issue.record("garbage must fail")
        } catch let error as RedisError {
            guard case .protocolError = error else { Issue.record("expected protocolError, got \(error)"); return }
        }
        // The pool reconnects on its own.
        try await client.waitUntilConnected()
        await client.shutdown()
    }

    @Test func streamsAddReadGroupAckAndClaim() async throws {
        let server = try await RedisServerProcess.start()
        try await withClient(server) { client in
            let first = try await client.xadd("events", fields: [("type", "created"), ("id", "1")])
            _ = try await client.xadd("events", fields: [("type", "updated"), ("id", "1")], maxLength: 1000)
            let all = try await client.xread("events", after: "0")
            #expect(all.map(\.id).first == first)
            #expect(all.count == 2)
            #expect(all[0].fields.map(\.0) == ["type", "id"])
            #expect(all[1].fields[0].1 == Array("updated".utf8))

            try await client.createGroup("events", group: "feed", startAt: "0")
            try await client.createGroup("events", group: "feed", startAt: "0")
            let delivered = try await client.xreadgroup(group: "feed", consumer: "a", "events", count: 10)
            #expect(delivered.count == 2)
            #expect(try await client.xack("events", group: "feed", ids: [delivered[0].id]) == 1)
            // Entries become claimable after being idle 10 ms in Redis: time passing in the server.
            try await Task.sleep(for: .milliseconds(20))
            let (_, claimed) = try await client.xautoclaim(
                "events", group: "feed", consumer: "b", minIdle: .milliseconds(10))
            #expect(claimed.map(\.id) == [delivered[1].id])

            // A blocking read waits on its own connection while the pool keeps serving.
            let blocked = Task { try await client.xread("events", after: "$", block: .seconds(5)) }
            try await eventually("Redis holds the blocking read") {
                guard case .bulkString(let info) = try await client.send("INFO", ["clients"]) else { return false }
                return !String(decoding: info, as: UTF8.self).contains("blocked_clients:0")
            }
            #expect(try await client.ping() == "PONG")
            _ = try await client.xadd("events", fields: [("type", "late")])
            let late = try await blocked.value
            #expect(late.first?.fields.first?.1 == Array("late".utf8))
        }
    }

    @Test func publishReachesSubscribers() async throws {
        let server = try await RedisServerProcess.start()
        try await withClient(server) { client in
            let subscription = try await client.subscribe(to: ["changes"])
            // Wait until the subscription is registered.
            var receivers = 0
            for _ in 0..<100 where receivers == 0 {
                receivers = try await client.publish("changes", "warm-up")
                if receivers == 0 { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(receivers == 1)
            try await client.publish("changes", "hello")
            var received: [String] = []
            for try await message in subscription.messages {
                received.append(String(decoding: message.payload, as: UTF8.self))
                if received.last == "hello" { break }
            }
            #expect(received.last == "hello")
            #expect(received.allSatisfy { $0 == "warm-up" || $0 == "hello" })
            await subscription.close()
        }
    }

    @Test func shutDownClientsRefuseCommands() async throws {
        let server = try await RedisServerProcess.start()
        let client = try RedisClient(url: server.url, logger: quietLogger())
        try await client.waitUntilConnected()
        await client.shutdown()
        await #expect(throws: RedisError.shutDown) { try await client.ping() }
    }
}

/// The test harness's own guarantee: a server it starts is the one that answers on its port.
@Suite struct SpawnedServerTests {
    @Test func aServerLeftOnThePortIsNotTakenForTheOneStarted() async throws {
        let leftOver = try await RedisServerProcess.start()
        let port = leftOver.port
        let directory = try SpawnedProcess.temporaryDirectory("redis-test")
        let started = await SpawnedProcess.runAsyncThrowing {
            try SpawnedProcess(
                "/usr/bin/redis-server",
                [
                    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory, "--loglevel",
                    "warning",
                ],
                readyPort: port)
        }
        guard case .failure(let error) = started else {
            Issue.record("a second server on a taken port was reported as started")
            return
        }
        #expect(error is ExitedBeforeListening, "\(error)")
        withExtendedLifetime(leftOver) {}
    }
}
