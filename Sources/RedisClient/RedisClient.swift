import Logging
import NIOCore
import Synchronization
import Time
import Tracing

/// One argument of a Redis command: bytes, with conversions from text and numbers.
public struct RESPArgument: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { bytes = Array(text.utf8) }
    public init(_ number: Int) { bytes = Array(String(number).utf8) }
    public init(_ number: Int64) { bytes = Array(String(number).utf8) }
    public init(stringLiteral value: String) { self.init(value) }
    public init(integerLiteral value: Int) { self.init(value) }
}

/// Whether Redis can be used now, as other components (the limiter, the cache) observe it.
public struct RedisHealth: Sendable, Equatable {
    /// At least one pooled connection is up.
    public var isUp: Bool
    public var connectedConnections: Int
    /// Why the last connection went down or failed to come up.
    public var lastError: String?
}

/// A Redis client for the gateway: a small pool of pipelined connections (hiredis as the RESP
/// codec, SwiftNIO for I/O), a timeout on every command, automatic reconnection with jittered
/// backoff, and fail-fast errors while Redis is down.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let slots: [ConnectionSlot]
    private let nextSlot = Mutex(0)
    private let scripts = Mutex<[String: String]>([:])
    private let maintenance = Mutex<[Task<Void, Never>]>([])
    private let lastHealth = Mutex<RedisHealth>(RedisHealth(isUp: false, connectedConnections: 0, lastError: nil))
    private let onHealthChange: (@Sendable (RedisHealth) -> Void)?
    private let logger: Logger

    /// Starts connecting at once; commands issued before a connection is up fail fast with
    /// `notConnected` (use `waitUntilConnected` at start-up if that matters).
    public init(
        configuration: RedisConfiguration, logger: Logger = Logger(label: "redis"),
        onHealthChange: (@Sendable (RedisHealth) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.logger = logger
        self.onHealthChange = onHealthChange
        slots = (0..<max(1, configuration.poolSize)).map { _ in ConnectionSlot() }
        var tasks = slots.map { slot in Task { [self] in await self.maintain(slot) } }
        if case .sentinel(let nodes, let masterName) = configuration.endpoint {
            tasks.append(Task { [self] in await self.followFailovers(nodes, masterName: masterName) })
        }
        maintenance.withLock { $0 = tasks }
    }

    public convenience init(url: String, logger: Logger = Logger(label: "redis")) throws(RedisError) {
        self.init(configuration: try RedisConfiguration(url: url), logger: logger)
    }

    /// Closes every connection; later commands fail with `shutDown`.
    public func shutdown() async {
        let tasks = maintenance.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        for slot in slots { slot.shutDown() }
    }

    /// The current health.
    public var health: RedisHealth {
        let connected = slots.filter { $0.connection != nil }.count
        return RedisHealth(
            isUp: connected > 0, connectedConnections: connected, lastError: slots.compactMap(\.lastError).first)
    }

    /// Waits until at least one connection is up, or throws `notConnected` after `timeout`.
    public func waitUntilConnected(timeout: Duration = .seconds(5)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if health.isUp { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw RedisError.notConnected(lastError: health.lastError)
    }

    // MARK: Sending

    /// Sends one command; an error reply is thrown as `RedisServerError`.
    @discardableResult
    public func send(_ name: String, _ arguments: [RESPArgument] = [], timeout: Duration? = nil) async throws
        -> RESPValue
    {
        let reply = try await pipeline([[RESPArgument(name)] + arguments], timeout: timeout)[0]
        if case .error(let error) = reply { throw error }
        return reply
    }

    /// Sends several commands in one write on one connection and returns their replies in order;
    /// an error reply of one command is its `.error` value, the others still succeed.
    ///
    /// `durable`: the replies come only once `durableReplicas` replicas hold the writes
    /// (`WAIT` on the same connection), or the call throws `notReplicated` — for writes the
    /// gateway acknowledges to someone, so that a Sentinel failover cannot lose them.
    public func pipeline(_ commands: [[RESPArgument]], timeout: Duration? = nil, durable: Bool = false)
        async throws -> [RESPValue]
    {
        guard !commands.isEmpty else { return [] }
        let connection = try pickConnection()
        var wire = commands.map { $0.map(\.bytes) }
        var limit = timeout ?? configuration.commandTimeout
        let replicas = durable ? configuration.durableReplicas : 0
        if replicas > 0 {
            wire.append([
                Array("WAIT".utf8), Array(String(replicas).utf8),
                Array(String(configuration.durableTimeout.milliseconds).utf8),
            ])
            limit += configuration.durableTimeout
        }
        let operation = String(decoding: wire[0].first ?? [], as: UTF8.self)
        var replies = try await withSpan("redis \(operation)", ofKind: .client) { span in
            span.attributes["db.system.name"] = "redis"
            span.attributes["db.operation.name"] = operation
            span.attributes["db.operation.batch.size"] = Int64(wire.count)
            return try await connection.send(wire, timeout: limit)
        }
        if replies.contains(where: { if case .error(let error) = $0 { error.kind == .readOnly } else { false } }) {
            // The master this connection reached was demoted (a failover): reconnect, which
            // asks the Sentinels again.
            logger.warning("Redis answered READONLY: the connection reached a replica; reconnecting")
            connection.channel.close(promise: nil)
        }
        if replicas > 0 {
            let acknowledged = replies.removeLast().integer ?? 0
            if acknowledged < replicas {
                throw RedisError.notReplicated(acknowledged: Int(acknowledged), wanted: replicas)
            }
        }
        return replies
    }

    private func pickConnection() throws(RedisError) -> RedisConnection {
        let start = nextSlot.withLock { value in
            defer { value = (value + 1) % slots.count }
            return value
        }
        for offset in 0..<slots.count {
            let slot = slots[(start + offset) % slots.count]
            if slot.isShutDown { throw .shutDown }
            if let connection = slot.connection { return connection }
        }
        throw .notConnected(lastError: slots.compactMap(\.lastError).first)
    }

    /// Runs `body` on a connection of its own (for blocking commands), closed afterwards. A
    /// cancelled caller closes it at once, which ends a blocking command waiting on it.
    func withDedicatedConnection<T: Sendable>(_ body: (RedisConnection) async throws -> T) async throws -> T {
        let connection = try await RedisConnection.connect(configuration)
        do {
            let result = try await withTaskCancellationHandler {
                try await body(connection)
            } onCancel: {
                Task { await connection.close() }
            }
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    // MARK: Scripts

    /// Runs a Lua script with EVALSHA, loading it (SCRIPT LOAD) the first time and again when
    /// Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH).
    /// `durable` as for `pipeline`.
    public func evaluate(
        _ script: RedisScript, keys: [RESPArgument] = [], arguments: [RESPArgument] = [], timeout: Duration? = nil,
        durable: Bool = false
    ) async throws -> RESPValue {
        let sha: String
        if let known = scripts.withLock({ $0[script.source] }) {
            sha = known
        } else {
            sha = try await load(script, timeout: timeout)
        }
        func run(_ sha: String) async throws -> RESPValue {
            let reply = try await pipeline(
                [["EVALSHA", RESPArgument(sha), RESPArgument(keys.count)] + keys + arguments], timeout: timeout,
                durable: durable)[0]
            if case .error(let error) = reply { throw error }
            return reply
        }
        do {
            return try await run(sha)
        } catch let error as RedisServerError where error.kind == .noScript {
            return try await run(try await load(script, timeout: timeout))
        }
    }

    private func load(_ script: RedisScript, timeout: Duration?) async throws -> String {
        guard let sha = try await send("SCRIPT", ["LOAD", RESPArgument(script.source)], timeout: timeout).string else {
            throw RedisError.protocolError("SCRIPT LOAD did not answer with a SHA")
        }
        scripts.withLock { $0[script.source] = sha }
        return sha
    }

    // MARK: Pub/Sub

    /// Subscribes on a dedicated connection. The subscription ends (with an error) when that
    /// connection drops; subscribe again to resume.
    public func subscribe(to channels: [String]) async throws -> RedisSubscription {
        guard !channels.isEmpty else { throw RedisError.protocolError("SUBSCRIBE needs at least one channel") }
        let (stream, continuation) = AsyncThrowingStream<RedisSubscription.Message, any Error>.makeStream()
        let connection = try await RedisConnection.connect(configuration) { reply in
            guard let parts = reply.array, parts.count == 3, parts[0].string == "message",
                let channel = parts[1].string, let payload = parts[2].bytes
            else { return }
            continuation.yield(RedisSubscription.Message(channel: channel, payload: payload))
        }
        connection.channel.closeFuture.whenComplete { _ in continuation.finish(throwing: RedisError.connectionClosed) }
        try await connection.sendWithoutReply([[Array("SUBSCRIBE".utf8)] + channels.map { Array($0.utf8) }])
        return RedisSubscription(connection: connection, messages: stream)
    }

    // MARK: Connection maintenance

    private func maintain(_ slot: ConnectionSlot) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let connection = try await RedisConnection.connect(configuration)
                failures = 0
                slot.set(connection)
                publishHealth()
                await withTaskCancellationHandler {
                    try? await connection.channel.closeFuture.get()
                } onCancel: {
                    connection.channel.close(promise: nil)
                }
                slot.clear(reason: "connection closed")
                publishHealth()
                logger.warning("Redis connection closed; reconnecting")
            } catch {
                failures += 1
                slot.clear(reason: "\(error)")
                publishHealth()
                if failures == 1 { logger.warning("Redis connection failed", metadata: ["error": "\(error)"]) }
            }
            if Task.isCancelled { break }
            // Full jitter over an exponential ceiling, so replicas do not reconnect in step.
            let ceiling = min(
                configuration.maxReconnectDelay, configuration.reconnectBaseDelay * (1 << min(max(failures - 1, 0), 16))
            )
            try? await Task.sleep(for: ceiling * Double.random(in: 0.5...1))
        }
        if let connection = slot.connection { await connection.close() }
        slot.clear(reason: "shut down")
    }

    /// Listens on a Sentinel for `+switch-master` of `masterName` and closes the pool's
    /// connections when it comes, so they reconnect to the new master at once (a killed
    /// master drops them anyway; a demoted live one would otherwise keep them).
    private func followFailovers(_ nodes: [RedisConfiguration.SentinelNode], masterName: String) async {
        var index = 0
        var failures = 0
        while !Task.isCancelled {
            let node = nodes[index % nodes.count]
            index += 1
            do {
                let prefix = Array((masterName + " ").utf8)
                let connection = try await RedisConnection.connect(
                    SentinelDiscovery.sentinelConfiguration(configuration), to: .tcp(host: node.host, port: node.port)
                ) { [self] reply in
                    // "<name> <old ip> <old port> <new ip> <new port>"
                    guard let parts = reply.array, parts.count == 3, parts[0].string == "message",
                        let payload = parts[2].bytes, payload.starts(with: prefix)
                    else { return }
                    let fields = String(decoding: payload, as: UTF8.self).split(separator: " ")
                    guard fields.count == 5, let port = Int(fields[4]) else { return }
                    logger.warning(
                        "Redis Sentinel switched the master; reconnecting",
                        metadata: ["from": "\(fields[1]):\(fields[2])", "to": "\(fields[3]):\(port)"])
                    dropConnections(notTo: String(fields[3]), port: port)
                }
                try await connection.sendWithoutReply([[Array("SUBSCRIBE".utf8), Array("+switch-master".utf8)]])
                failures = 0
                await withTaskCancellationHandler {
                    try? await connection.channel.closeFuture.get()
                } onCancel: {
                    connection.channel.close(promise: nil)
                }
            } catch {
                failures += 1
                if failures == nodes.count {
                    logger.warning("no Redis Sentinel reachable to follow failovers", metadata: ["error": "\(error)"])
                }
            }
            if Task.isCancelled { break }
            try? await Task.sleep(for: min(configuration.maxReconnectDelay, configuration.reconnectBaseDelay * 4))
        }
    }

    /// Closes the pooled connections that are not to the new master; each reconnects on its own.
    func dropConnections(notTo host: String, port: Int) {
        for slot in slots {
            guard let connection = slot.connection else { continue }
            let remote = connection.channel.remoteAddress
            if remote?.port != port || remote?.ipAddress != host { connection.channel.close(promise: nil) }
        }
    }

    private func publishHealth() {
        let current = health
        let changed = lastHealth.withLock { last in
            defer { last = current }
            return last != current
        }
        if changed { onHealthChange?(current) }
    }
}

