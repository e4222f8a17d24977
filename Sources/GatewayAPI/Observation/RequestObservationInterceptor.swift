import CoreMetrics
import GatewayCore
import GRPCCore
import Logging
import Synchronization
import Time

/// Counts, times and logs every RPC by method, final status and calling service, gives each
/// one a request id (the caller's `x-request-id`, or a new one) that is returned in the response
/// metadata and written in the access log, and gives every failure the rich error model
/// (`ErrorStatusDetails`, carrying that request id). Install it first (outermost), so that calls
/// refused by authentication are observed and detailed too.
public struct RequestObservationInterceptor: ServerInterceptor {
    /// Which finished RPCs get an access-log line.
    public typealias AccessLog = AccessLogPolicy

    /// Metric names (Prometheus style).
    public enum Name {
        /// Finished RPCs, by `method`, `code` (gRPC status name) and `caller` (service name).
        public static let requests = "gateway_grpc_requests_total"
        /// Time from the call's arrival to its final status, by `method` and `caller`.
        public static let duration = "gateway_grpc_request_duration_seconds"
        /// RPCs being handled now, by `method` (the HPA's per-pod scaling signal).
        public static let inFlight = "gateway_grpc_requests_in_flight"
        /// RPCs that failed because the client broke the protocol (counted in `requests` too,
        /// usually as `internal`, as gRPC names them), by `method`.
        public static let malformedRequests = "gateway_grpc_malformed_requests_total"
        /// Writes that ended `unknown` because HubSpot may or may not have applied them
        /// (counted in `requests` too), by `method`.
        public static let writeOutcomesUnknown = "gateway_grpc_write_outcomes_unknown_total"
    }

    /// Metadata key carrying the request id, both ways.
    public static let requestIdKey = "x-request-id"
    /// The caller label of RPCs that presented no valid key (and of health and reflection).
    public static let anonymousCaller = ObservedRequest.anonymousCaller

    private let accessLog: AccessLog
    private let logger: Logger
    private let factory: any MetricsFactory
    private let finishedHandles = MetricHandleCache<FinishedKey, FinishedHandles>()
    private let inFlightHandles = MetricHandleCache<MethodDescriptor, Meter>()
    private let isClientFault: @Sendable (any Error) -> Bool

    /// - Parameter isClientFault: whether a failed RPC's `RPCError.cause` says the client broke
    ///   the protocol (the transport's `MalformedRequest`): logged below error and counted apart.
    public init(
        accessLog: AccessLog = .errors, logger: Logger, metricsFactory: (any MetricsFactory)? = nil,
        isClientFault: @escaping @Sendable (any Error) -> Bool = { _ in false }
    ) {
        self.accessLog = accessLog
        self.logger = logger
        self.factory = metricsFactory ?? MetricsSystem.factory
        self.isClientFault = isClientFault
    }

    /// Whose fault a failure is, when it is not the gateway's own.
    private enum Fault {
        case client
        case outcomeUnknown
    }

