import GRPCCore
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import GRPCNghttp2Transport

/// The connection handler on an `EmbeddedChannel`, as swift-nio tests its own handlers: an
/// HTTP/2 client's bytes written by hand (frames, HPACK literals), the server's frames read
/// back, and time moved by hand for the idle and keepalive timers.
@Suite struct HTTP2ServerConnectionTests {
    /// One HTTP/2 frame (RFC 9113 §4.1).
    struct Frame: Equatable {
        var type: UInt8
        var flags: UInt8 = 0
        var stream: UInt32 = 0
        var payload: [UInt8] = []

        static let data: UInt8 = 0, headers: UInt8 = 1, rstStream: UInt8 = 3, settings: UInt8 = 4, ping: UInt8 = 6
        static let goAway: UInt8 = 7
        static let ack: UInt8 = 1, endStream: UInt8 = 1, endHeaders: UInt8 = 4

        var bytes: [UInt8] {
            let length = payload.count
            return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags]
                + withUnsafeBytes(of: (stream & 0x7FFF_FFFF).bigEndian, Array.init) + payload
        }

        /// The frames in `bytes` (all of them complete).
        static func parse(_ bytes: [UInt8]) -> [Frame] {
            var frames: [Frame] = []
            var index = 0
            while index + 9 <= bytes.count {
                let length = Int(bytes[index]) << 16 | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
                let stream = bytes[(index + 5)..<(index + 9)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
                frames.append(
                    Frame(
                        type: bytes[index + 3], flags: bytes[index + 4], stream: stream,
                        payload: Array(bytes[(index + 9)..<(index + 9 + length)])))
                index += 9 + length
            }
            return frames
        }
    }

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// A header block of HPACK literals without indexing (RFC 7541 §6.2.2), names and values
    /// shorter than 127 bytes.
    static func headerBlock(_ headers: [(String, String)]) -> [UInt8] {
        var block: [UInt8] = []
        for (name, value) in headers {
            block.append(0)
            block.append(UInt8(name.utf8.count))
            block += Array(name.utf8)
            block.append(UInt8(value.utf8.count))
            block += Array(value.utf8)
        }
        return block
    }

    static let unaryCall: [(String, String)] = [
        (":method", "POST"), (":scheme", "http"), (":path", "/grpc.testing.TestService/UnaryCall"),
        (":authority", "localhost"), ("content-type", "application/grpc"), ("te", "trailers"),
    ]

    final class Accepted: Sendable {
        let streams = Mutex<[AcceptedStream]>([])
        let closed = Mutex(false)
    }

