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
        let identity =
            trustsCertificateIdentity ? request.metadata.firstString(Self.identityKey) : nil
        if request.metadata.firstString("authorization") == nil, let identity,
            let caller = keys.caller(certificateIdentity: identity)
        {
            return try await admit(caller, request: request, context: context, next: next)
        }
        guard let header = request.metadata.firstString("authorization") else {
            return StreamingServerResponse(
                error: GatewayErrors.error(
                    .callerNotAuthenticated,
                    identity.map {
                        "no caller key, and the client certificate's identity \($0) is not a caller's `cert=`: send `authorization: Bearer <key>` or ask the gateway's operators to map the certificate"
                    }
                        ?? "no caller key: send `authorization: Bearer <key>` (keys are issued per calling service by the gateway's operators)"
                ))
        }
        guard let presented = Self.bearerKey(in: header), let caller = keys.caller(presenting: presented) else {
            logger.notice(
                "rejected an unknown caller key",
                metadata: ["method": "\(context.descriptor.fullyQualifiedMethod)", "peer": "\(context.remotePeer)"])
            return StreamingServerResponse(
                error: GatewayErrors.error(
                    .callerNotAuthenticated,
                    "unknown caller key (check the key your service was given; it is compared by its SHA-256)"))
        }
        return try await admit(caller, request: request, context: context, next: next)
    }

    /// Checks the authenticated caller's scope for the method and runs it as that caller.
    private func admit<Input: Sendable, Output: Sendable>(
        _ caller: Caller, request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        ObservedRequest.current?.record(caller: caller.service)
        let needed = Self.scope(of: context.descriptor)
        // CRM methods need their access to some object type; the domain checks the type itself.
        let allowed =
            switch needed {
            case .read: caller.mayAny(.read)
            case .write: caller.mayAny(.write)
            default: caller.scopes.contains(needed)
            }
        guard allowed else {
            return StreamingServerResponse(
                error: GatewayErrors.error(
                    .callerNotAllowed,
                    "service `\(caller.service)` lacks the scope `\(needed.rawValue)` that \(context.descriptor.method) needs",
                    metadata: [Self.callerKey: .string(caller.service), Self.scopeKey: .string(needed.rawValue)]))
        }
        // Handlers scope per-caller state (idempotency keys) by this; a client cannot set it.
        return try await Caller.$current.withValue(caller) { try await next(request, context) }
    }

    /// Trailers of a CALLER_NOT_ALLOWED refusal: the calling service and the scope it lacks.
    static let callerKey = IdempotentCalls.callerKey
    static let scopeKey = "x-required-caller-scope"

    /// The key of an `authorization: Bearer <key>` value (scheme case-insensitive, surrounding
    /// spaces ignored); nil for any other form. Plain UTF-8 work: this runs on every call.
    static func bearerKey(in header: String) -> String? {
        var bytes = Substring(header).utf8[...]
        let scheme = "bearer".utf8
        guard bytes.count > scheme.count, zip(bytes.prefix(scheme.count), scheme).allSatisfy({ $0 | 0x20 == $1 }),
            bytes[bytes.index(bytes.startIndex, offsetBy: scheme.count)] == UInt8(ascii: " ")
        else { return nil }
        bytes = bytes.dropFirst(scheme.count + 1)
        while let first = bytes.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            bytes = bytes.dropFirst()
        }
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
            bytes = bytes.dropLast()
        }
        return bytes.isEmpty ? nil : String(Substring(bytes))
    }

    /// The scope a method needs: the Admin service needs `admin`, the Changes service
    /// `changes.read`; Get/List/Search/BatchGet/Export methods read; everything else writes.
    static func scope(of method: MethodDescriptor) -> CallerScope {
        if method.service.fullyQualifiedService.hasSuffix(".AdminService") { return .admin }
        if method.service.fullyQualifiedService.hasSuffix(".ChangesService") { return .changesRead }
        return readPrefixes.contains(where: { method.method.hasPrefix($0) }) ? .read : .write
    }

    private static let readPrefixes = ["Get", "List", "Search", "BatchGet", "Export"]
}
