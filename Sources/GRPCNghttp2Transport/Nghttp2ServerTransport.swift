import GRPCCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A GRPCCore `ServerTransport` for gRPC over cleartext HTTP/2 (h2c with prior knowledge),
/// on SwiftNIO sockets with libnghttp2 as the HTTP/2 codec. GRPCCore does routing,
/// interceptors, deadlines and errors; this type only moves requests and responses.
///
/// ```swift
/// let transport = Nghttp2ServerTransport(configuration: .init(host: "127.0.0.1", port: 0))
/// let server = GRPCServer(transport: transport, services: [MyService()])
/// try await server.serve()
/// ```
public final class Nghttp2ServerTransport: ServerTransport, Sendable {
    public typealias Bytes = [UInt8]

    public let configuration: Nghttp2ServerTransportConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let address: EventLoopPromise<SocketAddress>
    private let state = Mutex(State())

    private struct State {
        var serverChannel: (any Channel)?
        var serverChannelClosed = false
        var connections: [ObjectIdentifier: ConnectionReference] = [:]
        var accepted: AsyncStream<AcceptedStream>.Continuation?
        var shuttingDown = false
        /// The grace period ran out: RPCs still running are cancelled.
        var forced = false
        var listening = false
    }

    /// A connection as the transport sees it from outside its event loop.
    private struct ConnectionReference: Sendable {
        let connection: NIOLoopBound<HTTP2ServerConnection>
        var eventLoop: any EventLoop { connection.eventLoop }
    }

