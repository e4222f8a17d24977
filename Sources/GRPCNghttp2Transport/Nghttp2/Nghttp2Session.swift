import CNghttp2

/// What a server session reports while nghttp2 parses input (`receive`) or produces output
/// (`send`). Every method is called synchronously from inside nghttp2; implementations record
/// what happened and never call back into the session. Buffers are valid only during the call.
protocol Nghttp2SessionDelegate: AnyObject {
    /// A client opened a stream with a HEADERS frame (its header fields follow).
    func sessionDidBeginRequest(streamID: Int32)
    /// One header field of a request or its trailers. Returning false resets the stream.
    func sessionDidReceiveHeader(streamID: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool
    /// A header field whose value (or name) HTTP/2 forbids, e.g. with leading or trailing
    /// whitespace (RFC 9113 §8.2.1). nghttp2 ignores the field; the stream goes on so that the
    /// request can be refused with a status that says what was wrong.
    func sessionDidReceiveInvalidHeader(streamID: Int32, name: UnsafeRawBufferPointer)
    /// The end of a header block; `endStream` when the client also half-closed.
    func sessionDidReceiveHeaders(streamID: Int32, isTrailers: Bool, endStream: Bool)
    /// DATA payload (padding removed) of a stream.
    func sessionDidReceiveData(streamID: Int32, bytes: UnsafeRawBufferPointer)
    /// A DATA frame with END_STREAM.
    func sessionDidReceiveEndOfData(streamID: Int32)
    /// The stream is closed (`errorCode` 0 for a normal close, else the RST_STREAM/GOAWAY code).
    func sessionDidCloseStream(streamID: Int32, errorCode: UInt32)
    /// The peer acknowledged one of our PINGs.
    func sessionDidReceivePingAck()
    /// The peer sent GOAWAY.
    func sessionDidReceiveGoAway(errorCode: UInt32)
    /// We sent a frame with END_STREAM on this stream (the last of our response).
    func sessionDidSendEndStream(streamID: Int32)
    /// nghttp2 wants response body bytes: copy up to `buffer.count` into it.
    func sessionReadResponseBody(streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> ResponseBodyRead
}

/// The answer to nghttp2's request for response body bytes.
enum ResponseBodyRead {
    /// `count` bytes were copied; more may follow.
    case bytes(Int)
    /// `count` bytes were copied and the body is complete: send these trailers.
    case end(Int, trailers: [HeaderField])
    /// Nothing to send yet; the stream waits until `resumeData` is called.
    case deferred
    /// The stream cannot continue; nghttp2 resets it.
    case fail
}

/// One HTTP/2 header field.
struct HeaderField: Sendable {
    var name: String
    var value: String

    init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Settings and protections of one server session.
struct Nghttp2SessionSettings {
    var maxConcurrentStreams: Int
    var initialStreamWindowSize: Int
    var connectionWindowSize: Int
    var maxFrameSize: Int
    var maxHeaderListSize: Int
    var streamResetBurst: Int
    var streamResetRatePerSecond: Int
    var maxContinuations: Int
}

/// One server-side `nghttp2_session`, used sans-IO: bytes in through `receive`, bytes out
/// through `send`. It owns its C pointers; none of them leaves this type. Not thread-safe:
/// it lives on its connection's event loop.
final class Nghttp2Session {
    private var session: OpaquePointer?
    /// Weak by construction: the delegate owns this session and outlives it.
    private unowned let delegate: any Nghttp2SessionDelegate

    init(delegate: any Nghttp2SessionDelegate, settings: Nghttp2SessionSettings) throws(Nghttp2Error) {
        self.delegate = delegate

        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else { throw Nghttp2Error(code: -901) }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_invalid_header_callback(callbacks, onInvalidHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameReceive)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, onFrameSend)

        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0, let option else { throw Nghttp2Error(code: -901) }
        defer { nghttp2_option_del(option) }
        // Windows are released as the application consumes messages (back-pressure).
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_stream_reset_rate_limit(
            option, UInt64(settings.streamResetBurst), UInt64(settings.streamResetRatePerSecond))
        nghttp2_option_set_max_continuations(option, settings.maxContinuations)
        nghttp2_option_set_max_settings(option, 32)
        nghttp2_option_set_max_outbound_ack(option, 1000)

        var created: OpaquePointer?
        let userData = Unmanaged.passUnretained(self).toOpaque()
        let rc = nghttp2_session_server_new2(&created, callbacks, userData, option)
        guard rc == 0, let created else { throw Nghttp2Error(code: rc) }
        session = created

        var entries = [
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                value: UInt32(settings.maxConcurrentStreams)),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                value: UInt32(settings.initialStreamWindowSize)),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: UInt32(settings.maxFrameSize)),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                value: UInt32(settings.maxHeaderListSize)),
        ]
        let submitted = nghttp2_submit_settings(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
        guard submitted == 0 else { throw Nghttp2Error(code: submitted) }
        if settings.connectionWindowSize > 65_535 {
            nghttp2_session_set_local_window_size(
                created, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32(settings.connectionWindowSize))
        }
    }

    deinit { close() }

    /// Frees the session; later calls do nothing.
    func close() {
        if let session { nghttp2_session_del(session) }
        session = nil
    }

    /// Feeds received bytes; callbacks run inside. Throws on a fatal protocol error (bad
    /// preface, flooding), after which only `send` (to flush a GOAWAY) makes sense.
    func receive(_ bytes: UnsafeRawBufferPointer) throws(Nghttp2Error) {
        guard let session, let base = bytes.baseAddress, bytes.count > 0 else { return }
        let rc = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if rc < 0 { throw Nghttp2Error(code: Int32(truncatingIfNeeded: rc)) }
    }

    /// Calls `sink` with each chunk of outbound bytes nghttp2 produces (each valid only during
    /// the call) until it has nothing more or `sink` returns false.
    func send(_ sink: (UnsafeRawBufferPointer) -> Bool) throws(Nghttp2Error) {
        guard let session else { return }
        while true {
            var data: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &data)
            if count < 0 { throw Nghttp2Error(code: Int32(truncatingIfNeeded: count)) }
            guard count > 0, let data else { return }
            if !sink(UnsafeRawBufferPointer(start: data, count: count)) { return }
        }
    }

    /// Whether the session still wants to read or write; false once it is finished (after GOAWAY).
    var isFinished: Bool {
        guard let session else { return true }
        return nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0
    }

    var wantsWrite: Bool {
        guard let session else { return false }
        return nghttp2_session_want_write(session) != 0
    }

    /// Response headers; with `hasBody` the body is pulled through `sessionReadResponseBody`,
    /// without it the headers end the stream (Trailers-Only or a plain HTTP error).
    @discardableResult
    func submitResponse(streamID: Int32, headers: [HeaderField], hasBody: Bool) -> Bool {
        guard let session else { return false }
        return withHeaderFields(headers) { nva, count in
            if hasBody {
                var provider = nghttp2_data_provider(
                    source: nghttp2_data_source(ptr: nil), read_callback: readResponseBody)
                return nghttp2_submit_response(session, streamID, nva, count, &provider) == 0
            }
            return nghttp2_submit_response(session, streamID, nva, count, nil) == 0
        }
    }

    /// Wakes a stream whose body read answered `.deferred`.
    func resumeData(streamID: Int32) {
        guard let session else { return }
        _ = nghttp2_session_resume_data(session, streamID)
    }

    /// Gives back `count` bytes of the connection's receive window.
    func consumeConnection(_ count: Int) {
        guard let session, count > 0 else { return }
        _ = nghttp2_session_consume_connection(session, count)
    }

    /// Gives back `count` bytes of a stream's receive window.
    func consumeStream(_ streamID: Int32, _ count: Int) {
        guard let session, count > 0 else { return }
        _ = nghttp2_session_consume_stream(session, streamID, count)
    }

    func resetStream(_ streamID: Int32, errorCode: UInt32) {
        guard let session else { return }
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode)
    }

    func ping() {
        guard let session else { return }
        _ = nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
    }

    /// The first step of a graceful GOAWAY: tells the client to stop opening streams.
    func submitShutdownNotice() {
        guard let session else { return }
        _ = nghttp2_submit_shutdown_notice(session)
    }

    /// The final GOAWAY: streams above the last one processed are refused.
    func submitGoAway(errorCode: UInt32, message: String) {
        guard let session else { return }
        let last = nghttp2_session_get_last_proc_stream_id(session)
        var bytes = Array(message.utf8)
        _ = bytes.withUnsafeMutableBufferPointer { buffer in
            nghttp2_submit_goaway(
                session, UInt8(NGHTTP2_FLAG_NONE.rawValue), last, errorCode, buffer.baseAddress, buffer.count)
        }
    }

    // MARK: Callback entry points

    fileprivate func beginHeaders(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let header = frame.pointee.hd
        if header.type == UInt8(NGHTTP2_HEADERS.rawValue), frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
            delegate.sessionDidBeginRequest(streamID: header.stream_id)
        }
        return 0
    }

    fileprivate func header(
        _ frame: UnsafePointer<nghttp2_frame>, _ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer
    ) -> Int32 {
        delegate.sessionDidReceiveHeader(streamID: frame.pointee.hd.stream_id, name: name, value: value)
            ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
    }

    fileprivate func invalidHeader(_ frame: UnsafePointer<nghttp2_frame>, _ name: UnsafeRawBufferPointer) -> Int32 {
        delegate.sessionDidReceiveInvalidHeader(streamID: frame.pointee.hd.stream_id, name: name)
        return 0  // ignore the field; keep the stream
    }

    fileprivate func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let header = frame.pointee.hd
        let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch UInt32(header.type) {
        case NGHTTP2_HEADERS.rawValue:
            let isTrailers = frame.pointee.headers.cat != NGHTTP2_HCAT_REQUEST
            delegate.sessionDidReceiveHeaders(streamID: header.stream_id, isTrailers: isTrailers, endStream: endStream)
        case NGHTTP2_DATA.rawValue where endStream:
            delegate.sessionDidReceiveEndOfData(streamID: header.stream_id)
        case NGHTTP2_PING.rawValue where header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0:
            delegate.sessionDidReceivePingAck()
        case NGHTTP2_GOAWAY.rawValue:
            delegate.sessionDidReceiveGoAway(errorCode: frame.pointee.goaway.error_code)
        default:
            break
        }
        return 0
    }

    fileprivate func frameSent(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let header = frame.pointee.hd
        if header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0,
            header.type == UInt8(NGHTTP2_HEADERS.rawValue) || header.type == UInt8(NGHTTP2_DATA.rawValue)
        {
            delegate.sessionDidSendEndStream(streamID: header.stream_id)
        }
        return 0
    }

    fileprivate func dataChunk(_ streamID: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        delegate.sessionDidReceiveData(streamID: streamID, bytes: bytes)
        return 0
    }

    fileprivate func streamClosed(_ streamID: Int32, _ errorCode: UInt32) -> Int32 {
        delegate.sessionDidCloseStream(streamID: streamID, errorCode: errorCode)
        return 0
    }

    fileprivate func readBody(
        _ streamID: Int32, _ buffer: UnsafeMutableRawBufferPointer, _ flags: UnsafeMutablePointer<UInt32>
    ) -> Int {
        switch delegate.sessionReadResponseBody(streamID: streamID, into: buffer) {
        case .bytes(let count):
            return count
        case .deferred:
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        case .fail:
            return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        case .end(let count, let trailers):
            // EOF without END_STREAM: the trailers carry it (nghttp2 allows submitting them here).
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue | NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
            if let session {
                let rc = withHeaderFields(trailers) { nva, n in nghttp2_submit_trailer(session, streamID, nva, n) }
                if rc != 0 { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
            }
            return count
        }
    }
}

