import CNghttp2
import GRPCCore
import Logging
import NIOCore

/// The event-loop state of one stream.
final class ServerStream {
    enum Response { case idle, streaming, ended }

    let id: Int32
    var requestHeaders: [HeaderField] = []
    var headerBytes = 0
    /// The first request header field nghttp2 found invalid (its name).
    var invalidHeader: String?
    var requestStarted = false
    var clientHalfClosed = false
    var discardingInbound = false
    /// Request bytes not yet split into messages.
    var received = ByteBuffer()
    var inbound: InboundMessages?
    var writer: ResponseWriter?
    var response: Response = .idle
    /// Framed response messages nghttp2 has not taken yet.
    var outbound = ByteBuffer()
    var pendingTrailers: [HeaderField]?
    /// nghttp2 was told DEFERRED and waits for `resumeData`.
    var deferred = false
    /// END_STREAM went out: the response is complete.
    var responseEnded = false

    init(id: Int32) { self.id = id }
}
