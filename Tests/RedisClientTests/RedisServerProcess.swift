import Foundation
import NIOCore
import NIOPosix

/// A real `redis-server` the tests start on a free port and a unix socket in a temp dir.
/// Spawned with posix_spawn and reaped with waitpid (Foundation's `Process.waitUntilExit`
/// spins on Linux).
final class RedisServerProcess: @unchecked Sendable {
    // @unchecked: `pid` changes only in start/stop/kill, which a test calls from one task at a time.
    let port: Int
    let directory: String
    let password: String?
    private var pid: pid_t = 0

    var socketPath: String { directory + "/redis.sock" }
    var url: String { password.map { "redis://:\($0)@127.0.0.1:\(port)" } ?? "redis://127.0.0.1:\(port)" }

    init(password: String? = nil) throws {
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.password = password
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func start() throws {
        var arguments = ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--unixsocket", socketPath, "--save", "", "--appendonly", "no",
            "--dir", directory, "--daemonize", "no", "--loglevel", "warning", "--logfile", directory + "/redis.log"]
        if let password { arguments += ["--requirepass", password] }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // The calling thread may block signals (libdispatch does); the child must not inherit
        // that, or it would never see SIGTERM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let result = posix_spawn(&child, "/usr/bin/redis-server", nil, &attributes, &argv, environ)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
        pid = child
        // Ready when the port accepts connections.
        for _ in 0..<300 {
            if Self.canConnect(port: port) { return }
            usleep(10_000)
        }
        throw POSIXError(.ETIMEDOUT)
    }

    private func signalAndReap(_ signal: Int32) {
        guard pid > 0 else { return }
        Foundation.kill(pid, signal)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    /// Stops the server (SIGTERM).
    func stop() { signalAndReap(SIGTERM) }

    /// Kills the server hard, as a crash would.
    func kill() { signalAndReap(SIGKILL) }

    func restart() throws {
        stop()
        try start()
    }

    static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress!.port!
        try channel.close().wait()
        return port
    }

    static func canConnect(port: Int) -> Bool {
        guard let channel = try? ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).wait() else { return false }
        try? channel.close().wait()
        return true
    }
}

/// A TCP server that accepts connections and then answers either nothing or fixed bytes.
final class FakeRedisServer: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

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
    init(reply: [UInt8]?) throws {
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Answer(reply)) }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    func close() { try? channel.close().wait() }
}
