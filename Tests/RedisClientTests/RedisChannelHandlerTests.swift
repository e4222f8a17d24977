import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@testable import RedisClient

/// The pipelining handler on an `EmbeddedChannel`: bytes in, promises out, time moved by hand.
@Suite struct RedisChannelHandlerTests {
    private func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: RedisChannelHandler())
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 6379)).wait()
        return channel
    }

    /// Writes `commands` as one batch; its promise gets their replies.
    private func send(
        _ channel: EmbeddedChannel, _ commands: [[String]], timeout: TimeAmount = .seconds(1)
    ) throws -> EventLoopFuture<[RESPValue]> {
        var bytes = channel.allocator.buffer(capacity: 64)
        for command in commands { RESPCommandEncoder.encode(command.map { Array($0.utf8) }, into: &bytes) }
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        channel.write(RedisOutbound(bytes: bytes, replyCount: commands.count, promise: promise, timeout: timeout))
            .whenFailure { promise.fail($0) }
        channel.flush()
        channel.embeddedEventLoop.run()
        return promise.futureResult
    }

    private func outbound(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    private func receive(_ channel: EmbeddedChannel, _ text: String) throws {
        try channel.writeInbound(channel.allocator.buffer(string: text))
    }

    @Test func pipelinedBatchesGetTheirRepliesInOrderEvenWhenBytesArriveInPieces() throws {
        let channel = try channel()
        let first = try send(channel, [["SET", "a", "1"], ["INCR", "n"]])
        let second = try send(channel, [["GET", "a"]])
        #expect(
            try outbound(channel)
                == "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
        )
        let completed = NIOLockedValueBox(false)
        first.whenComplete { _ in completed.withLockedValue { $0 = true } }
        try receive(channel, "+OK\r\n:4")
        #expect(!completed.withLockedValue { $0 }, "a reply cut short completes nothing")
        try receive(channel, "2\r\n$1\r\n1\r\n")
        #expect(try first.wait() == [.simpleString("OK"), .integer(42)])
        #expect(try second.wait() == [.bulkString(Array("1".utf8))])
        _ = try channel.finish(acceptAlreadyClosed: true)
    }

    @Test func writesInOneTickLeaveInOneFlush() throws {
        let channel = try channel()
        for key in ["a", "b", "c"] {
            var bytes = channel.allocator.buffer(capacity: 32)
            RESPCommandEncoder.encode([Array("GET".utf8), Array(key.utf8)], into: &bytes)
            let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
            channel.write(
                RedisOutbound(bytes: bytes, replyCount: 1, promise: promise, timeout: .seconds(1)), promise: nil)
            channel.flush()
        }
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "nothing leaves before the tick ends")
        channel.embeddedEventLoop.run()
        let sent = try outbound(channel)
        #expect(sent.split(separator: "*2\r\n$3\r\nGET").count == 3, "three commands in one write: \(sent)")
        _ = try channel.finish(acceptAlreadyClosed: true)
    }

    @Test func aServerThatStopsAnsweringTimesOutTheBatchAndDropsTheConnection() throws {
        let channel = try channel()
        let stuck = try send(channel, [["PING"]], timeout: .milliseconds(50))
        let behind = try send(channel, [["PING"]], timeout: .seconds(5))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(60))
        #expect(throws: RedisError.self) { try stuck.wait() }
        #expect(!channel.isActive, "no reply since the batch went out: the connection is dropped")
        #expect(throws: RedisError.connectionClosed) { try behind.wait() }
    }

    @Test func aLateReplyOfATimedOutBatchKeepsItsPlaceInTheOrder() throws {
        let channel = try channel()
        let earlier = try send(channel, [["GET", "earlier"]], timeout: .seconds(5))
        let slow = try send(channel, [["GET", "slow"]], timeout: .milliseconds(50))
        let next = try send(channel, [["GET", "next"]], timeout: .seconds(5))
        try receive(channel, ":0\r\n")  // the server answers: it is slow, not gone
        #expect(try earlier.wait() == [.integer(0)])
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(60))
        #expect(throws: RedisError.self) { try slow.wait() }
        #expect(channel.isActive, "a reply came after the slow batch went out: the connection is kept")
        try receive(channel, ":1\r\n:2\r\n")  // the slow batch's late reply, then the next one's
        #expect(try next.wait() == [.integer(2)], "the next batch gets its own reply, not the late one")
        _ = try channel.finish(acceptAlreadyClosed: true)
    }

    @Test func aReplyNobodyAskedForIsAProtocolErrorThatClosesTheConnection() throws {
        let channel = try channel()
        try receive(channel, "+OK\r\n")
        #expect(!channel.isActive)
    }

    @Test func garbageFailsEverythingInFlightAndClosesTheConnection() throws {
        let channel = try channel()
        let waiting = try send(channel, [["GET", "a"]])
        try receive(channel, "!not RESP at all\r\n")
        #expect(throws: RedisError.self) { try waiting.wait() }
        #expect(!channel.isActive)
    }
}