    public init(
        configuration: Nghttp2ServerTransportConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "grpc.nghttp2")
    ) {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
        self.address = eventLoopGroup.any().makePromise(of: SocketAddress.self)
    }

    /// The address the transport listens on, once `listen` has bound it.
    public var listeningAddress: SocketAddress {
        get async throws { try await address.futureResult.get() }
    }

    /// The number of open client connections.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Whether the listening socket is open (it closes when a graceful shutdown begins).
    public var isListening: Bool { state.withLock { $0.serverChannel != nil && !$0.serverChannelClosed } }

    public func listen(
        streamHandler: @escaping @Sendable (RPCStream<Inbound, Outbound>, ServerContext) async -> Void
    ) async throws {
        let (acceptedStreams, continuation) = AsyncStream.makeStream(of: AcceptedStream.self)
        let alreadyListening: Bool = state.withLock { state in
            defer { state.listening = true }
            if !state.listening { state.accepted = continuation }
            return state.listening
        }
        if alreadyListening {
            throw RuntimeError(code: .transportError, message: "this transport is already listening")
        }

        let channel: any Channel
        do {
            channel = try await bind(continuation: continuation)
        } catch {
            address.fail(error)
            continuation.finish()
            throw RuntimeError(
                code: .transportError,
                message: "could not listen on \(configuration.host):\(configuration.port): \(error)", cause: error)
        }
        address.succeed(channel.localAddress!)
        let stopNow: Bool = state.withLock { state in
            state.serverChannel = channel
            return state.shuttingDown
        }
        channel.closeFuture.whenComplete { _ in self.serverChannelClosed() }
        if stopNow { channel.close(promise: nil) }

        // The accept loop runs on an event loop too: RPCs accepted on that loop start without a
        // thread hop (with one loop, as when the process is pinned to one core, none do).
        await withTaskExecutorPreference(EventLoopTaskExecutor(group.next())) {
            await acceptRPCs(acceptedStreams, streamHandler: streamHandler)
        }
    }

    private func acceptRPCs(
        _ acceptedStreams: AsyncStream<AcceptedStream>,
        streamHandler: @escaping @Sendable (RPCStream<Inbound, Outbound>, ServerContext) async -> Void
    ) async {
        await withTaskCancellationHandler {
            // Handlers that ignore GRPCCore's cancellation handle still end at the grace
            // period: the group body throws then, which cancels every RPC task.
            try? await withThrowingDiscardingTaskGroup { group in
                for await accepted in acceptedStreams {
                    group.addTask(executorPreference: accepted.executor) {
                        await withServerContextRPCCancellationHandle { handle in
                            accepted.writer.attach(handle)
                            let context = ServerContext(
                                descriptor: accepted.descriptor,
                                remotePeer: accepted.remotePeer,
                                localPeer: accepted.localPeer,
                                cancellation: handle
                            )
                            let stream = RPCStream(
                                descriptor: accepted.descriptor,
                                inbound: RPCAsyncSequence(wrapping: accepted.inbound),
                                outbound: RPCWriter.Closable(wrapping: accepted.writer)
                            )
                            await streamHandler(stream, context)
                        }
                    }
                }
                if state.withLock({ $0.forced }) { throw CancellationError() }
            }
        } onCancel: {
            self.closeAbruptly()
        }
    }

    private func bind(continuation: AsyncStream<AcceptedStream>.Continuation) async throws -> any Channel {
        let configuration = self.configuration
        let logger = self.logger
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = configuration.tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context()))
                    }
                    let connection = HTTP2ServerConnection(
                        configuration: configuration,
                        logger: logger,
                        accept: { continuation.yield($0) },
                        onClose: { [weak self] id in self?.connectionClosed(id) }
                    )
                    guard
                        self.register(
                            ObjectIdentifier(connection),
                            ConnectionReference(connection: NIOLoopBound(connection, eventLoop: channel.eventLoop)))
                    else {
                        throw ChannelError.ioOnClosedChannel  // shutting down: refuse the connection
                    }
                    try channel.pipeline.syncOperations.addHandler(connection)
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
    }

    private func register(_ id: ObjectIdentifier, _ reference: ConnectionReference) -> Bool {
        state.withLock { state in
            guard !state.shuttingDown else { return false }
            state.connections[id] = reference
            return true
        }
    }

    private func connectionClosed(_ id: ObjectIdentifier) {
        let finish: AsyncStream<AcceptedStream>.Continuation? = state.withLock { state in
            state.connections.removeValue(forKey: id)
            return finishIfDrained(&state)
        }
        finish?.finish()
    }

    private func serverChannelClosed() {
        let finish: AsyncStream<AcceptedStream>.Continuation? = state.withLock { state in
            state.serverChannelClosed = true
            return finishIfDrained(&state)
        }
        finish?.finish()
    }

    /// Once shutting down with no listener and no connection left, the listen loop may end.
    private func finishIfDrained(_ state: inout State) -> AsyncStream<AcceptedStream>.Continuation? {
        guard state.shuttingDown, state.serverChannelClosed, state.connections.isEmpty else { return nil }
        defer { state.accepted = nil }
        return state.accepted
    }

    /// Stops accepting connections, sends GOAWAY on every connection, lets in-flight RPCs
    /// finish, and cancels what is still running after `shutdownGracePeriod`.
    public func beginGracefulShutdown() {
        let (channel, connections, finish):
            ((any Channel)?, [ConnectionReference], AsyncStream<AcceptedStream>.Continuation?) = state.withLock {
                state in
                state.shuttingDown = true
                if state.serverChannel == nil { state.serverChannelClosed = true }
                return (state.serverChannel, Array(state.connections.values), finishIfDrained(&state))
            }
        channel?.close(promise: nil)
        let grace = configuration.shutdownGracePeriod
        for reference in connections {
            reference.eventLoop.execute {
                // The transport's own timer below ends the grace period for every connection.
                reference.connection.value.beginGracefulShutdown(grace: nil, reason: "server shutting down")
            }
        }
        finish?.finish()
        group.any().scheduleTask(in: .init(grace)) { self.endGracePeriod() }
    }

    /// Cancels what is still running when the shutdown grace period is over.
    private func endGracePeriod() {
        let connections: [ConnectionReference] = state.withLock { state in
            state.forced = true
            return Array(state.connections.values)
        }
        for reference in connections {
            reference.eventLoop.execute { reference.connection.value.forceClose() }
        }
    }

    private func closeAbruptly() {
        let (channel, connections, accepted):
            ((any Channel)?, [ConnectionReference], AsyncStream<AcceptedStream>.Continuation?) = state.withLock {
                state in
                state.shuttingDown = true
                defer { state.accepted = nil }
                return (state.serverChannel, Array(state.connections.values), state.accepted)
            }
        channel?.close(promise: nil)
        for reference in connections {
            reference.eventLoop.execute { reference.connection.value.forceClose() }
        }
        accepted?.finish()
    }
}
