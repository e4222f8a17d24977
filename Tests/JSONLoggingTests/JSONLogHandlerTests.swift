import JSONCore
import JSONLogging
import Logging
import Synchronization
import Testing

/// Collects the lines a handler writes.
private final class Lines: Sendable {
    private let lines = Mutex<[[UInt8]]>([])
    var all: [[UInt8]] { lines.withLock { $0 } }
    func append(_ line: [UInt8]) { lines.withLock { $0.append(line) } }
}

@Suite struct JSONLogHandlerTests {
    private func logger(redacting secrets: [String] = [], into lines: Lines) -> Logger {
        var logger = Logger(label: "gateway") { label in
            JSONLogHandler(label: label, redacting: secrets, output: { lines.append($0) })
        }
        logger.logLevel = .debug
        return logger
    }

    @Test func everyLineIsOneJSONObjectWithTheEventAndItsMetadata() throws {
        let lines = Lines()
        var logger = logger(into: lines)
        logger[metadataKey: "replica"] = "r-1"
        logger.info(
            "rpc finished",
            metadata: [
                "method": "hubspot.gateway.v1.ContactsService/GetContact", "duration_ms": .stringConvertible(1.5),
                "attempts": .stringConvertible(3), "tags": ["a", "b"], "caller": ["service": "orders"],
            ])
        logger.trace("below the level")
        let written = lines.all
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(!line.dropLast().contains(UInt8(ascii: "\n")))
        let object = try JSONParser.parse(Array(line.dropLast()))
        #expect(object["level"]?.stringValue == "info")
        #expect(object["logger"]?.stringValue == "gateway")
        #expect(object["message"]?.stringValue == "rpc finished")
        #expect(object["replica"]?.stringValue == "r-1")
        #expect(object["method"]?.stringValue == "hubspot.gateway.v1.ContactsService/GetContact")
        #expect(object["duration_ms"] == .number(1.5))
        #expect(object["attempts"] == .number(3))
        #expect(object["tags"]?.arrayValue == [.string("a"), .string("b")])
        #expect(object["caller"]?["service"]?.stringValue == "orders")
        let time = try #require(object["time"]?.stringValue)
        #expect(time.count == 24 && time.hasSuffix("Z") && time.contains("T"))
    }

    @Test func quotesNewlinesAndControlCharactersAreEscaped() throws {
        let lines = Lines()
        logger(into: lines).error("HubSpot said \"no\"\nsecond line\t\u{1}", metadata: ["body": "{\"a\":1}\r\n"])
        let line = try #require(lines.all.first)
        #expect(line.filter { $0 == UInt8(ascii: "\n") }.count == 1)
        let object = try JSONParser.parse(Array(line.dropLast()))
        #expect(object["message"]?.stringValue == "HubSpot said \"no\"\nsecond line\t\u{1}")
        #expect(object["body"]?.stringValue == "{\"a\":1}\r\n")
    }

    @Test func secretsAreRedactedFromMessagesAndMetadata() throws {
        let lines = Lines()
        let token = "pat-na1-0123456789abcdef"
        logger(redacting: [token, "short"], into: lines).warning(
            "request with Bearer \(token) failed",
            metadata: [
                "header": "authorization: Bearer \(token)", "nested": ["deep": .string(token)], "note": "a short word",
            ])
        let text = String(decoding: try #require(lines.all.first), as: UTF8.self)
        #expect(!text.contains(token))
        let object = try JSONParser.parse(Array(text.utf8.dropLast()))
        #expect(object["message"]?.stringValue == "request with Bearer [redacted] failed")
        #expect(object["header"]?.stringValue == "authorization: Bearer [redacted]")
        #expect(object["nested"]?["deep"]?.stringValue == "[redacted]")
        // Secrets shorter than 8 characters are not redacted: they would eat ordinary words.
        #expect(object["note"]?.stringValue == "a short word")
    }

    @Test func metadataCannotOverwriteTheEventsOwnMembers() throws {
        let lines = Lines()
        logger(into: lines).info("the real message", metadata: ["message": "forged", "level": "critical"])
        let object = try JSONParser.parse(Array(try #require(lines.all.first).dropLast()))
        #expect(object["message"]?.stringValue == "the real message")
        #expect(object["level"]?.stringValue == "info")
    }
}
