import CCurl
import CCurlShim
import Foundation
import Time

/// One curl easy handle and the error buffer curl writes into. Lives on the loop thread only.
final class EasyHandle {
    let pointer: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        guard let pointer = curl_easy_init() else { return nil }
        self.pointer = pointer
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    /// Installs the error buffer; `curl_easy_reset` clears it, so every transfer sets it again.
    func prepare() {
        errorBuffer[0] = 0
        ccurl_easy_setopt_pointer(pointer, CURLOPT_ERRORBUFFER, errorBuffer)
    }

    /// curl's detailed message for the last failure, or its generic text for `code`.
    func message(for code: CURLcode) -> String {
        if errorBuffer[0] != 0 { return String(cString: errorBuffer) }
        return String(cString: curl_easy_strerror(code))
    }

    func reset() { curl_easy_reset(pointer) }

    /// Frees the handle; it must not be used afterwards.
    func cleanup() {
        curl_easy_cleanup(pointer)
        errorBuffer.deallocate()
    }
}

/// A request in flight on one easy handle: the header list curl reads, the response being
/// collected, and the continuation to resume. Lives on the loop thread only; curl's callbacks
/// reach it through an unretained pointer while `CurlLoop.active` keeps it alive.
final class CurlTransfer {
    let handle: EasyHandle
    let continuation: CheckedContinuation<HTTPResponse, any Error>
    private let maxResponseBytes: Int
    private var headerList: UnsafeMutablePointer<curl_slist>?
    fileprivate var body: [UInt8] = []
    fileprivate var headers: [(name: String, value: String)] = []
    fileprivate var tooLarge = false
    /// Times curl was about to send the request; more than once is libcurl resending it on a
    /// fresh connection after a reused one died, which is refused (see `curlPrereqCallback`).
    fileprivate var sends = 0

    init(handle: EasyHandle, continuation: CheckedContinuation<HTTPResponse, any Error>, maxResponseBytes: Int) {
        self.handle = handle
        self.continuation = continuation
        self.maxResponseBytes = maxResponseBytes
    }

