import GatewayCore
import GRPCCore
import Tracing

/// A server span per RPC, continuing the caller's trace (W3C `traceparent` in the metadata):
/// named by the method, with the calling service and the final gRPC status. The span is the
/// current one while the handler runs, so the cache, the limiter, HubSpot and Redis spans are
/// its children. Install it right after the observation interceptor (the caller is known once
/// authentication has run inside it).
public struct TracingInterceptor: ServerInterceptor {
    public init() {}

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        var traceContext = InstrumentationContext.current ?? .topLevel
        InstrumentationSystem.instrument.extract(request.metadata, into: &traceContext, using: MetadataExtractor())
        let span = InstrumentationSystem.tracer.startSpan(
            context.descriptor.fullyQualifiedMethod, context: traceContext, ofKind: .server)
        span.attributes["rpc.system"] = "grpc"
        span.attributes["rpc.service"] = context.descriptor.service.fullyQualifiedService
        span.attributes["rpc.method"] = context.descriptor.method
        span.attributes["network.peer.address"] = context.remotePeer
        // Bound by the observation interceptor outside; authentication records the caller in it.
        let observed = ObservedRequest.current
        let finish: @Sendable (RPCError?) -> Void = { error in
            span.attributes["gateway.caller"] = observed?.caller ?? ObservedRequest.anonymousCaller
            span.attributes["rpc.grpc.status_code"] = Int64(error?.code.rawValue ?? 0)
            if let error {
                span.setStatus(SpanStatus(code: .error, message: error.message))
                if let correlation = error.metadata.firstString(GatewayErrors.Key.correlationId) {
                    span.attributes["hubspot.correlation_id"] = correlation
                }
            }
            span.end()
        }
        let response: StreamingServerResponse<Output>
        do {
            response = try await InstrumentationContext.withValue(span.context) { try await next(request, context) }
        } catch {
            finish(RequestObservationInterceptor.rpcError(error))
            throw error
        }
        switch response.accepted {
        case .failure(let error):
            finish(error)
            return response
        case .success(var contents):
            let producer = contents.producer
            contents.producer = { writer in
                do {
                    let trailers = try await InstrumentationContext.withValue(span.context) {
                        try await producer(writer)
                    }
                    finish(nil)
                    return trailers
                } catch {
                    finish(RequestObservationInterceptor.rpcError(error))
                    throw error
                }
            }
            return StreamingServerResponse(accepted: .success(contents))
        }
    }
}

/// Reads W3C trace context out of gRPC metadata.
struct MetadataExtractor: Extractor {
    func extract(key: String, from carrier: Metadata) -> String? { carrier.firstString(key) }
}
