import GRPCCore
import SwiftProtobuf
import Synchronization

/// `grpc.health.v1.Health`: per-service serving status for load balancers and Kubernetes'
/// native gRPC probes. The empty service name stands for the whole server.
public final class HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol, Sendable {
    public typealias ServingStatus = Grpc_Health_V1_HealthCheckResponse.ServingStatus

    private struct Watcher {
        let service: String
        let continuation: AsyncStream<ServingStatus>.Continuation
    }

    private struct State {
        var statuses: [String: ServingStatus]
        var watchers: [Int: Watcher] = [:]
        var nextWatcher = 0
        var shuttingDown = false
    }

    private let state: Mutex<State>

    /// Starts with the server (`""`) and the given services SERVING.
    public init(servingServices: [String] = []) {
        var statuses: [String: ServingStatus] = ["": .serving]
        for service in servingServices { statuses[service] = .serving }
        state = Mutex(State(statuses: statuses))
    }

    /// Sets the status of one service (`""` for the server) and tells its watchers.
    public func setStatus(_ status: ServingStatus, for service: String = "") {
        let continuations: [AsyncStream<ServingStatus>.Continuation] = state.withLock { state in
            guard state.statuses[service] != status else { return [] }
            state.statuses[service] = status
            return state.watchers.values.filter { $0.service == service }.map(\.continuation)
        }
        for continuation in continuations { continuation.yield(status) }
    }

    /// Marks every service NOT_SERVING, tells the watchers, then ends their streams so a
    /// draining server is not held open by health watches.
    public func beginShutdown() {
        let watchers: [Watcher] = state.withLock { state in
            state.shuttingDown = true
            for key in state.statuses.keys { state.statuses[key] = .notServing }
            defer { state.watchers.removeAll() }
            return Array(state.watchers.values)
        }
        for watcher in watchers {
            watcher.continuation.yield(.notServing)
            watcher.continuation.finish()
        }
    }

    public func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws
        -> Grpc_Health_V1_HealthCheckResponse
    {
        guard let status = state.withLock({ $0.statuses[request.service] }) else {
            throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
        }
        return .with { $0.status = status }
    }

    public func watch(
        request: Grpc_Health_V1_HealthCheckRequest,
        response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        let (updates, continuation) = AsyncStream.makeStream(
            of: ServingStatus.self, bufferingPolicy: .bufferingNewest(1))
        let id: Int? = state.withLock { state in
            let current = state.statuses[request.service] ?? .serviceUnknown
            continuation.yield(current)
            if state.shuttingDown {
                continuation.finish()
                return nil
            }
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = Watcher(service: request.service, continuation: continuation)
            return id
        }
        defer {
            if let id { _ = state.withLock { $0.watchers.removeValue(forKey: id) } }
        }
        try await withRPCCancellationHandler {
            for await status in updates {
                try await response.write(.with { $0.status = status })
            }
        } onCancelRPC: {
            continuation.finish()
        }
        if context.cancellation.isCancelled { return }
        throw RPCError(code: .unavailable, message: "the server is shutting down")
    }
}
