import NIOCore

/// Commands bound for the wire: their RESP bytes, one promise per command (replies arrive in
/// order), and how long to wait for them.
struct RedisOutbound: Sendable {
    var bytes: [UInt8]
    var promises: [EventLoopPromise<RESPValue>]
    var timeout: TimeAmount
}

/// Pipelines commands on one connection: writes their bytes, queues their promises, and feeds
/// inbound bytes to hiredis' reader, completing promises in order. A protocol error or a
/// connection that stops answering closes the channel, failing everything in flight.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisOutbound
    typealias OutboundOut = ByteBuffer

    private final class Pending {
        let promise: EventLoopPromise<RESPValue>
        /// Answered or timed out (touched on the event loop only).
        var done = false
        init(_ promise: EventLoopPromise<RESPValue>) { self.promise = promise }
    }

    private var pending = CircularBuffer<Pending>(initialCapacity: 64)
    private let reader = RESPReader()
    private var lastReplyAt = NIODeadline.now()
    /// Set on subscriber connections: every reply goes here instead of to a command.
    private let pushHandler: (@Sendable (RESPValue) -> Void)?

    init(pushHandler: (@Sendable (RESPValue) -> Void)? = nil) {
        self.pushHandler = pushHandler
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        let entries = request.promises.map(Pending.init)
        for entry in entries { pending.append(entry) }
        let writtenAt = NIODeadline.now()
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: request.bytes)), promise: promise)
        guard !entries.isEmpty else { return }
        let timeout = request.timeout
        let channel = context.channel
        context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            var timedOut = false
            for entry in entries where !entry.done {
                entry.done = true
                entry.promise.fail(RedisError.timeout(milliseconds: Int(timeout.nanoseconds / 1_000_000)))
                timedOut = true
            }
            // Nothing at all came back since these commands went out: the server is stuck or
            // gone, so drop the connection and let the pool reconnect.
            if timedOut, lastReplyAt < writtenAt { channel.close(promise: nil) }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { reader.feed($0) }
        do {
            while let reply = try reader.next() {
                lastReplyAt = .now()
                if let pushHandler {
                    pushHandler(reply)
                    continue
                }
                guard let entry = pending.popFirst() else {
                    failAll(RedisError.protocolError("a reply arrived with no command waiting for it"))
                    context.close(promise: nil)
                    return
                }
                // A command that already timed out still owns its place in the order.
                if !entry.done {
                    entry.done = true
                    entry.promise.succeed(reply)
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
        failAll(RedisError.connectionClosed)
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
