import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Ports `freePort()` has handed out in this process, so two tests running in parallel never
/// get the same one (the kernel may reuse a just-closed ephemeral port at once).
private let handedOutPorts = Mutex<Set<Int>>([])

/// A server process a test starts and stops: spawned with posix_spawn (with a clean signal
/// mask, since libdispatch threads block signals and children inherit that) and reaped with
/// waitpid (Foundation's `Process.waitUntilExit` spins on Linux).
public final class SpawnedProcess: @unchecked Sendable {
    // @unchecked: `pid` changes only in start/stop/kill, which a test calls from one task at a time.
    private var pid: pid_t = 0
    private let executable: String
    private let arguments: [String]

    /// Starts `executable` and waits until `readyPort` accepts connections.
    public init(_ executable: String, _ arguments: [String], readyPort: Int) throws {
        self.executable = executable
        self.arguments = arguments
        try start(readyPort: readyPort)
    }

    /// Signals the process and reaps it on a thread of its own: the last reference may go on a
    /// cooperative thread or an event loop, which must not block while the server shuts down.
    deinit {
        guard pid > 0 else { return }
        let pid = self.pid
        Foundation.kill(pid, SIGTERM)
        Thread {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }.start()
    }

    public func start(readyPort: Int) throws {
        pid = try Self.spawn(executable, arguments, quiet: false)
        for _ in 0..<500 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                // It exited (for instance: the port was taken); whatever answers there is not ours.
                pid = 0
                throw ExitedBeforeListening(executable: executable, port: readyPort, waitStatus: status)
            }
            // Whatever answers must be the child's own listening socket: a server left running on
            // that port (by a test process that was killed, say) would answer too, and the child
            // would only exit a moment later, unable to bind.
            if Self.canConnect(port: readyPort), Self.listens(pid, on: readyPort) {
                return
            }
            usleep(10_000)
        }
        stop()
        throw POSIXError(.ETIMEDOUT)
    }

    /// Starts `executable` with its standard output and error written to `outputPath`, without
    /// waiting for anything; `waitForExit()` reaps it.
    public init(_ executable: String, _ arguments: [String], outputPath: String) throws {
        self.executable = executable
        self.arguments = arguments
        pid = try Self.spawn(executable, arguments, quiet: true, outputPath: outputPath)
    }

    /// Waits until the process exits and returns its wait status.
    public func waitForExit() -> Int32 {
        guard pid > 0 else { return -1 }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
        return status
    }

    /// `waitForExit()` on a thread of its own, so an async test does not block one of Swift
    /// concurrency's few cooperative threads (which the server under test needs).
    public func exit() async -> Int32 {
        await Self.offThePool { self.waitForExit() }
    }

    /// `body` on a thread of its own (starting a server blocks until it listens), its error kept.
    public static func runAsyncThrowing<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async
        -> Result<T, any Error>
    {
        await offThePool { Result { try body() } }
    }

    /// `run` on a thread of its own (see `exit()`).
    public static func runAsync(_ executable: String, _ arguments: [String], outputPath: String? = nil) async -> Int32 {
        await offThePool { run(executable, arguments, outputPath: outputPath) }
    }

    static func offThePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    /// A blocking, throwing `body` (starting a server and polling its port) on a thread of its
    /// own (see `exit()`).
    public static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await offThePool { Result { try body() } }.get()
    }

    /// Runs a short command to completion and returns its wait status; its output goes to
    /// `outputPath` when given, else it is discarded.
    public static func run(_ executable: String, _ arguments: [String], outputPath: String? = nil) -> Int32 {
        guard let child = try? spawn(executable, arguments, quiet: true, outputPath: outputPath) else { return -1 }
        var status: Int32 = 0
        waitpid(child, &status, 0)
        return status
    }

    private static func spawn(_ executable: String, _ arguments: [String], quiet: Bool, outputPath: String? = nil)
        throws -> pid_t
    {
        var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        // Only stdin/out/err go to the child: another test's sockets (a listener, say) would
        // otherwise stay open in this server for its lifetime, holding that port.
        for fd in Self.openDescriptors() where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let outputPath {
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else if quiet {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
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
        let result = posix_spawn(&child, executable, &actions, &attributes, &argv, environ)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
        return child
    }

    private func signalAndReap(_ signal: Int32) {
        guard pid > 0 else { return }
        Foundation.kill(pid, signal)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    /// Stops the process (SIGTERM) and waits for it.
    public func stop() { signalAndReap(SIGTERM) }

    /// Kills the process hard, as a crash would.
    public func kill() { signalAndReap(SIGKILL) }

    /// Starts a server on a port from `freePort()` (its arguments from `arguments(port)`), and on
    /// another when something outside this process took that one first; gives up after `attempts`.
    public static func onFreePort(
        _ executable: String, attempts: Int = 5, _ arguments: (_ port: Int) throws -> [String]
    ) throws -> (process: SpawnedProcess, port: Int) {
        var attempt = 0
        while true {
            let port = try freePort()
            do {
                return (try SpawnedProcess(executable, arguments(port), readyPort: port), port)
            } catch let error as ExitedBeforeListening {
                attempt += 1
                if attempt >= attempts { throw error }
            }
        }
    }

    /// A TCP port nothing listens on right now, and one this process has not handed out before.
    /// A port for a server a test starts: random below the kernel's ephemeral range (a port
    /// from that range may become the local port of some outgoing connection first), never
    /// the same twice in this process. It is not probed by binding it: a probe's socket could
    /// leak into a server another test spawns at that moment and hold the port. A server that
    /// finds it taken exits, and `start` says so (`ExitedBeforeListening`); try another.
    public static func freePort() throws -> Int {
        let ephemeralStart =
            (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))
            .flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) } }
            ?? 32768
        let range = 20_000..<max(20_001, min(ephemeralStart, 32_768))
        for _ in 0..<1000 {
            let port = Int.random(in: range)
            if handedOutPorts.withLock({ $0.insert(port).inserted }) { return port }
        }
        throw POSIXError(.EADDRINUSE)
    }

    /// The file descriptors open in this process.
    static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }

    public static func canConnect(port: Int) -> Bool {
        guard
            let channel = try? ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(
                host: "127.0.0.1", port: port
            ).wait()
        else { return false }
        try? channel.close().wait()
        return true
    }

    /// Whether process `pid` holds the socket listening on 127.0.0.1/0.0.0.0 `port` (Linux:
    /// the listener's inode in /proc/net/tcp among the process's descriptors).
    static func listens(_ pid: pid_t, on port: Int) -> Bool {
        #if os(Linux)
            let portHex = String(format: "%04X", port)
            var inodes = Set<String>()
            // Both tables (a server may listen on IPv6), read to their end: /proc reports no size.
            let table = Self.readProcFile("/proc/net/tcp") + Self.readProcFile("/proc/net/tcp6")
            for line in table.split(separator: "\n") {
                let fields = line.split(separator: " ")
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                guard fields.count > 9, fields[1].hasSuffix(":" + portHex), fields[3] == "0A" else { continue }
                inodes.insert(String(fields[9]))
            }
            guard !inodes.isEmpty else { return false }
            guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
                return false
            }
            for descriptor in descriptors {
                if let target = try? FileManager.default.destinationOfSymbolicLink(
                    atPath: "/proc/\(pid)/fd/\(descriptor)"),
                    target.hasPrefix("socket:["), inodes.contains(String(target.dropFirst(8).dropLast()))
                {
                    return true
                }
            }
            return false
        #else
            return true
        #endif
    }

    /// A /proc file's whole text (empty when it cannot be read).
    static func readProcFile(_ path: String) -> String {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return "" }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A fresh temporary directory.
    public static func temporaryDirectory(_ prefix: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// The spawned server exited before it accepted connections on its port.
public struct ExitedBeforeListening: Error, CustomStringConvertible {
    public var executable: String
    public var port: Int
    public var waitStatus: Int32
    public var description: String {
        "\(executable) exited (wait status \(waitStatus)) before listening on port \(port)"
    }
}
