import GRPCCore
import SwiftProtobuf

/// The standard gRPC interop service (`grpc.testing.TestService`) as the interop spec
/// describes it: echoes sizes, statuses and the `x-grpc-test-echo-*` metadata back.
public struct TestService: Grpc_Testing_TestService.ServiceProtocol {
    static let echoInitialKey = "x-grpc-test-echo-initial"
    static let echoTrailingKey = "x-grpc-test-echo-trailing-bin"

    public init() {}

    public func emptyCall(request: ServerRequest<Grpc_Testing_Empty>, context: ServerContext) async throws
        -> ServerResponse<Grpc_Testing_Empty>
    {
        ServerResponse(
            message: Grpc_Testing_Empty(), metadata: Self.initialEcho(request.metadata),
            trailingMetadata: Self.trailingEcho(request.metadata))
    }

    public func unaryCall(request: ServerRequest<Grpc_Testing_SimpleRequest>, context: ServerContext) async throws
        -> ServerResponse<Grpc_Testing_SimpleResponse>
    {
        let message = request.message
        try Self.failIfAsked(message.hasResponseStatus ? message.responseStatus : nil, metadata: request.metadata)
        guard message.responseSize >= 0 else {
            throw RPCError(code: .invalidArgument, message: "response_size must not be negative")
        }
        let response = Grpc_Testing_SimpleResponse.with {
            $0.payload = Self.payload(size: Int(message.responseSize))
            if message.fillServerID { $0.serverID = "grpc-interop-server" }
        }
        return ServerResponse(
            message: response, metadata: Self.initialEcho(request.metadata),
            trailingMetadata: Self.trailingEcho(request.metadata))
    }

    public func cacheableUnaryCall(request: ServerRequest<Grpc_Testing_SimpleRequest>, context: ServerContext)
        async throws -> ServerResponse<Grpc_Testing_SimpleResponse>
    {
        try await unaryCall(request: request, context: context)
    }

    public func streamingOutputCall(
        request: ServerRequest<Grpc_Testing_StreamingOutputCallRequest>,
        context: ServerContext
    ) async throws -> StreamingServerResponse<Grpc_Testing_StreamingOutputCallResponse> {
        let message = request.message
        let trailing = Self.trailingEcho(request.metadata)
        return StreamingServerResponse(metadata: Self.initialEcho(request.metadata)) { writer in
            try await Self.respond(to: message, with: writer)
            try Self.failIfAsked(message.hasResponseStatus ? message.responseStatus : nil, metadata: request.metadata)
            return trailing
        }
    }

    public func streamingInputCall(
        request: StreamingServerRequest<Grpc_Testing_StreamingInputCallRequest>,
        context: ServerContext
    ) async throws -> ServerResponse<Grpc_Testing_StreamingInputCallResponse> {
        var total = 0
        for try await message in request.messages { total += message.payload.body.count }
        let size = Int32(clamping: total)
        return ServerResponse(
            message: .with { $0.aggregatedPayloadSize = size },
            metadata: Self.initialEcho(request.metadata),
            trailingMetadata: Self.trailingEcho(request.metadata)
        )
    }

    public func fullDuplexCall(
        request: StreamingServerRequest<Grpc_Testing_StreamingOutputCallRequest>,
        context: ServerContext
    ) async throws -> StreamingServerResponse<Grpc_Testing_StreamingOutputCallResponse> {
        let metadata = request.metadata
        return StreamingServerResponse(metadata: Self.initialEcho(metadata)) { writer in
            for try await message in request.messages {
                try Self.failIfAsked(message.hasResponseStatus ? message.responseStatus : nil, metadata: metadata)
                try await Self.respond(to: message, with: writer)
            }
            return Self.trailingEcho(metadata)
        }
    }

    public func halfDuplexCall(
        request: StreamingServerRequest<Grpc_Testing_StreamingOutputCallRequest>,
        context: ServerContext
    ) async throws -> StreamingServerResponse<Grpc_Testing_StreamingOutputCallResponse> {
        let metadata = request.metadata
        return StreamingServerResponse(metadata: Self.initialEcho(metadata)) { writer in
            var requests: [Grpc_Testing_StreamingOutputCallRequest] = []
            for try await message in request.messages { requests.append(message) }
            for message in requests {
                try Self.failIfAsked(message.hasResponseStatus ? message.responseStatus : nil, metadata: metadata)
                try await Self.respond(to: message, with: writer)
            }
            return Self.trailingEcho(metadata)
        }
    }

    public func unimplementedCall(request: ServerRequest<Grpc_Testing_Empty>, context: ServerContext) async throws
        -> ServerResponse<Grpc_Testing_Empty>
    {
        throw RPCError(
            code: .unimplemented, message: "grpc.testing.TestService/UnimplementedCall is not implemented, on purpose")
    }

    // MARK: Helpers

    private static func respond(
        to message: Grpc_Testing_StreamingOutputCallRequest,
        with writer: RPCWriter<Grpc_Testing_StreamingOutputCallResponse>
    ) async throws {
        for parameters in message.responseParameters {
            guard parameters.size >= 0, parameters.intervalUs >= 0 else {
                throw RPCError(code: .invalidArgument, message: "size and interval_us must not be negative")
            }
            if parameters.intervalUs > 0 { try await Task.sleep(for: .microseconds(Int(parameters.intervalUs))) }
            try await writer.write(.with { $0.payload = payload(size: Int(parameters.size)) })
        }
    }

    private static func payload(size: Int) -> Grpc_Testing_Payload {
        .with {
            $0.type = .compressable
            $0.body = .init(repeating: 0, count: size)
        }
    }

    private static func failIfAsked(_ status: Grpc_Testing_EchoStatus?, metadata: Metadata) throws {
        guard let status, status.code != 0 else { return }
        guard let code = Status.Code(rawValue: Int(status.code)).flatMap(RPCError.Code.init) else {
            throw RPCError(
                code: .invalidArgument, message: "response_status.code \(status.code) is not a gRPC status code")
        }
        throw RPCError(code: code, message: status.message, metadata: trailingEcho(metadata))
    }

    private static func initialEcho(_ metadata: Metadata) -> Metadata {
        var echo = Metadata()
        for value in metadata[stringValues: echoInitialKey] { echo.addString(value, forKey: echoInitialKey) }
        return echo
    }

    private static func trailingEcho(_ metadata: Metadata) -> Metadata {
        var echo = Metadata()
        for value in metadata[binaryValues: echoTrailingKey] { echo.addBinary(value, forKey: echoTrailingKey) }
        return echo
    }
}
