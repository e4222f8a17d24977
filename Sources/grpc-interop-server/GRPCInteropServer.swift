import ArgumentParser
import Foundation
import GRPCCore
import GRPCInteropTesting
import GRPCNghttp2Transport
import GRPCStandardServices
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// Serves grpc.testing.TestService (plus health and reflection) on the nghttp2 transport, so
/// any gRPC implementation's interop client can check the transport.
@main
struct GRPCInteropServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpc-interop-server",
        abstract: "The standard gRPC interop test server on the project's nghttp2 HTTP/2 transport."
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one; the chosen port is printed).")
    var port = 50052

    @Option(help: "SETTINGS_MAX_CONCURRENT_STREAMS per connection.")
    var maxConcurrentStreams = 1000

    @Option(help: "Largest request message in bytes.")
    var maxReceiveMessageSize = 4 << 20

    @Option(help: "Seconds in-flight RPCs get to finish after SIGTERM.")
    var shutdownGraceSeconds = 10

    @Option(help: "Seconds a connection may stay without streams before GOAWAY.")
    var idleTimeoutSeconds: Double = 300

    @Option(help: "Seconds after which a connection is drained with GOAWAY (0: never).")
    var maxConnectionAgeSeconds: Double = 1800

    @Option(help: "Seconds between the server's keepalive PINGs.")
    var keepaliveSeconds: Double = 120

    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).")
    var logLevel = "info"

    @Option(help: "PEM certificate chain: serve TLS (ALPN h2) instead of cleartext h2c.")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(help: "PEM CAs of client certificates: require one from every client (mutual TLS).")
    var tlsClientCa: String?

    func run() async throws {
        var logger = Logger(label: "grpc-interop-server")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        var configuration = Nghttp2ServerTransportConfiguration(host: host, port: port)
        configuration.maxConcurrentStreams = maxConcurrentStreams
        configuration.maxReceiveMessageSize = maxReceiveMessageSize
        configuration.shutdownGracePeriod = .seconds(shutdownGraceSeconds)
        configuration.idleTimeout = .milliseconds(Int64(idleTimeoutSeconds * 1000))
        configuration.maxConnectionAge =
            maxConnectionAgeSeconds > 0 ? .milliseconds(Int64(maxConnectionAgeSeconds * 1000)) : nil
        configuration.keepaliveInterval = .milliseconds(Int64(keepaliveSeconds * 1000))
        if let tlsCert, let tlsKey {
            let context = try ReloadingServerTLSContext(
                files: .init(certificateChain: tlsCert, privateKey: tlsKey, clientCA: tlsClientCa), logger: logger)
            configuration.tls = .init(context: { context.current })
        }
        let transport = Nghttp2ServerTransport(configuration: configuration, logger: logger)
        let health = HealthService(servingServices: ["grpc.testing.TestService"])
        let reflection = try ReflectionService(
            descriptorSetsBase64: [
                GRPCInteropTestingDescriptors.fileDescriptorSetBase64,
                GRPCStandardServicesDescriptors.fileDescriptorSetBase64,
            ],
            services: [
                "grpc.testing.TestService", "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
            ])
        let statuses = StatusCountingInterceptor()
        let server = GRPCServer(
            transport: transport, services: [TestService(), health, reflection, reflection.v1alpha],
            interceptors: [statuses])
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(
                        service: GRPCServerService(server: server, health: health),
                        successTerminationBehavior: .gracefullyShutdownGroup)
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        let announce = Task {
            if let address = try? await transport.listeningAddress {
                // Unbuffered: test harnesses read this line from a pipe to learn the port.
                FileHandle.standardOutput.write(
                    Data("grpc-interop-server listening on \(address.ipAddress ?? host):\(address.port ?? port)\n".utf8)
                )
            }
        }
        defer { announce.cancel() }
        try await group.run()
        // Benchmarks compare this with what their load generator counted.
        FileHandle.standardOutput.write(
            Data("grpc-interop-server served ok=\(statuses.ok) failed=\(statuses.failed)\n".utf8))
    }
}
