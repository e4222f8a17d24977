import Foundation
import GRPCCore
import GRPCInteropTesting
import GRPCNIOTransportHTTP2Posix
import GRPCNghttp2Transport

// usage: grpc-bench-server nghttp2|nio PORT
let arguments = CommandLine.arguments
guard arguments.count == 3, let port = Int(arguments[2]), ["nghttp2", "nio"].contains(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: grpc-bench-server nghttp2|nio PORT\n".utf8))
    exit(2)
}
let counter = StatusCountingInterceptor()
signal(SIGTERM, SIG_IGN)

func serve<Transport: ServerTransport>(_ transport: Transport) async throws {
    let server = GRPCServer(transport: transport, services: [TestService()], interceptors: [counter])
    let signals = DispatchSource.makeSignalSource(signal: SIGTERM)
    signals.setEventHandler { server.beginGracefulShutdown() }
    signals.resume()
    FileHandle.standardOutput.write(Data("listening on \(port)\n".utf8))
    try await server.serve()
    signals.cancel()
}

if arguments[1] == "nghttp2" {
    var configuration = Nghttp2ServerTransportConfiguration(host: "127.0.0.1", port: port)
    configuration.shutdownGracePeriod = .seconds(2)
    try await serve(Nghttp2ServerTransport(configuration: configuration))
} else {
    try await serve(
        HTTP2ServerTransport.Posix(
            address: .ipv4(host: "127.0.0.1", port: port),
            transportSecurity: .plaintext,
            config: .defaults { $0.http2.maxConcurrentStreams = 1000 }
        ))
}
FileHandle.standardOutput.write(Data("rpcs ok=\(counter.ok) failed=\(counter.failed)\n".utf8))
