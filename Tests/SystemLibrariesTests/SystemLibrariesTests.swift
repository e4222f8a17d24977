import CCurl
import CCurlShim
import CHiredis
import CNghttp2
import Foundation
import Testing

/// The system-library shims link and the three C libraries do real work through them.
@Suite struct SystemLibrariesTests {
    @Test func nghttp2IsAtLeastDebianBookworms() {
        let info = nghttp2_version(0)!.pointee
        #expect(info.version_num >= 0x013400)
    }

    @Test func hiredisReaderParsesARESPReply() throws {
        let reader = try #require(redisReaderCreate())
        defer { redisReaderFree(reader) }
        let wire = "*2\r\n$5\r\nhello\r\n:42\r\n"
        #expect(redisReaderFeed(reader, wire, wire.utf8.count) == REDIS_OK)
        var reply: UnsafeMutableRawPointer?
        #expect(redisReaderGetReply(reader, &reply) == REDIS_OK)
        let parsed = try #require(reply?.assumingMemoryBound(to: redisReply.self))
        defer { freeReplyObject(reply) }
        #expect(parsed.pointee.type == REDIS_REPLY_ARRAY)
        #expect(parsed.pointee.elements == 2)
        let first = parsed.pointee.element[0]!.pointee
        #expect(String(cString: first.str) == "hello")
        #expect(parsed.pointee.element[1]!.pointee.integer == 42)
    }

    @Test func curlTransfersAFileThroughTheTypedShims() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ccurl-\(UUID().uuidString)").path
        try Data("twelve bytes".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK)
        let easy = try #require(curl_easy_init())
        defer { curl_easy_cleanup(easy) }
        #expect(ccurl_easy_setopt_string(easy, CURLOPT_URL, "file://\(path)") == CURLE_OK)
        #expect(ccurl_easy_setopt_long(easy, CURLOPT_NOBODY, 1) == CURLE_OK)
        #expect(ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1) == CURLE_OK)
        #expect(curl_easy_perform(easy) == CURLE_OK)
        var length: curl_off_t = -1
        #expect(ccurl_easy_getinfo_off_t(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK)
        #expect(length == 12)
        let version = ccurl_version_info_now()!.pointee
        #expect(version.version_num >= 0x074400)
    }
}
