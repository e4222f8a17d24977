import GRPCCore
@testable import GRPCNghttp2Transport
import NIOCore
import NIOPosix
import Synchronization
import Testing

@Suite struct InboundMessagesTests {
    @Test func windowIsHeldOnceUnreadMessagesPassTheWatermarkAndReleasedWhenRead() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let released = Mutex<[Int]>([])
        let (releases, continuation) = AsyncStream.makeStream(of: Int.self)
        let inbound = InboundMessages(highWatermark: 100, eventLoop: loop) { count in
            released.withLock { $0.append(count) }
            continuation.yield(count)
        }
        #expect(inbound.admitWindow(60))
        inbound.append(.message(Array(repeating: 1, count: 60)))
        #expect(inbound.admitWindow(60))
        inbound.append(.message(Array(repeating: 2, count: 60)))
        // 120 unread bytes ≥ 100: the next DATA is not acknowledged to the peer.
        #expect(!inbound.admitWindow(30))
        #expect(!inbound.admitWindow(20))
        var iterator = inbound.makeAsyncIterator()
        let first = try await iterator.next()
        guard case .message(let bytes)? = first else { Issue.record("expected a message"); return }
        #expect(bytes.first == 1)
        // Reading brought it under the watermark: the 50 held bytes are given back, once.
        var releaseIterator = releases.makeAsyncIterator()
        #expect(await releaseIterator.next() == 50)
        #expect(released.withLock { $0 } == [50])
        #expect(inbound.admitWindow(10))
    }

    @Test func aFailureFollowsThePartsAlreadyQueued() async throws {
        let inbound = InboundMessages(highWatermark: 1 << 16, eventLoop: MultiThreadedEventLoopGroup.singleton.next()) {
            _ in
        }
        inbound.append(.metadata(["caller": "orders"]))
        inbound.fail(RPCError(code: .resourceExhausted, message: "too big"))
        inbound.append(.message([1]))  // ignored: the sequence has ended
        var iterator = inbound.makeAsyncIterator()
        guard case .metadata(let metadata)? = try await iterator.next() else {
            Issue.record("expected metadata first"); return
        }
        #expect(Array(metadata[stringValues: "caller"]) == ["orders"])
        await #expect(throws: RPCError.self) { _ = try await iterator.next() }
    }

    @Test func aWaitingReaderWakesForPartsAndForTheEnd() async throws {
        let inbound = InboundMessages(highWatermark: 1 << 16, eventLoop: MultiThreadedEventLoopGroup.singleton.next()) {
            _ in
        }
        let reader = Task {
            var parts = 0
            for try await _ in inbound { parts += 1 }
            return parts
        }
        while !inbound.hasWaitingReader { await Task.yield() }
        inbound.append(.message([1]))
        inbound.append(.message([2]))
        inbound.finish()
        #expect(try await reader.value == 2)
    }

    @Test func cancellingAWaitingReaderEndsItsWait() async throws {
        let inbound = InboundMessages(highWatermark: 1 << 16, eventLoop: MultiThreadedEventLoopGroup.singleton.next()) {
            _ in
        }
        let reader = Task {
            var iterator = inbound.makeAsyncIterator()
            return try await iterator.next()
        }
        while !inbound.hasWaitingReader { await Task.yield() }
        reader.cancel()
        await #expect(throws: CancellationError.self) { _ = try await reader.value }
    }
}

@Suite struct ResponseWriterTests {
    @Test func aWriterWaitsWhileTheClientHasNotTakenItsBytes() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let drains = Mutex(0)
        let writer = ResponseWriter(highWatermark: 100, maxMessageSize: 1 << 20, eventLoop: loop) {
            drains.withLock { $0 += 1 }
        }
        try await writer.write(.metadata([:]))
        try await writer.write(.message(Array(repeating: 0, count: 50)))  // 55 framed bytes: under the watermark
        let blocked = Task { try await writer.write(.message(Array(repeating: 0, count: 50))) }  // 110 > 100
        while !writer.hasWaitingWriter { await Task.yield() }
        let taken = writer.takeParts()
        #expect(taken.parts.count == 3)
        writer.didSend(30)  // 80 left: still above a quarter of the watermark
        #expect(writer.hasWaitingWriter, "the writer must still wait with 80 of 100 bytes untaken")
        writer.didSend(60)  // 20 left: the writer goes on
        #expect(!writer.hasWaitingWriter)
        try await blocked.value
    }

    @Test func closingTheStreamFailsWritesAndCancelsTheRPC() async throws {
        let writer = ResponseWriter(
            highWatermark: 10, maxMessageSize: 1 << 20, eventLoop: MultiThreadedEventLoopGroup.singleton.next()
        ) {}
        let blocked = Task { try await writer.write(.message(Array(repeating: 0, count: 64))) }
        while !writer.hasWaitingWriter { await Task.yield() }
        await withServerContextRPCCancellationHandle { handle in
            writer.attach(handle)
            writer.close(with: RPCError(code: .cancelled, message: "client reset"))
            #expect(handle.isCancelled)
        }
        await #expect(throws: RPCError.self) { try await blocked.value }
        await #expect(throws: RPCError.self) { try await writer.write(.message([1])) }
    }

    @Test func anOversizedResponseMessageIsResourceExhausted() async throws {
        let writer = ResponseWriter(
            highWatermark: 1 << 16, maxMessageSize: 8, eventLoop: MultiThreadedEventLoopGroup.singleton.next()
        ) {}
        do {
            try await writer.write(.message(Array(repeating: 0, count: 9)))
            Issue.record("a 9-byte message passed an 8-byte limit")
        } catch let error as RPCError {
            #expect(error.code == .resourceExhausted)
        }
    }
}
