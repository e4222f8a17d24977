import Foundation
import NIOCore
import NIOPosix


/// A real `redis-server` the tests start on a free port and a unix socket in a temp dir.
public final class RedisServerProcess: Sendable {
    public let port: Int
    public let directory: String
    public let password: String?
    private let process: SpawnedProcess

    public var socketPath: String { directory + "/redis.sock" }
    public var url: String { password.map { "redis://:\($0)@127.0.0.1:\(port)" } ?? "redis://127.0.0.1:\(port)" }

    public init(password: String? = nil) throws {
        port = try SpawnedProcess.freePort()
        directory = try SpawnedProcess.temporaryDirectory("redis-test")
        self.password = password
        var arguments = ["--port", String(port), "--bind", "127.0.0.1", "--unixsocket", directory + "/redis.sock", "--save", "", "--appendonly", "no",
            "--dir", directory, "--daemonize", "no", "--loglevel", "warning", "--logfile", directory + "/redis.log"]
        if let password { arguments += ["--requirepass", password] }
        process = try SpawnedProcess("/usr/bin/redis-server", arguments, readyPort: port)
    }

    deinit {
        process.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Kills the server hard, as a crash would.
    public func kill() { process.kill() }

    public func restart() throws {
        process.stop()
        try process.start(readyPort: port)
    }
}

/// A TCP server that accepts connections and then answers either nothing or fixed bytes.
public final class FakeRedisServer: Sendable {
    public let channel: any Channel
    public var port: Int { channel.localAddress!.port! }

    private final class Answer: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let bytes: [UInt8]?
        init(_ bytes: [UInt8]?) { self.bytes = bytes }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard let bytes else { return }
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        }
    }

    /// `reply` nil: never answer.
    public init(reply: [UInt8]?) throws {
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Answer(reply)) }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    public func close() { try? channel.close().wait() }
}
