import NIOCore
import NIOPosix

/// One connection to Redis: commands are pipelined on it and answered in order.
final class RedisConnection: Sendable {
    let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    /// Connects, then authenticates and selects the database.
    static func connect(_ configuration: RedisConfiguration, pushHandler: (@Sendable (RESPValue) -> Void)? = nil)
        async throws -> RedisConnection
    {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(pushHandler: pushHandler))
                }
            }
        let channel: any Channel
        switch configuration.endpoint {
        case .tcp(let host, let port):
            channel = try await bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1).connect(
                host: host, port: port
            ).get()
        case .unix(let path):
            channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
        }
        let connection = RedisConnection(channel: channel)
        do {
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
            if !setup.isEmpty {
                for reply in try await connection.send(setup, timeout: configuration.connectTimeout) {
                    if case .error(let error) = reply { throw error }
                }
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