    private func fault(of error: RPCError?) -> Fault? {
        guard let cause = error?.cause else { return nil }
        if isClientFault(cause) { return .client }
        if cause is WriteOutcomeUnknown { return .outcomeUnknown }
        return nil
    }

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let started = ContinuousClock.now
        // The descriptor, not its `service/method` text (made only for new handles and logs).
        let method = context.descriptor
        let requestId = Self.requestId(from: request.metadata)
        let observed = ObservedRequest(requestId: requestId)
        let inFlight = inFlightHandles.handles(for: method) {
            Meter(label: Name.inFlight, dimensions: [("method", method.fullyQualifiedMethod)], factory: factory)
        }
        inFlight.increment()
        let finish: @Sendable (RPCError.Code?, RPCError?) -> Void = { code, error in
            inFlight.decrement()
            self.finish(
                method: method, requestId: requestId, caller: observed.caller, code: code, error: error,
                started: started, peer: context.remotePeer)
        }
        let response: StreamingServerResponse<Output>
        do {
            response = try await ObservedRequest.$current.withValue(observed) { try await next(request, context) }
        } catch {
            let rpcError = ErrorStatusDetails.detailed(error, requestId: requestId)
            finish(rpcError.code, rpcError)
            throw rpcError
        }
        switch response.accepted {
        case .failure(let failure):
            var error = ErrorStatusDetails.detailed(failure, requestId: requestId)
            finish(error.code, error)
            error.metadata.replaceOrAddString(requestId, forKey: Self.requestIdKey)
            return StreamingServerResponse(accepted: .failure(error))
        case .success(var contents):
            let producer = contents.producer
            contents.metadata.replaceOrAddString(requestId, forKey: Self.requestIdKey)
            contents.producer = { writer in
                do {
                    let trailers = try await producer(writer)
                    finish(nil, nil)
                    return trailers
                } catch {
                    let rpcError = ErrorStatusDetails.detailed(error, requestId: requestId)
                    finish(rpcError.code, rpcError)
                    throw rpcError
                }
            }
            return StreamingServerResponse(accepted: .success(contents))
        }
    }

    /// `code` nil means OK.
    private func finish(
        method descriptor: MethodDescriptor, requestId: String, caller: String?, code: RPCError.Code?, error: RPCError?,
        started: ContinuousClock.Instant, peer: String
    ) {
        let elapsed = ContinuousClock.now - started
        let caller = caller ?? Self.anonymousCaller
        let codeName = code.map(Self.name(of:)) ?? "ok"
        let finished = finishedHandles.handles(for: FinishedKey(method: descriptor, code: codeName, caller: caller)) {
            let method = descriptor.fullyQualifiedMethod
            return FinishedHandles(
                requests: Counter(
                    label: Name.requests, dimensions: [("method", method), ("code", codeName), ("caller", caller)],
                    factory: factory),
                duration: Timer(
                    label: Name.duration, dimensions: [("method", method), ("caller", caller)], factory: factory))
        }
        finished.requests.increment()
        finished.duration.record(elapsed)
        let fault = fault(of: error)
        guard fault != nil || accessLog == .all || (accessLog == .errors && code != nil) else { return }
        let method = descriptor.fullyQualifiedMethod
        switch fault {
        case .client?:
            Counter(label: Name.malformedRequests, dimensions: [("method", method)], factory: factory).increment()
        case .outcomeUnknown?:
            Counter(label: Name.writeOutcomesUnknown, dimensions: [("method", method)], factory: factory).increment()
        case nil: break
        }
        guard accessLog == .all || (accessLog == .errors && code != nil) else { return }
        var metadata: Logger.Metadata = [
            "request_id": .string(requestId), "caller": .string(caller), "method": .string(method),
            "code": .string(codeName), "duration_ms": .stringConvertible(elapsed.fractionalMilliseconds),
            "peer": .string(peer),
        ]
        if let error {
            metadata["error"] = .string(error.message)
            if let correlation = error.metadata.firstString(GatewayErrors.Key.correlationId) {
                metadata["hubspot_correlation_id"] = .string(correlation)
            }
        }
        let level: Logger.Level =
            switch (code, fault) {
            case (_, .client?): .notice
            case (_, .outcomeUnknown?): .warning
            case (.internalError?, _), (.unknown?, _), (.dataLoss?, _): .error
            case (.unavailable?, _): .warning
            default: .info
            }
        logger.log(level: level, "rpc finished", metadata: metadata)
    }

    static func requestId(from metadata: Metadata) -> String {
        RequestIds.make(given: metadata.firstString(requestIdKey))
    }

    static func rpcError(_ error: any Error) -> RPCError {
        if let error = error as? RPCError { return error }
        if let convertible = error as? any RPCErrorConvertible { return RPCError(convertible) }
        return RPCError(code: .unknown, message: "\(error)")
    }

    /// The status name as gRPC writes it (`NOT_FOUND`), lower-cased for labels (`not_found`).
    static func name(of code: RPCError.Code) -> String {
        switch code {
        case .cancelled: "cancelled"
        case .unknown: "unknown"
        case .invalidArgument: "invalid_argument"
        case .deadlineExceeded: "deadline_exceeded"
        case .notFound: "not_found"
        case .alreadyExists: "already_exists"
        case .permissionDenied: "permission_denied"
        case .resourceExhausted: "resource_exhausted"
        case .failedPrecondition: "failed_precondition"
        case .aborted: "aborted"
        case .outOfRange: "out_of_range"
        case .unimplemented: "unimplemented"
        case .internalError: "internal"
        case .unavailable: "unavailable"
        case .dataLoss: "data_loss"
        case .unauthenticated: "unauthenticated"
        default: "code_\(code.rawValue)"
        }
    }
}

/// The labels of a finished RPC's metrics, and their handles.
private struct FinishedKey: Hashable, Sendable {
    let method: MethodDescriptor
    let code: String
    let caller: String
}

private struct FinishedHandles: Sendable {
    let requests: Counter
    let duration: Timer
}
