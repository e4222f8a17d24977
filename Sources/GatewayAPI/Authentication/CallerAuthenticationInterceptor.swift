import Foundation
import GRPCCore
import Logging

/// Admits an RPC only with `authorization: Bearer <key>` of a configured calling service that
/// has the scope the method needs (reads: `crm.read`; writes: `crm.write`; the Admin service:
/// `admin`). Health checks and server reflection need no key. The caller is available to the
/// handler as `Caller.current`.
public struct CallerAuthenticationInterceptor: ServerInterceptor {
    public let keys: CallerKeys
    private let logger: Logger

    public init(keys: CallerKeys, logger: Logger = Logger(label: "auth")) {
        self.keys = keys
        self.logger = logger
    }

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let service = context.descriptor.service.fullyQualifiedService
        if service.hasPrefix("grpc.health.") || service.hasPrefix("grpc.reflection.") {
            return try await next(request, context)
        }
        guard let header = request.metadata[stringValues: "authorization"].first(where: { _ in true }) else {
            return StreamingServerResponse(error: RPCError(code: .unauthenticated,
                message: "no caller key: send `authorization: Bearer <key>` (keys are issued per calling service by the gateway's operators)"))
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", let caller = keys.caller(presenting: String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
            logger.notice("rejected an unknown caller key", metadata: ["method": "\(context.descriptor.fullyQualifiedMethod)", "peer": "\(context.remotePeer)"])
            return StreamingServerResponse(error: RPCError(code: .unauthenticated, message: "unknown caller key (check the key your service was given; it is compared by its SHA-256)"))
        }
        ObservedRequest.current?.record(caller: caller.service)
        let needed = Self.scope(of: context.descriptor)
        guard caller.scopes.contains(needed) else {
            return StreamingServerResponse(error: RPCError(code: .permissionDenied,
                message: "service `\(caller.service)` lacks the scope `\(needed.rawValue)` that \(context.descriptor.method) needs"))
        }
        // Unary handlers run inside `next`, so the task-local reaches them.
        return try await Caller.$current.withValue(caller) { try await next(request, context) }
    }

    /// The scope a method needs: the Admin service needs `admin`; Get/List/Search/BatchGet
    /// methods read; everything else writes.
    static func scope(of method: MethodDescriptor) -> CallerScope {
        if method.service.fullyQualifiedService.hasSuffix(".AdminService") { return .admin }
        let readPrefixes = ["Get", "List", "Search", "BatchGet"]
        return readPrefixes.contains(where: { method.method.hasPrefix($0) }) ? .read : .write
    }
}

extension Caller {
    /// The caller of the RPC being handled (set by `CallerAuthenticationInterceptor`).
    @TaskLocal public static var current: Caller?
}