    func connection(
        _ configure: (inout Nghttp2ServerTransportConfiguration) -> Void = { _ in }
    ) throws -> (EmbeddedChannel, Accepted) {
        var configuration = Nghttp2ServerTransportConfiguration(host: "127.0.0.1", port: 0)
        configuration.maxConnectionAge = nil
        configure(&configuration)
        let accepted = Accepted()
        let handler = HTTP2ServerConnection(
            configuration: configuration, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            accept: { stream in accepted.streams.withLock { $0.append(stream) } },
            onClose: { _ in accepted.closed.withLock { $0 = true } })
        let channel = EmbeddedChannel()
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 50051)).wait()
        try channel.pipeline.syncOperations.addHandler(handler)
        channel.embeddedEventLoop.run()
        return (channel, accepted)
    }

    func send(_ channel: EmbeddedChannel, _ bytes: [UInt8]) throws {
        try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        channel.embeddedEventLoop.run()
    }

    func received(_ channel: EmbeddedChannel) throws -> [Frame] {
        var bytes: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += Array(buffer.readableBytesView) }
        return Frame.parse(bytes)
    }

    /// The client's connection preface and an empty SETTINGS frame.
    func handshake(_ channel: EmbeddedChannel) throws {
        try send(channel, Self.preface + Frame(type: Frame.settings).bytes)
    }

    @Test func theServerSendsItsSettingsAndAcknowledgesTheClients() throws {
        let (channel, _) = try connection()
        try handshake(channel)
        let frames = try received(channel)
        #expect(frames.first?.type == Frame.settings && frames.first?.flags == 0, "the server's preface comes first")
        #expect(frames.contains { $0.type == Frame.settings && $0.flags == Frame.ack })
        _ = try? channel.finish()
    }

    @Test func aRequestOnTheWireBecomesAnAcceptedStreamWithItsMethod() throws {
        let (channel, accepted) = try connection()
        try handshake(channel)
        let message: [UInt8] = [0, 0, 0, 0, 2, 0x0A, 0]  // uncompressed, 2 bytes of protobuf
        try send(
            channel,
            Frame(
                type: Frame.headers, flags: Frame.endHeaders, stream: 1, payload: Self.headerBlock(Self.unaryCall)
            ).bytes + Frame(type: Frame.data, flags: Frame.endStream, stream: 1, payload: message).bytes)
        let streams = accepted.streams.withLock { $0 }
        #expect(streams.count == 1)
        #expect(
            streams.first?.descriptor
                == MethodDescriptor(fullyQualifiedService: "grpc.testing.TestService", method: "UnaryCall"))
        _ = try? channel.finish()
    }

    @Test func aPingIsAcknowledgedWithItsPayload() throws {
        let (channel, _) = try connection()
        try handshake(channel)
        _ = try received(channel)
        let payload: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        try send(channel, Frame(type: Frame.ping, payload: payload).bytes)
        #expect(try received(channel).contains(Frame(type: Frame.ping, flags: Frame.ack, payload: payload)))
        _ = try? channel.finish()
    }

    @Test func aClientThatIsNotSpeakingHTTP2IsDisconnected() throws {
        let (channel, accepted) = try connection()
        try send(channel, Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(!channel.isActive)
        #expect(accepted.streams.withLock { $0.isEmpty })
    }

    @Test func anIdleConnectionIsDrainedWithTwoGoAwaysAndClosed() throws {
        let (channel, accepted) = try connection { $0.idleTimeout = .seconds(10) }
        try handshake(channel)
        _ = try received(channel)
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(try received(channel).isEmpty, "not idle for long enough yet")
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        let notice = try received(channel)
        let goAways = notice.filter { $0.type == Frame.goAway }
        #expect(goAways.count == 1, "the shutdown notice")
        // Its last stream id is the maximum (2^31 − 1): streams in flight may still arrive.
        #expect(goAways.first.map { Array($0.payload.prefix(4)) } == [0x7F, 0xFF, 0xFF, 0xFF])
        let ping = try #require(notice.first { $0.type == Frame.ping && $0.flags == 0 })
        try send(channel, Frame(type: Frame.ping, flags: Frame.ack, payload: ping.payload).bytes)
        let final = try received(channel).filter { $0.type == Frame.goAway }
        #expect(final.count == 1 && final.first.map { Array($0.payload.prefix(4)) } == [0, 0, 0, 0])
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive, "closed once the final GOAWAY is out and no stream is open")
        #expect(accepted.closed.withLock { $0 })
    }

    @Test func aPeerThatDoesNotAnswerTheKeepalivePingIsDisconnected() throws {
        let (channel, _) = try connection {
            $0.keepaliveInterval = .seconds(30); $0.keepaliveTimeout = .seconds(5); $0.idleTimeout = .zero
        }
        try handshake(channel)
        _ = try received(channel)
        channel.embeddedEventLoop.advanceTime(by: .seconds(30))
        let ping = try #require(try received(channel).first { $0.type == Frame.ping && $0.flags == 0 })
        // Answered: the connection stays.
        try send(channel, Frame(type: Frame.ping, flags: Frame.ack, payload: ping.payload).bytes)
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(channel.isActive)
        // The next one is not answered.
        channel.embeddedEventLoop.advanceTime(by: .seconds(25))
        #expect(try received(channel).contains { $0.type == Frame.ping && $0.flags == 0 })
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(!channel.isActive)
    }
}