/// A Lua script run with `RedisClient.evaluate` (its SHA is learned from Redis once).
public struct RedisScript: Sendable, Hashable {
    public let source: String
    public init(_ source: String) { self.source = source }
}

/// Messages of a Pub/Sub subscription; `close()` ends it.
public struct RedisSubscription: Sendable {
    public struct Message: Sendable, Equatable {
        public var channel: String
        public var payload: [UInt8]
    }

    let connection: RedisConnection
    public let messages: AsyncThrowingStream<Message, any Error>

    public func close() async { await connection.close() }
}

/// One pooled connection's place: the connection when up, the last error when down.
final class ConnectionSlot: Sendable {
    private struct State {
        var connection: RedisConnection?
        var lastError: String?
        var shutDown = false
    }

    private let state = Mutex(State())

    var connection: RedisConnection? {
        state.withLock { state in state.connection.flatMap { $0.isActive ? $0 : nil } }
    }

    var lastError: String? { state.withLock { $0.lastError } }
    var isShutDown: Bool { state.withLock { $0.shutDown } }

    func set(_ connection: RedisConnection) {
        state.withLock { $0.connection = connection }
    }

    func clear(reason: String) {
        state.withLock { state in
            state.connection = nil
            state.lastError = reason
        }
    }

    func shutDown() {
        state.withLock { state in
            state.connection = nil
            state.shutDown = true
        }
    }
}