/// An nghttp2 library error code with its text.
struct Nghttp2Error: Error, CustomStringConvertible {
    var code: Int32
    var description: String { "nghttp2 error \(code): \(String(cString: nghttp2_strerror(code)))" }
}

/// Calls `body` with an `nghttp2_nv` array for `fields`. nghttp2 copies names and values
/// (no NO_COPY flags), so nothing here has to outlive the call.
private func withHeaderFields<R>(_ fields: [HeaderField], _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
    var storage: [UInt8] = []
    storage.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count })
    var ranges: [(Int, Int, Int, Int)] = []
    ranges.reserveCapacity(fields.count)
    for field in fields {
        let nameStart = storage.count
        storage.append(contentsOf: field.name.utf8)
        let valueStart = storage.count
        storage.append(contentsOf: field.value.utf8)
        ranges.append((nameStart, valueStart - nameStart, valueStart, storage.count - valueStart))
    }
    if storage.isEmpty { storage.append(0) }
    return storage.withUnsafeMutableBufferPointer { buffer in
        let base = buffer.baseAddress!
        let nva = ranges.map { range in
            nghttp2_nv(
                name: base + range.0, value: base + range.2, namelen: range.1, valuelen: range.3,
                flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
        }
        return nva.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
    }
}

// MARK: C callbacks (no captures; `user_data` is the Nghttp2Session)