    /// Sets every option of the request on the easy handle.
    func configure(_ request: HTTPRequest, timeout: Duration, configuration: CurlTransportConfiguration, id: UInt64)
        -> CURLcode
    {
        let easy = handle.pointer
        handle.prepare()
        var code = CURLE_OK
        func check(_ result: CURLcode) { if code == CURLE_OK, result != CURLE_OK { code = result } }
        check(ccurl_easy_setopt_string(easy, CURLOPT_URL, request.url))
        check(ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        check(ccurl_easy_setopt_pointer(easy, CURLOPT_PRIVATE, UnsafeMutableRawPointer(bitPattern: UInt(id))))
        let timeoutMilliseconds = Int(max(1, timeout.milliseconds))
        check(ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeoutMilliseconds))
        check(
            ccurl_easy_setopt_long(
                easy, CURLOPT_CONNECTTIMEOUT_MS,
                min(timeoutMilliseconds, Int(max(1, configuration.connectTimeout.milliseconds)))))
        check(
            ccurl_easy_setopt_long(
                easy, CURLOPT_HTTP_VERSION,
                configuration.preferHTTP2 ? Int(CURL_HTTP_VERSION_2TLS) : Int(CURL_HTTP_VERSION_1_1)))
        check(ccurl_easy_setopt_long(easy, CURLOPT_PIPEWAIT, 1))
        check(ccurl_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(configuration.maxResponseBytes)))
        check(ccurl_easy_setopt_string(easy, CURLOPT_USERAGENT, configuration.userAgent))
        check(ccurl_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, ""))
        if let caBundle = configuration.caBundlePath { check(ccurl_easy_setopt_string(easy, CURLOPT_CAINFO, caBundle)) }

        switch request.method {
        case .get:
            check(ccurl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1))
        case .post, .put, .patch, .delete:
            if request.method != .post {
                check(ccurl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method.rawValue))
            }
            if request.method == .post || request.body != nil {
                let body = request.body ?? []
                check(ccurl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
                // COPYPOSTFIELDS copies the bytes, so nothing Swift-owned outlives this call.
                body.withUnsafeBytes { raw in
                    let empty: [CChar] = [0]
                    if let base = raw.baseAddress {
                        check(
                            ccurl_easy_setopt_pointer(
                                easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base)))
                    } else {
                        empty.withUnsafeBufferPointer {
                            check(
                                ccurl_easy_setopt_pointer(
                                    easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress!)))
                        }
                    }
                }
            }
        }

        // No `Expect: 100-continue` round trip for bodies.
        var list = curl_slist_append(nil, "Expect:")
        for header in request.headers { list = curl_slist_append(list, "\(header.name): \(header.value)") }
        headerList = list
        check(ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list))

        let context = Unmanaged.passUnretained(self).toOpaque()
        check(ccurl_easy_setopt_write_callback(easy, curlWriteCallback))
        check(ccurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context))
        check(ccurl_easy_setopt_header_callback(easy, curlHeaderCallback))
        check(ccurl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context))
        check(ccurl_easy_setopt_prereq_callback(easy, curlPrereqCallback))
        check(ccurl_easy_setopt_pointer(easy, CURLOPT_PREREQDATA, context))
        return code
    }

    /// The result of a finished transfer.
    func outcome(code: CURLcode) -> Result<HTTPResponse, any Error> {
        if tooLarge || code == CURLE_FILESIZE_EXCEEDED {
            return .failure(CurlTransportError.responseTooLarge(limit: maxResponseBytes))
        }
        if sends > 1 {
            return .failure(
                CurlError(
                    code: Int32(CURLE_GOT_NOTHING.rawValue),
                    message:
                        "the connection died after the request was sent, with no answer; it was not sent again (HubSpot may have received it)"
                ))
        }
        guard code == CURLE_OK else {
            return .failure(CurlError(code: Int32(code.rawValue), message: handle.message(for: code)))
        }
        var status = 0
        ccurl_easy_getinfo_long(handle.pointer, CURLINFO_RESPONSE_CODE, &status)
        var version = 0
        ccurl_easy_getinfo_long(handle.pointer, CURLINFO_HTTP_VERSION, &version)
        let versionText =
            switch version {
            case Int(CURL_HTTP_VERSION_1_0): "1.0"
            case Int(CURL_HTTP_VERSION_2_0): "2"
            case Int(CURL_HTTP_VERSION_3): "3"
            default: "1.1"
            }
        return .success(HTTPResponse(status: status, headers: headers, body: body, httpVersion: versionText))
    }

    /// Connections this transfer had to open (0 when it reused or multiplexed onto one).
    var newConnections: Int {
        var count = 0
        ccurl_easy_getinfo_long(handle.pointer, CURLINFO_NUM_CONNECTS, &count)
        return count
    }

    /// Frees what the request needed while curl worked on it.
    func releaseRequestResources() {
        curl_slist_free_all(headerList)
        headerList = nil
    }

    fileprivate func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if body.count + bytes.count > maxResponseBytes {
            tooLarge = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// One raw header line as curl delivers it (`Name: value\r\n`, or a status line).
    fileprivate func headerLine(_ line: UnsafeRawBufferPointer) {
        if line.count >= 5, line[0] == UInt8(ascii: "H"), line[1] == UInt8(ascii: "T"), line[2] == UInt8(ascii: "T"),
            line[3] == UInt8(ascii: "P"), line[4] == UInt8(ascii: "/")
        {
            // A new status line (after 100 Continue or a redirect): start over.
            headers.removeAll(keepingCapacity: true)
            return
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        var start = colon + 1
        var end = line.count
        while start < end, isSpace(line[start]) { start += 1 }
        while end > start, isSpace(line[end - 1]) { end -= 1 }
        headers.append(
            (
                String(decoding: UnsafeRawBufferPointer(rebasing: line[..<colon]), as: UTF8.self),
                String(decoding: UnsafeRawBufferPointer(rebasing: line[start..<end]), as: UTF8.self)
            ))
    }
}

private let curlWriteCallback:
    @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, context in
        guard let context else { return 0 }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
        let length = size * count
        guard length > 0, let data else { return length }
        // Returning less than `length` makes curl abort the transfer (CURLE_WRITE_ERROR).
        return transfer.append(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
    }

/// libcurl resends a request by itself when the reused connection it went out on dies before
/// any answer (up to 5 times, no option turns it off in curl 7.88). That resend would reach
/// HubSpot without a budget slot and could repeat a write HubSpot already applied, so the
/// second send is aborted: the caller decides, through the limiter and the idempotency rules.
private let curlPrereqCallback:
    @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<CChar>?, Int32, Int32)
        -> Int32 = { context, _, _, _, _ in
            guard let context else { return Int32(CURL_PREREQFUNC_OK) }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            transfer.sends += 1
            return transfer.sends > 1 ? Int32(CURL_PREREQFUNC_ABORT) : Int32(CURL_PREREQFUNC_OK)
        }

private let curlHeaderCallback:
    @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data, size, count, context in
        guard let context, let data else { return 0 }
        let length = size * count
        Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue().headerLine(
            UnsafeRawBufferPointer(start: data, count: length))
        return length
    }
