import CNghttp2
import GRPCCore
import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// One accepted HTTP/2 connection: a SwiftNIO channel handler that feeds the socket's bytes to
/// its `nghttp2_session` and writes out what the session produces. Everything here runs on the
/// channel's event loop. nghttp2's callbacks only record events; they are acted on after
/// `mem_recv`/`mem_send` return, when calling into the session is allowed again.
final class HTTP2ServerConnection: ChannelInboundHandler, Nghttp2SessionDelegate {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Event {
        case request(Int32, endStream: Bool)
        case requestTrailers(Int32)
        case data(Int32, count: Int)
        case endOfData(Int32)
        case closed(Int32, errorCode: UInt32)
        case sentEndStream(Int32)
        case pingAck
    }

    private let configuration: Nghttp2ServerTransportConfiguration
    private let accept: @Sendable (AcceptedStream) -> Void
    /// Told this connection's identity once it is closed.
    private let onClose: @Sendable (ObjectIdentifier) -> Void
    private let logger: Logger
    private var session: Nghttp2Session!
    private var context: ChannelHandlerContext?
    private var streams: [Int32: ServerStream] = [:]
    private var events: [Event] = []
    private var flushScheduled = false
    /// Serving, draining or closed, and the keepalive PING (see `ConnectionLifecycle`).
    private var lifecycle = ConnectionLifecycle()
    private var remotePeer = "unknown"
    private var localPeer = "unknown"
    /// The verified client certificate's identity, once the TLS handshake has completed.
    private var clientIdentity: String?

    // Lifecycle: graceful GOAWAY (shutdown notice, PING, final GOAWAY), keepalive, idle and age.
    private var keepaliveTask: Scheduled<Void>?
    private var keepaliveTimeoutTask: Scheduled<Void>?
    private var idleTask: Scheduled<Void>?
    private var ageTask: Scheduled<Void>?
    private var forceCloseTask: Scheduled<Void>?

