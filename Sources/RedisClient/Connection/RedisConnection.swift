import NIOCore
import NIOPosix
import NIOSSL

/// One connection to Redis: commands are pipelined on it and answered in order.
final class RedisConnection: Sendable {
    let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    /// Connects (through TLS when configured), then authenticates, selects the database and
    /// checks that the server is not a Redis Cluster node. The setup is one round trip, which
    /// also completes the TLS handshake, so a connection handed out has been proven to work.
    /// With a Sentinel endpoint, the master is asked of the Sentinels on every connect and
    /// must say it is the master (`ROLE`) before the connection is used.
    static func connect(_ configuration: RedisConfiguration, pushHandler: (@Sendable (RESPValue) -> Void)? = nil)
        async throws -> RedisConnection
    {
        guard case .sentinel(let nodes, let masterName) = configuration.endpoint else {
            return try await connect(configuration, to: configuration.endpoint, pushHandler: pushHandler)
        }
        let master = try await SentinelDiscovery.master(named: masterName, from: nodes, configuration)
        return try await connect(
            configuration, to: .tcp(host: master.host, port: master.port), expectMaster: true, pushHandler: pushHandler)
    }

    /// As `connect(_:pushHandler:)`, to an endpoint other than the configured one (the master
    /// a Sentinel named).
    static func connect(
        _ configuration: RedisConfiguration, to endpoint: RedisConfiguration.Endpoint, expectMaster: Bool = false,
        pushHandler: (@Sendable (RESPValue) -> Void)? = nil
    ) async throws -> RedisConnection {
        let tls: (context: NIOSSLContext, serverName: String?)?
        if let configured = configuration.tls, case .tcp(let host, _) = endpoint {
            tls = try configured.makeContext(host: host)
        } else {
            tls = nil
        }
        // Completed by the TLS handshake's outcome (see `TLSHandshakeHandler`).
        let handshake: EventLoopPromise<Void>? =
            tls == nil ? nil : MultiThreadedEventLoopGroup.singleton.next().makePromise()
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverName))
                        try channel.pipeline.syncOperations.addHandler(TLSHandshakeHandler(handshake: handshake!))
                    }
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(pushHandler: pushHandler))
                }
            }
        let channel: any Channel
        do {
            switch endpoint {
            case .tcp(let host, let port):
                channel = try await bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1).connect(
                    host: host, port: port
                ).get()
            case .unix(let path):
                channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            case .sentinel:
                preconditionFailure("a Sentinel endpoint is resolved to its master before connecting")
            }
        } catch {
            handshake?.fail(error)
            throw error
        }
        let connection = RedisConnection(channel: channel)
        do {
            if let handshake {
                // The handshake's outcome first: a certificate problem is reported as such.
                let timeout = handshake.futureResult.eventLoop.scheduleTask(
                    in: TimeAmount(configuration.connectTimeout)
                ) {
                    handshake.fail(RedisError.tls("the TLS handshake with Redis did not finish in time"))
                }
                defer { timeout.cancel() }
                try await handshake.futureResult.get()
            }
            var setup: [[[UInt8]]] = []
            if let password = configuration.password {
                setup.append(
                    [Array("AUTH".utf8)] + (configuration.username.map { [Array($0.utf8)] } ?? []) + [
                        Array(password.utf8)
                    ])
            }
            if configuration.database != 0 {
                setup.append([Array("SELECT".utf8), Array(String(configuration.database).utf8)])
            }
            let checks = expectMaster ? 2 : 1
            setup.append([Array("INFO".utf8), Array("cluster".utf8)])
            if expectMaster { setup.append([Array("ROLE".utf8)]) }
            let replies = try await connection.send(setup, timeout: configuration.connectTimeout)
            for reply in replies.dropLast(checks) {
                if case .error(let error) = reply { throw error }
            }
            // A user without INFO rights gets an error here; only a positive answer refuses.
            if let info = replies[replies.count - checks].string, info.contains("cluster_enabled:1") {
                throw RedisError.clusterNotSupported
            }
            if expectMaster, let role = replies.last?.array?.first?.string, role != "master" {
                // The Sentinels' view lags a failover (or a demoted master restarted): ask again.
                throw RedisError.notConnected(lastError: "the Sentinels' master \(endpoint) answers ROLE \(role)")
            }
        } catch {
            try? await channel.close()
            throw error
        }
        return connection
    }

    /// Sends commands in one write; returns their replies in order (server errors as `.error`).
    func send(_ commands: [[[UInt8]]], timeout: Duration) async throws -> [RESPValue] {
        var bytes = channel.allocator.buffer(capacity: 64 * commands.count)
        for command in commands { RESPCommandEncoder.encode(command, into: &bytes) }
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        channel.writeAndFlush(
            RedisOutbound(bytes: bytes, replyCount: commands.count, promise: promise, timeout: TimeAmount(timeout))
        ).whenFailure { _ in
            // The channel was closed before the handler saw the write (a no-op otherwise).
            promise.fail(RedisError.connectionClosed)
        }
        return try await promise.futureResult.get()
    }

    /// Writes commands whose answers arrive as pushes (SUBSCRIBE and friends).
    func sendWithoutReply(_ commands: [[[UInt8]]]) async throws {
        var bytes = channel.allocator.buffer(capacity: 64 * commands.count)
        for command in commands { RESPCommandEncoder.encode(command, into: &bytes) }
        try await channel.writeAndFlush(RedisOutbound(bytes: bytes, replyCount: 0, promise: nil, timeout: .seconds(1)))
            .get()
    }

    var isActive: Bool { channel.isActive }

    func close() async {
        try? await channel.close()
    }
}
