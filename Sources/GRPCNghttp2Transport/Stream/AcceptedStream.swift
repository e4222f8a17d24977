import CNghttp2
import GRPCCore
import Logging
import NIOCore

/// A new RPC handed from a connection to the transport's listen loop.
struct AcceptedStream: Sendable {
    var descriptor: MethodDescriptor
    var inbound: InboundMessages
    var writer: ResponseWriter
    var remotePeer: String
    var localPeer: String
    /// The connection's event loop as a task executor (the RPC task prefers it).
    var executor: EventLoopTaskExecutor
}