private func owner(_ userData: UnsafeMutableRawPointer?) -> Nghttp2Session {
    Unmanaged<Nghttp2Session>.fromOpaque(userData!).takeUnretainedValue()
}

private let onBeginHeaders: nghttp2_on_begin_headers_callback = { _, frame, userData in
    owner(userData).beginHeaders(frame!)
}

private let onHeader: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
    owner(userData).header(
        frame!, UnsafeRawBufferPointer(start: name, count: nameLength),
        UnsafeRawBufferPointer(start: value, count: valueLength))
}

private let onInvalidHeader: nghttp2_on_invalid_header_callback = { _, frame, name, nameLength, _, _, _, userData in
    owner(userData).invalidHeader(frame!, UnsafeRawBufferPointer(start: name, count: nameLength))
}

private let onFrameReceive: nghttp2_on_frame_recv_callback = { _, frame, userData in
    owner(userData).frameReceived(frame!)
}

private let onFrameSend: nghttp2_on_frame_send_callback = { _, frame, userData in
    owner(userData).frameSent(frame!)
}

private let onDataChunk: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
    owner(userData).dataChunk(streamID, UnsafeRawBufferPointer(start: data, count: length))
}

private let onStreamClose: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
    owner(userData).streamClosed(streamID, errorCode)
}

private let readResponseBody: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, userData in
    owner(userData).readBody(streamID, UnsafeMutableRawBufferPointer(start: buffer, count: length), flags!)
}
