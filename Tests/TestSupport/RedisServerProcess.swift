import Foundation
import NIOCore
import NIOPosix

/// A real `redis-server` the tests start on a free port and a unix socket in a temp dir.
public final class RedisServerProcess: Sendable {
    public let port: Int
    public let directory: String
    public let password: String?
    /// Set when the server was started with TLS only (its port speaks TLS, nothing else).
    public let certificates: TestCertificates?
    private let process: SpawnedProcess

    public var socketPath: String { directory + "/redis.sock" }
    public var url: String {
        let scheme = certificates == nil ? "redis" : "rediss"
        return password.map { "\(scheme)://:\($0)@127.0.0.1:\(port)" } ?? "\(scheme)://127.0.0.1:\(port)"
    }

    /// Starts a server without blocking a cooperative thread while it comes up (a blocked
    /// thread stalls every other test's continuations: Redis replies then seem to time out).
    /// - Parameter persistent: keep every write in an append-only file synced at once (as
    ///   `k8s/` runs Redis, with the strictest fsync), so a killed server restarts with its data.
    /// - Parameter tls: serve TLS only, with these certificates' server certificate; clients
    ///   present a certificate of the same CA when `requireClientCertificates`.
    public static func start(
        password: String? = nil, persistent: Bool = false, tls: TestCertificates? = nil,
        requireClientCertificates: Bool = false, extraArguments: [String] = []
    ) async throws -> RedisServerProcess {
        try await SpawnedProcess.offThePool {
            try RedisServerProcess(
                password: password, persistent: persistent, tls: tls,
                requireClientCertificates: requireClientCertificates,
                extraArguments: extraArguments)
        }
    }

    public init(
        password: String? = nil, persistent: Bool = false, tls: TestCertificates? = nil,
        requireClientCertificates: Bool = false, extraArguments: [String] = []
    ) throws {
        let directory = try SpawnedProcess.temporaryDirectory("redis-test")
        self.directory = directory
        self.password = password
        self.certificates = tls
        (process, port) = try SpawnedProcess.onFreePort("/usr/bin/redis-server") { port in
            var arguments =
                (tls.map {
                    [
                        "--port", "0", "--tls-port", String(port), "--tls-cert-file", $0.serverCertificateFile,
                        "--tls-key-file", $0.serverKeyFile, "--tls-ca-cert-file", $0.caFile,
                        "--tls-auth-clients", requireClientCertificates ? "yes" : "no",
                    ]
                } ?? ["--port", String(port)]) + [
                    "--bind", "127.0.0.1", "--unixsocket", directory + "/redis.sock", "--save", "",
                    "--appendonly", persistent ? "yes" : "no", "--appendfsync", "always",
                    "--dir", directory, "--daemonize", "no", "--loglevel", "warning", "--logfile",
                    directory + "/redis.log",
                ]
            if let password { arguments += ["--requirepass", password] }
            return arguments + extraArguments
        }
    }

    deinit {
        // The process stops (without blocking) when `process` goes; its files can go now.
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Kills the server hard, as a crash would.
    public func kill() { process.kill() }

    /// Starts the server again on the same port after `kill()`, with whatever it had persisted
    /// (nothing unless started `persistent`).
    public func startAgain() async throws {
        let process = self.process
        let port = self.port
        try await SpawnedProcess.offThePool { try process.start(readyPort: port) }
    }

    /// Stops and starts the server again on the same port (off the cooperative pool).
    public func restart() async throws {
        let process = self.process
        let port = self.port
        try await SpawnedProcess.offThePool {
            process.stop()
            try process.start(readyPort: port)
        }
    }
}

/// A TCP server that accepts connections, answers the client's connection setup (`INFO
/// cluster`, as a standalone server would) and then either nothing or fixed bytes.
public final class FakeRedisServer: Sendable {
    public let channel: any Channel
    public var port: Int { channel.localAddress!.port! }

    private final class Answer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let bytes: [UInt8]?
        var setUp = false
        init(_ bytes: [UInt8]?) { self.bytes = bytes }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if !setUp {
                setUp = true
                let info = Array("$19\r\ncluster_enabled:0\r\n\r\n".utf8)
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: info)), promise: nil)
                return
            }
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
