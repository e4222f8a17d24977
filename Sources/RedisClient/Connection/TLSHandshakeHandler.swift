import NIOCore
import NIOSSL
import NIOTLS

/// Completes `handshake` when the TLS handshake in front of it completes, or fails it with the
/// reason (an untrusted certificate, a refused client certificate), so a connection setup
/// reports why TLS failed instead of a closed connection.
final class TLSHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let handshake: EventLoopPromise<Void>

    init(handshake: EventLoopPromise<Void>) { self.handshake = handshake }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { handshake.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake.fail(RedisError.tls("TLS with Redis failed (certificate or handshake): \(error)"))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(RedisError.tls("the Redis server closed the connection during the TLS handshake"))
        context.fireChannelInactive()
    }
}