    init(
        configuration: Nghttp2ServerTransportConfiguration,
        logger: Logger,
        accept: @escaping @Sendable (AcceptedStream) -> Void,
        onClose: @escaping @Sendable (ObjectIdentifier) -> Void
    ) {
        self.configuration = configuration
        self.logger = logger
        self.accept = accept
        self.onClose = onClose
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        remotePeer = Self.describe(context.channel.remoteAddress)
        localPeer = Self.describe(context.channel.localAddress)
        do {
            session = try Nghttp2Session(
                delegate: self,
                settings: Nghttp2SessionSettings(
                    maxConcurrentStreams: configuration.maxConcurrentStreams,
                    initialStreamWindowSize: configuration.initialStreamWindowSize,
                    connectionWindowSize: configuration.connectionWindowSize,
                    maxFrameSize: configuration.maxFrameSize,
                    maxHeaderListSize: configuration.maxHeaderListSize,
                    streamResetBurst: configuration.streamResetBurst,
                    streamResetRatePerSecond: configuration.streamResetRatePerSecond,
                    maxContinuations: configuration.maxContinuations))
        } catch {
            logger.error("could not create an HTTP/2 session", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        scheduleTimers(context: context)
        scheduleFlush()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tearDown(reason: "the connection closed")
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        tearDown(reason: "the connection closed")
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !lifecycle.isClosed else { return }
        let buffer = unwrapInboundIn(data)
        do {
            try buffer.withUnsafeReadableBytes { bytes throws(Nghttp2Error) in try session.receive(bytes) }
        } catch {
            // A bad preface, a flood, or similar: nghttp2 queued a GOAWAY if it could.
            logger.debug(
                "closing an HTTP/2 connection after a protocol error",
                metadata: ["error": "\(error)", "peer": "\(remotePeer)"])
            processEvents()
            flush()
            context.close(promise: nil)
            return
        }
        processEvents()
        scheduleFlush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { flush() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event,
            let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        {
            // Verified by the handshake when the listener asks for client certificates.
            clientIdentity = tls.peerCertificate?.clientIdentity
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("HTTP/2 connection error", metadata: ["error": "\(error)", "peer": "\(remotePeer)"])
        context.close(promise: nil)
    }

    // MARK: Output

    private func scheduleFlush() {
        guard !flushScheduled, !lifecycle.isClosed, let context else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute { self.flush() }
    }

    /// Writes out everything the session has queued (while the socket accepts it), then acts on
    /// what sending caused (streams ended, closed) and repeats until there is nothing more.
    private func flush() {
        flushScheduled = false
        guard !lifecycle.isClosed, let context else { return }
        var wrote = false
        repeat {
            var buffer = context.channel.allocator.buffer(capacity: 0)
            do {
                try session.send { chunk in
                    buffer.writeBytes(chunk)
                    if buffer.readableBytes >= 1 << 16 {
                        context.write(wrapOutboundOut(buffer), promise: nil)
                        wrote = true
                        buffer = context.channel.allocator.buffer(capacity: 0)
                        return context.channel.isWritable
                    }
                    return true
                }
            } catch {
                logger.debug("HTTP/2 send failed", metadata: ["error": "\(error)"])
                context.close(promise: nil)
                return
            }
            if buffer.readableBytes > 0 {
                context.write(wrapOutboundOut(buffer), promise: nil)
                wrote = true
            }
            processEvents()
        } while session.wantsWrite && context.channel.isWritable && !lifecycle.isClosed
        if wrote { context.flush() }
        if session.isFinished || (lifecycle.goAwaySent && streams.isEmpty && !session.wantsWrite) {
            context.close(promise: nil)
        }
    }

    // MARK: nghttp2 callbacks (record only)

    func sessionDidBeginRequest(streamID: Int32) {
        streams[streamID] = ServerStream(id: streamID)
    }

    func sessionDidReceiveHeader(streamID: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        guard let stream = streams[streamID] else { return true }
        stream.headerBytes += name.count + value.count + 32
        // Past the limit nothing more is kept; the request is refused once its headers end.
        // Request trailers carry nothing gRPC uses.
        if stream.headerBytes > configuration.maxHeaderListSize || stream.requestStarted { return true }
        stream.requestHeaders.append(
            HeaderField(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        return true
    }

    func sessionDidReceiveInvalidHeader(streamID: Int32, name: UnsafeRawBufferPointer) {
        guard let stream = streams[streamID], !stream.requestStarted, stream.invalidHeader == nil else { return }
        stream.invalidHeader = String(decoding: name.prefix(64), as: UTF8.self)
    }

    func sessionDidReceiveHeaders(streamID: Int32, isTrailers: Bool, endStream: Bool) {
        events.append(isTrailers ? .requestTrailers(streamID) : .request(streamID, endStream: endStream))
    }

    func sessionDidReceiveData(streamID: Int32, bytes: UnsafeRawBufferPointer) {
        if let stream = streams[streamID], !stream.discardingInbound {
            stream.received.writeBytes(bytes)
        }
        events.append(.data(streamID, count: bytes.count))
    }

    func sessionDidReceiveEndOfData(streamID: Int32) {
        events.append(.endOfData(streamID))
    }

    func sessionDidCloseStream(streamID: Int32, errorCode: UInt32) {
        events.append(.closed(streamID, errorCode: errorCode))
    }

    func sessionDidReceivePingAck() {
        events.append(.pingAck)
    }

    func sessionDidReceiveGoAway(errorCode: UInt32) {}

    func sessionDidSendEndStream(streamID: Int32) {
        events.append(.sentEndStream(streamID))
    }

    func sessionReadResponseBody(streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> ResponseBodyRead {
        guard let stream = streams[streamID] else { return .fail }
        let count = min(stream.outbound.readableBytes, buffer.count)
        if count > 0 {
            stream.outbound.withUnsafeReadableBytes { readable in
                buffer.baseAddress!.copyMemory(from: readable.baseAddress!, byteCount: count)
            }
            stream.outbound.moveReaderIndex(forwardBy: count)
            if stream.outbound.readableBytes == 0 { stream.outbound.clear() }
            stream.writer?.didSend(count)
        }
        if stream.outbound.readableBytes == 0, let trailers = stream.pendingTrailers {
            stream.pendingTrailers = nil
            return .end(count, trailers: trailers)
        }
        if count == 0 {
            stream.deferred = true
            return .deferred
        }
        return .bytes(count)
    }

    // MARK: Acting on events

    private func processEvents() {
        while !events.isEmpty {
            let batch = events
            events.removeAll(keepingCapacity: true)
            for event in batch { handle(event) }
        }
    }

    private func handle(_ event: Event) {
        switch event {
        case .request(let id, let endStream):
            guard let stream = streams[id] else { return }
            startRequest(stream, endStream: endStream)
        case .requestTrailers(let id):
            endOfRequest(id)
        case .data(let id, let count):
            session.consumeConnection(count)
            guard let stream = streams[id] else { return }
            if stream.discardingInbound {
                session.consumeStream(id, count)
                return
            }
            deframe(stream)
            if stream.discardingInbound || stream.inbound?.admitWindow(count) ?? true {
                session.consumeStream(id, count)
            }
        case .endOfData(let id):
            endOfRequest(id)
        case .sentEndStream(let id):
            guard let stream = streams[id] else { return }
            stream.responseEnded = true
            // gRPC: a server that ends its response before the client half-closed resets the
            // stream with NO_ERROR so the client stops sending.
            if !stream.clientHalfClosed { session.resetStream(id, errorCode: UInt32(NGHTTP2_NO_ERROR.rawValue)) }
        case .closed(let id, let errorCode):
            guard let stream = streams.removeValue(forKey: id) else { return }
            if !stream.responseEnded {
                let error = RPCError(
                    code: .cancelled, message: "the client reset the stream (HTTP/2 error code \(errorCode))")
                stream.inbound?.fail(error)
                stream.writer?.close(with: error)
            } else {
                stream.inbound?.finish()
            }
            if streams.isEmpty { streamsBecameEmpty() }
        case .pingAck:
            keepaliveTimeoutTask?.cancel()
            keepaliveTimeoutTask = nil
            if lifecycle.pingAcknowledged() == .sendFinalGoAway { submitFinalGoAway() }
        }
    }

    private func startRequest(_ stream: ServerStream, endStream: Bool) {
        stream.requestStarted = true
        stream.clientHalfClosed = endStream
        idleTask?.cancel()
        idleTask = nil
        let headers = stream.requestHeaders
        stream.requestHeaders = []
        if stream.headerBytes > configuration.maxHeaderListSize {
            return refuse(
                stream, http: 200, .resourceExhausted,
                "request metadata of \(stream.headerBytes) bytes (names + values + 32 per field) exceeds the server's limit of \(configuration.maxHeaderListSize) bytes"
            )
        }
        if let name = stream.invalidHeader {
            let reason = "its value has leading or trailing whitespace or a character HTTP/2 forbids (RFC 9113 §8.2.1)"
            return name == "authorization"
                ? refuse(
                    stream, http: 200, .unauthenticated,
                    "malformed credentials: the authorization header is not valid: \(reason)")
                : refuse(stream, http: 200, .invalidArgument, "request header '\(name)' is not valid: \(reason)")
        }

        var method = "", path = "", contentType = "", te = "", encoding = ""
        var metadata = Metadata()
        metadata.reserveCapacity(headers.count)
        for field in headers {
            switch field.name {
            case ":method": method = field.value
            case ":path": path = field.value
            case "content-type": contentType = field.value
            case "te": te = field.value
            case "grpc-encoding": encoding = field.value
            case "grpc-timeout":
                // GRPCCore would ignore a malformed one (no deadline at all); refuse it as the
                // gRPC spec and grpc-go do.
                guard GRPCHeaders.isValidTimeout(field.value) else {
                    return refuse(
                        stream, http: 200, .invalidArgument,
                        "malformed grpc-timeout '\(field.value.prefix(32))': expected 1 to 8 digits and a unit (H, M, S, m, u, n)"
                    )
                }
                metadata.addString(field.value, forKey: "grpc-timeout")
            default:
                if GRPCHeaders.isTransportHeader(field.name) { continue }
                // Only the transport says who the client certificate names.
                if field.name == configuration.tls?.clientIdentityMetadataKey { continue }
                if !GRPCHeaders.add(name: field.name, value: field.value, to: &metadata) {
                    return refuse(stream, http: 400, .internalError, "metadata \(field.name) is not valid base64")
                }
            }
        }
        if let key = configuration.tls?.clientIdentityMetadataKey, let clientIdentity {
            metadata.addString(clientIdentity, forKey: key)
        }
        guard method == "POST" else {
            return refuse(stream, http: 405, .internalError, "gRPC requires POST, not \(method)")
        }
        guard
            contentType == "application/grpc" || contentType.hasPrefix("application/grpc+proto")
                || contentType.hasPrefix("application/grpc;")
        else {
            return refuse(
                stream, http: 415, .internalError,
                "unsupported content-type '\(contentType)': expected application/grpc or application/grpc+proto")
        }
        guard te == "trailers" else {
            return refuse(stream, http: 400, .internalError, "the te: trailers header is missing")
        }
        guard encoding.isEmpty || encoding == "identity" else {
            return refuse(
                stream, http: 200, .unimplemented, "message encoding '\(encoding)' is not supported (identity only)",
                extra: [HeaderField("grpc-accept-encoding", "identity")])
        }
        guard let descriptor = Self.methodDescriptor(path: path) else {
            return refuse(stream, http: 200, .unimplemented, "malformed method path '\(path)'")
        }

        let loop = context!.eventLoop
        let id = stream.id
        // Both closures run on the event loop; the loop-bound reference checks that. The cycle
        // (connection → stream → closure → connection) ends when the stream is removed.
        let connection = NIOLoopBound(self, eventLoop: loop)
        let inbound = InboundMessages(highWatermark: configuration.streamBufferSize, eventLoop: loop) { held in
            connection.value.releaseWindow(streamID: id, count: held)
        }
        let pending = pendingDrains
        let writer = ResponseWriter(
            highWatermark: configuration.streamBufferSize, maxMessageSize: configuration.maxSendMessageSize
        ) {
            // One event-loop hop for every stream of this connection that wrote meanwhile.
            if pending.add(id) { loop.execute { connection.value.drainPendingWriters() } }
        }
        stream.inbound = inbound
        stream.writer = writer
        inbound.append(.metadata(metadata))
        if endStream { inbound.finish() }
        accept(
            AcceptedStream(
                descriptor: descriptor, inbound: inbound, writer: writer, remotePeer: remotePeer, localPeer: localPeer,
                executor: executor))
    }

    /// Answers a request that is not a valid gRPC call without involving GRPCCore.
    private func refuse(
        _ stream: ServerStream, http: Int, _ code: Status.Code, _ message: String, extra: [HeaderField] = []
    ) {
        stream.discardingInbound = true
        stream.received.clear()
        session.submitResponse(
            streamID: stream.id, headers: GRPCHeaders.refusal(httpStatus: http, code: code, message: message) + extra,
            hasBody: false)
    }

    private func endOfRequest(_ id: Int32) {
        guard let stream = streams[id] else { return }
        stream.clientHalfClosed = true
        guard !stream.discardingInbound else { return }
        if stream.received.readableBytes > 0 {
            failRequest(
                stream,
                RPCError(
                    code: .internalError,
                    message: "the request ended inside a message (\(stream.received.readableBytes) bytes left over)",
                    cause: MalformedRequest()))
        } else {
            stream.inbound?.finish()
        }
    }

    /// Splits the received bytes into length-prefixed gRPC messages.
    private func deframe(_ stream: ServerStream) {
        while stream.received.readableBytes >= 5 {
            let flag = stream.received.getInteger(at: stream.received.readerIndex, as: UInt8.self)!
            let length = Int(stream.received.getInteger(at: stream.received.readerIndex + 1, as: UInt32.self)!)
            if flag & 1 != 0 {
                return failRequest(
                    stream,
                    RPCError(
                        code: .internalError,
                        message: "a compressed message arrived but no grpc-encoding was negotiated",
                        cause: MalformedRequest()))
            }
            if length > configuration.maxReceiveMessageSize {
                return failRequest(
                    stream,
                    RPCError(
                        code: .resourceExhausted,
                        message:
                            "request message of \(length) bytes exceeds the limit of \(configuration.maxReceiveMessageSize) bytes"
                    ))
            }
            guard stream.received.readableBytes >= 5 + length else { break }
            stream.received.moveReaderIndex(forwardBy: 5)
            let message = stream.received.readBytes(length: length)!
            stream.inbound?.append(.message(message))
        }
        if stream.received.readableBytes == 0 {
            stream.received.clear()
        } else if stream.received.readerIndex > 1 << 16 {
            stream.received.discardReadBytes()
        }
    }

    /// The request cannot go on: the handler sees `error` when it reads, the rest of the
    /// request body is dropped, and GRPCCore answers with the error's status.
    private func failRequest(_ stream: ServerStream, _ error: RPCError) {
        stream.discardingInbound = true
        stream.received.clear()
        stream.inbound?.fail(error)
    }

    private func releaseWindow(streamID: Int32, count: Int) {
        guard !lifecycle.isClosed, streams[streamID] != nil else { return }
        session.consumeStream(streamID, count)
        scheduleFlush()
    }

    /// Takes what the RPC's task wrote and hands it to nghttp2.
    /// Streams whose writers queued parts since the last hop (written from the RPCs' tasks).
    private let pendingDrains = PendingDrains()
    /// This connection's event loop as the task executor its RPCs prefer.
    private lazy var executor = EventLoopTaskExecutor(context!.eventLoop)

    private func drainPendingWriters() {
        for id in pendingDrains.take() { drainWriter(streamID: id) }
    }

    private func drainWriter(streamID: Int32) {
        guard !lifecycle.isClosed, let stream = streams[streamID], let writer = stream.writer else { return }
        let (parts, completion) = writer.takeParts()
        var wake = false
        for part in parts {
            switch part {
            case .metadata(let metadata):
                guard stream.response == .idle else { continue }
                stream.response = .streaming
                session.submitResponse(streamID: streamID, headers: GRPCHeaders.responseHead(metadata), hasBody: true)
            case .message(let bytes):
                if stream.response == .idle {
                    stream.response = .streaming
                    session.submitResponse(streamID: streamID, headers: GRPCHeaders.responseHead([:]), hasBody: true)
                }
                guard stream.response == .streaming else { continue }
                stream.outbound.writeInteger(UInt8(0))
                stream.outbound.writeInteger(UInt32(bytes.count))
                stream.outbound.writeBytes(bytes)
                wake = true
            case .status(let status, let metadata):
                switch stream.response {
                case .idle:
                    stream.response = .ended
                    session.submitResponse(
                        streamID: streamID,
                        headers: GRPCHeaders.trailers(status: status, metadata: metadata, trailersOnly: true),
                        hasBody: false)
                case .streaming:
                    stream.response = .ended
                    stream.pendingTrailers = GRPCHeaders.trailers(
                        status: status, metadata: metadata, trailersOnly: false)
                    wake = true
                case .ended:
                    continue
                }
            }
        }
        switch completion {
        case .failed where stream.response != .ended, .finished where stream.response != .ended:
            // The handler ended without a status (GRPCCore always writes one; be safe anyway).
            stream.response = .ended
            session.resetStream(streamID, errorCode: UInt32(NGHTTP2_INTERNAL_ERROR.rawValue))
        default:
            break
        }
        if wake, stream.deferred {
            stream.deferred = false
            session.resumeData(streamID: streamID)
        }
        scheduleFlush()
    }

    // MARK: Lifecycle

    private func scheduleTimers(context: ChannelHandlerContext) {
        let loop = context.eventLoop
        if configuration.idleTimeout > .zero {
            idleTask = loop.assumeIsolated().scheduleTask(in: .init(configuration.idleTimeout)) { [weak self] in
                self?.idleTimeoutFired()
            }
        }
        if configuration.keepaliveInterval > .zero {
            keepaliveTask = loop.assumeIsolated().scheduleTask(in: .init(configuration.keepaliveInterval)) {
                [weak self] in self?.keepaliveFired()
            }
        }
        if let age = configuration.maxConnectionAge {
            let jitter =
                1 + Double.random(in: -configuration.maxConnectionAgeJitter...configuration.maxConnectionAgeJitter)
            ageTask = loop.assumeIsolated().scheduleTask(in: .init(age * jitter)) { [weak self] in
                guard let self else { return }
                self.beginGracefulShutdown(
                    grace: self.configuration.maxConnectionAgeGrace, reason: "max connection age")
            }
        }
    }

    private func streamsBecameEmpty() {
        if lifecycle.goAwaySent {
            scheduleFlush()  // flush() closes once the GOAWAY is out and no stream is left
            return
        }
        guard configuration.idleTimeout > .zero, let context, idleTask == nil else { return }
        idleTask = context.eventLoop.assumeIsolated().scheduleTask(in: .init(configuration.idleTimeout)) {
            [weak self] in self?.idleTimeoutFired()
        }
    }

    private func idleTimeoutFired() {
        idleTask = nil
        guard streams.isEmpty else { return }
        beginGracefulShutdown(grace: .seconds(1), reason: "idle")
    }

    private func keepaliveFired() {
        guard !lifecycle.isClosed, let context else { return }
        if lifecycle.keepaliveIntervalPassed() == .sendPing {
            session.ping()
            scheduleFlush()
            keepaliveTimeoutTask = context.eventLoop.assumeIsolated().scheduleTask(
                in: .init(configuration.keepaliveTimeout)
            ) { [weak self] in
                guard let self, self.lifecycle.keepaliveTimedOut() else { return }
                self.logger.debug(
                    "closing an HTTP/2 connection whose peer did not answer a PING",
                    metadata: ["peer": "\(self.remotePeer)"])
                self.forceClose()
            }
        }
        keepaliveTask = context.eventLoop.assumeIsolated().scheduleTask(in: .init(configuration.keepaliveInterval)) {
            [weak self] in self?.keepaliveFired()
        }
    }

    /// GOAWAY in two steps (RFC 9113 §6.8): a notice with the maximum stream id, a PING, and
    /// when its ACK arrives, the final GOAWAY naming the last stream processed. Streams already
    /// open finish; after `grace` the rest are cancelled (nil: whoever asked ends the grace
    /// period with `forceClose()`).
    func beginGracefulShutdown(grace: Duration?, reason: String) {
        guard let context, lifecycle.beginGracefulShutdown() == .sendNoticeAndPing else { return }
        logger.debug(
            "draining an HTTP/2 connection",
            metadata: ["reason": "\(reason)", "peer": "\(remotePeer)", "streams": "\(streams.count)"])
        session.submitShutdownNotice()
        session.ping()
        scheduleFlush()
        // If the PING is never answered, send the final GOAWAY anyway.
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [weak self] in
            guard let self, self.lifecycle.drainPingTimedOut() == .sendFinalGoAway else { return }
            self.submitFinalGoAway()
        }
        if let grace {
            forceCloseTask = context.eventLoop.assumeIsolated().scheduleTask(in: .init(grace)) { [weak self] in
                self?.forceClose()
            }
        }
    }

    private func submitFinalGoAway() {
        session.submitGoAway(errorCode: UInt32(NGHTTP2_NO_ERROR.rawValue), message: "server shutting down")
        scheduleFlush()
    }

    /// Cancels every stream and closes the connection now.
    func forceClose() {
        guard let context, case .resetAndClose(let withGoAway) = lifecycle.forceClose() else { return }
        for id in streams.keys { session.resetStream(id, errorCode: UInt32(NGHTTP2_CANCEL.rawValue)) }
        if withGoAway {
            session.submitGoAway(errorCode: UInt32(NGHTTP2_NO_ERROR.rawValue), message: "server closing")
        }
        flush()
        context.close(promise: nil)
    }

    private func tearDown(reason: String) {
        guard lifecycle.closed() else { return }
        for task in [keepaliveTask, keepaliveTimeoutTask, idleTask, ageTask, forceCloseTask] { task?.cancel() }
        let error = RPCError(code: .unavailable, message: reason)
        for stream in streams.values where !stream.responseEnded {
            stream.inbound?.fail(error)
            stream.writer?.close(with: error)
        }
        streams.removeAll()
        session?.close()
        onClose(ObjectIdentifier(self))
    }

    // MARK: Helpers

    static func methodDescriptor(path: String) -> MethodDescriptor? {
        guard path.utf8.first == UInt8(ascii: "/") else { return nil }
        let trimmed = path.dropFirst()
        guard let slash = trimmed.firstIndex(of: "/") else { return nil }
        let service = trimmed[..<slash]
        let method = trimmed[trimmed.index(after: slash)...]
        guard !service.isEmpty, !method.isEmpty, !method.contains("/") else { return nil }
        return MethodDescriptor(
            service: ServiceDescriptor(fullyQualifiedService: String(service)), method: String(method))
    }

    static func describe(_ address: SocketAddress?) -> String {
        switch address {
        case .v4(let v4)?: return "ipv4:\(v4.host):\(address?.port ?? 0)"
        case .v6(let v6)?: return "ipv6:[\(v6.host)]:\(address?.port ?? 0)"
        case .unixDomainSocket?: return "unix:\(address?.pathname ?? "")"
        case nil: return "unknown"
        }
    }
}
