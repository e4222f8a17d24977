import GatewayCore
import GRPCCore
import Logging

/// Admits an RPC only with `authorization: Bearer <key>` of a configured calling service that
/// has the scope the method needs (reads: `crm.read` or some `crm.objects.<type>.read`; writes:
/// `crm.write` or some `crm.objects.<type>.write`, the domain checking the type; changes:
/// `changes.read`; the Admin service: `admin`). Health checks and server reflection need no
/// key. Over mutual TLS a call without a key may be identified by its client certificate
/// (`cert=` in the caller keys), which the transport passes under `identityKey`. The caller is
/// recorded for the observation interceptor (metrics and access log) and bound as
/// `Caller.current` for the handler (object-type access, fair sharing of the budget).
public struct CallerAuthenticationInterceptor: ServerInterceptor {
    public let keys: CallerKeys
    /// Whether `identityKey` metadata comes from a transport that verified a client
    /// certificate (and removed any value a client sent); otherwise it is ignored.
    public let trustsCertificateIdentity: Bool
    private let logger: Logger

    /// The metadata key of a verified client certificate's identity (set by the transport).
    public static let identityKey = "x-client-certificate-identity"

    public init(keys: CallerKeys, trustsCertificateIdentity: Bool = false, logger: Logger = Logger(label: "auth")) {
        self.keys = keys
        self.trustsCertificateIdentity = trustsCertificateIdentity
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
        let authorization = request.metadata.firstString("authorization")
        let caller: Caller
        do {
            caller = try FrontMatter.caller(
                authorization: authorization,
                certificateIdentity: trustsCertificateIdentity ? request.metadata.firstString(Self.identityKey) : nil,
                keys: keys)
            ObservedRequest.current?.record(caller: caller.service)
            if let scope = Self.scope(of: context.descriptor) {
                try FrontMatter.admit(caller, to: scope, for: context.descriptor.method)
            }
        } catch {
            if error.reason == .callerNotAuthenticated, authorization != nil {
                logger.notice(
                    "rejected an unknown caller key",
                    metadata: ["method": "\(context.descriptor.fullyQualifiedMethod)", "peer": "\(context.remotePeer)"])
            }
            return StreamingServerResponse(error: GatewayErrors.rpcError(error, subject: "the call"))
        }
        // Handlers scope per-caller state (idempotency keys) by this; a client cannot set it.
        return try await Caller.$current.withValue(caller) { try await next(request, context) }
    }

    /// Trailers of a CALLER_NOT_ALLOWED refusal: the calling service and the scope it lacks.
    static let callerKey = IdempotentCalls.callerKey
    static let scopeKey = "x-required-caller-scope"

    /// The scope a method needs: the Admin service needs `admin`, the Changes service
    /// `changes.read`; Get/List/Search/BatchGet/Export and Timeline methods read; everything else writes.
    /// The Passthrough service needs none here: the domain checks each path against the
    /// caller's passthrough prefixes.
    static func scope(of method: MethodDescriptor) -> CallerScope? {
        if method.service.fullyQualifiedService.hasSuffix(".PassthroughService") { return nil }
        if method.service.fullyQualifiedService.hasSuffix(".AdminService") { return .admin }
        if method.service.fullyQualifiedService.hasSuffix(".ChangesService") { return .changesRead }
        return readPrefixes.contains(where: { method.method.hasPrefix($0) }) ? .read : .write
    }

    private static let readPrefixes = ["Get", "List", "Search", "BatchGet", "Export", "Timeline"]
}
