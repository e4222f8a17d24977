import CFuzzDriver
import GRPCCore
@testable import GRPCNghttp2Transport
import Logging
import NIOCore
import NIOEmbedded

/// A client's bytes after the HTTP/2 preface into the transport's connection handler on an
/// `EmbeddedChannel`: nghttp2's frame parsing, our header validation, gRPC message framing
/// and metadata decoding (`-bin` base64, `grpc-timeout`), with the accepted streams read.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP2(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let data else { return 0 }
    var configuration = Nghttp2ServerTransportConfiguration(host: "127.0.0.1", port: 0)
    configuration.maxReceiveMessageSize = 1 << 16
    let handler = HTTP2ServerConnection(
        configuration: configuration, logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }),
        accept: { _ in }, onClose: { _ in })
    let channel = EmbeddedChannel()
    do {
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 50051)).wait()
        try channel.pipeline.syncOperations.addHandler(handler)
        var buffer = channel.allocator.buffer(capacity: 24 + count)
        buffer.writeString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        buffer.writeBytes(UnsafeRawBufferPointer(start: data, count: count))
        try channel.writeInbound(buffer)
        channel.embeddedEventLoop.run()
        while (try? channel.readOutbound(as: ByteBuffer.self)) != nil {}
    } catch {}
    _ = try? channel.finish()
    return 0
}

/// The entry point SwiftPM's link aliases `main` to: libFuzzer's driver on the target above.
@_cdecl("FuzzHTTP2_main")
public func fuzzHTTP2Main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    cfuzz_main(argc, argv) { data, count in fuzzHTTP2(data, count) }
}
