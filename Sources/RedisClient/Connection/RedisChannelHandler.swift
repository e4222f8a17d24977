import NIOCore
import NIOSSL

/// Commands bound for the wire: their RESP bytes, how many replies they produce, one promise
/// for all of those replies (in order), and how long to wait for them.
struct RedisOutbound: Sendable {
    var bytes: ByteBuffer
    var replyCount: Int
    var promise: EventLoopPromise<[RESPValue]>?
    var timeout: TimeAmount
}

/// Pipelines commands on one connection: writes their bytes, queues their promises, and feeds
/// inbound bytes to hiredis' reader, completing promises in order. A protocol error or a
/// connection that stops answering closes the channel, failing everything in flight.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisOutbound
    typealias OutboundOut = ByteBuffer

    /// One batch awaiting its replies (touched on the event loop only).
    private final class Pending {
        let promise: EventLoopPromise<[RESPValue]>
        let expected: Int
        var replies: [RESPValue] = []
        /// Answered or timed out.
        var done = false
        init(_ promise: EventLoopPromise<[RESPValue]>, expected: Int) {
            self.promise = promise
            self.expected = expected
            replies.reserveCapacity(expected)
        }
    }

    private var pending = CircularBuffer<Pending>(initialCapacity: 64)
    private let reader = RESPReader()
    private var lastReplyAt = NIODeadline.now()
    /// A flush is queued for the end of this event-loop tick: concurrent callers' commands
    /// leave in one write instead of one syscall each.
    private var flushScheduled = false
    /// Set on subscriber connections: every reply goes here instead of to a command.
    private let pushHandler: (@Sendable (RESPValue) -> Void)?

    init(pushHandler: (@Sendable (RESPValue) -> Void)? = nil) {
        self.pushHandler = pushHandler
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        let writtenAt = NIODeadline.now()
        context.write(wrapOutboundOut(request.bytes), promise: promise)
        guard let batchPromise = request.promise, request.replyCount > 0 else { return }
        let entry = Pending(batchPromise, expected: request.replyCount)
        pending.append(entry)
        let timeout = request.timeout
        let channel = context.channel
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard !entry.done else { return }
            entry.done = true
            entry.promise.fail(RedisError.timeout(milliseconds: Int(timeout.nanoseconds / 1_000_000)))
            // Nothing at all came back since these commands went out: the server is stuck or
            // gone, so drop the connection and let the pool reconnect.
            if lastReplyAt < writtenAt { channel.close(promise: nil) }
        }
        batchPromise.futureResult.whenComplete { _ in timer.cancel() }
    }

    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.assumeIsolated().execute { [self] in
            flushScheduled = false
            loopBound.value.flush()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { reader.feed($0) }
        do {
            while let reply = try reader.next() {
                lastReplyAt = .now()
                // A subscription connection's setup commands are answered before it subscribes.
                if let pushHandler, pending.isEmpty {
                    pushHandler(reply)
                    continue
                }
                guard let entry = pending.first else {
                    failAll(RedisError.protocolError("a reply arrived with no command waiting for it"))
                    context.close(promise: nil)
                    return
                }
                // A batch that already timed out still owns its places in the order.
                entry.replies.append(reply)
                if entry.replies.count == entry.expected {
                    pending.removeFirst()
                    if !entry.done {
                        entry.done = true
                        entry.promise.succeed(entry.replies)
                    }
                }
            }
        } catch {
            failAll(RedisError.protocolError(error.description))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A TLS failure (an untrusted certificate, a refused client certificate) says why;
        // anything else is the connection going away.
        if error is NIOSSLError || error is BoringSSLError {
            failAll(RedisError.tls("TLS with Redis failed (certificate or handshake): \(error)"))
        } else {
            failAll(RedisError.connectionClosed)
        }
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        while let entry = pending.popFirst() {
            guard !entry.done else { continue }
            entry.done = true
            entry.promise.fail(error)
        }
    }
}
