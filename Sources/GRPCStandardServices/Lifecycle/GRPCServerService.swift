import GRPCCore
import ServiceLifecycle

/// Runs a `GRPCServer` as a swift-service-lifecycle service. On graceful shutdown (SIGTERM) it
/// first marks health NOT_SERVING, so load balancers stop sending new calls, then lets the
/// server drain: GOAWAY, in-flight RPCs finish, the transport closes.
public struct GRPCServerService<Transport: ServerTransport>: Service {
    public let server: GRPCServer<Transport>
    public let health: HealthService

    public init(server: GRPCServer<Transport>, health: HealthService) {
        self.server = server
        self.health = health
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.serve()
        } onGracefulShutdown: {
            health.beginShutdown()
            server.beginGracefulShutdown()
        }
    }
}
