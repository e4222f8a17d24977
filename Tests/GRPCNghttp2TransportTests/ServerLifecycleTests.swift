import Foundation
import GRPCCore
import GRPCInteropTesting
import GRPCNghttp2Transport
import GRPCStandardServices
import Logging
import NIOCore
import SwiftProtobuf
import Synchronization
import Testing
import TestSupport

/// A GRPCServer on the nghttp2 transport serving the interop TestService, called with
/// `nghttp` (nghttp2's command-line client) so every frame the server sends can be read.
struct RunningServer {
    let server: GRPCServer<Nghttp2ServerTransport>
    let transport: Nghttp2ServerTransport
    let serving: Task<Void, any Error>
    let port: Int
    let started: StartedRPCs

    static func start(configure: (inout Nghttp2ServerTransportConfiguration) -> Void = { _ in }) async throws
        -> RunningServer
    {
        var configuration = Nghttp2ServerTransportConfiguration(host: "127.0.0.1", port: 0)
        configure(&configuration)
        var logger = Logger(label: "transport-test")
        logger.logLevel = .critical
        let transport = Nghttp2ServerTransport(configuration: configuration, logger: logger)
        let started = StartedRPCs()
        let server = GRPCServer(
            transport: transport, services: [TestService(), HealthService()], interceptors: [started])
        let serving = Task { try await server.serve() }
        let port = try await transport.listeningAddress.port!
        return RunningServer(server: server, transport: transport, serving: serving, port: port, started: started)
    }

    /// Writes a length-prefixed gRPC request body for `message` to a file nghttp can send.
    static func requestFile(_ message: some SwiftProtobuf.Message) throws -> String {
        let bytes: [UInt8] = try message.serializedBytes()
        var framed: [UInt8] = [0]
        withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { framed.append(contentsOf: $0) }
        framed.append(contentsOf: bytes)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-request-\(UUID().uuidString)")
            .path
        try Data(framed).write(to: URL(fileURLWithPath: path))
        return path
    }

    func nghttpArguments(method: String, body: String) -> [String] {
        [
            "-v", "-H", ":method: POST", "-H", "content-type: application/grpc", "-H", "te: trailers", "-d", body,
            "http://127.0.0.1:\(port)/grpc.testing.TestService/\(method)",
        ]
    }

    /// A call in the background that sleeps `seconds` on the server before answering; returns
    /// once its handler runs on the server. `printed()` reads what nghttp wrote.
    func startSleepingCall(seconds: Int) async throws -> BackgroundCall {
        let request = Grpc_Testing_StreamingOutputCallRequest.with {
            $0.responseParameters = [
                .with {
                    $0.size = 10; $0.intervalUs = Int32(seconds * 1_000_000)
                }
            ]
        }
        let body = try Self.requestFile(request)
        let output = body + ".out"
        // Counted before the client starts: a call that reaches the handler before the count is
        // read (a busy test thread) would otherwise never be seen to arrive.
        let before = started.count
        let client = try SpawnedProcess(
            "/usr/bin/nghttp", nghttpArguments(method: "StreamingOutputCall", body: body), outputPath: output)
        try await eventually("the call reaches its handler") { started.count > before }
        return BackgroundCall(client: client, outputPath: output)
    }

    /// Runs one call to completion and returns what nghttp printed.
    func call(_ method: String, _ message: some SwiftProtobuf.Message) async throws -> String {
        let body = try Self.requestFile(message)
        let output = body + ".out"
        defer { try? FileManager.default.removeItem(atPath: body); try? FileManager.default.removeItem(atPath: output) }
        _ = await SpawnedProcess.runAsync(
            "/usr/bin/nghttp", nghttpArguments(method: method, body: body), outputPath: output)
        return String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: output))) ?? Data(), as: UTF8.self)
    }
}

/// An nghttp call running in the background.
struct BackgroundCall {
    let client: SpawnedProcess
    let outputPath: String

    func printed() throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: outputPath)), as: UTF8.self)
    }
}

@Suite struct ServerLifecycleTests {
    @Test func aUnaryCallGetsHeadersAMessageAndStatusTrailers() async throws {
        let running = try await RunningServer.start()
        let output = try await running.call("UnaryCall", Grpc_Testing_SimpleRequest.with { $0.responseSize = 1000 })
        #expect(output.contains(":status: 200"))
        #expect(output.contains("content-type: application/grpc"))
        // 5-byte prefix + SimpleResponse { payload (3-byte key and length) { body (3 + 1000) } }
        #expect(output.contains("recv DATA frame <length=1011,"))
        #expect(output.contains("grpc-status: 0"))
        running.server.beginGracefulShutdown()
        try await running.serving.value
    }

    @Test func anUnknownMethodIsUnimplementedInTrailersOnly() async throws {
        let running = try await RunningServer.start()
        let output = try await running.call("NoSuchMethod", Grpc_Testing_Empty())
        #expect(output.contains("grpc-status: 12"))
        #expect(!output.contains("recv DATA frame"))
        running.server.beginGracefulShutdown()
        try await running.serving.value
    }

    @Test func gracefulShutdownLetsInFlightCallsFinishAndStopsAccepting() async throws {
        let running = try await RunningServer.start()
        let call = try await running.startSleepingCall(seconds: 1)
        // Shut down while the call sleeps on the server.
        running.server.beginGracefulShutdown()
        try await running.serving.value
        #expect(await call.client.exit() == 0)
        let printed = try call.printed()
        #expect(printed.contains("GOAWAY"))
        #expect(printed.contains("grpc-status: 0"), "the in-flight call finished normally")
        // The transport's own listener is closed. (Probing the port from outside could find
        // another test's server that the kernel gave the freed ephemeral port to.)
        #expect(!running.transport.isListening, "no new connections after shutdown")
    }

    @Test func callsStillRunningAfterTheGracePeriodAreCancelled() async throws {
        let running = try await RunningServer.start { $0.shutdownGracePeriod = .milliseconds(300) }
        let call = try await running.startSleepingCall(seconds: 30)
        running.server.beginGracefulShutdown()
        // serve() returns well before the handler's 30 s sleep would end.
        try await running.serving.value
        _ = await call.client.exit()
        #expect(!(try call.printed()).contains("grpc-status: 0"))
    }

    @Test func cancellingServeClosesEveryConnection() async throws {
        let running = try await RunningServer.start()
        let call = try await running.startSleepingCall(seconds: 30)
        running.serving.cancel()
        _ = try? await running.serving.value
        _ = await call.client.exit()
        try await eventually("every connection is closed") { running.transport.connectionCount == 0 }
    }
}

/// Counts RPCs that reached their handler, so a test can wait for a call to be in flight.
final class StartedRPCs: ServerInterceptor, Sendable {
    private let started = Atomic<Int>(0)
    var count: Int { started.load(ordering: .relaxed) }

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        started.add(1, ordering: .relaxed)
        return try await next(request, context)
    }
}
