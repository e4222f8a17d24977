import JSONCore
import Testing

@Suite struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    @Test func parsesEveryValueKindAndEscapes() throws {
        let value = try parse(#"{"a":[1,-2.5e3,true,false,null],"s":"x\"\n\u00e9\ud83d\ude00"}"#)
        #expect(value["a"] == .array([.number(1), .number(-2500), .bool(true), .bool(false), .null]))
        #expect(value["s"] == .string("x\"\né😀"))
    }

    @Test func reportsLineAndColumnOfSyntaxErrors() {
        #expect(throws: JSONParser.SyntaxError.self) { try parse("{\n  \"a\": tru }") }
        do {
            _ = try parse("{\n  \"a\": tru }")
        } catch let error as JSONParser.SyntaxError {
            #expect(error.line == 2)
            #expect(error.column == 8)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func rejectsWhatRFC8259Rejects() {
        for bad in ["", "01", "[1,]", "{\"a\" 1}", "\"unterminated", "[1] x", "\"\\ud800\"", "nul", "\"tab\there\""] {
            #expect(throws: JSONParser.SyntaxError.self, "\(bad)") { try parse(bad) }
        }
    }

    @Test func limitsNesting() {
        #expect(throws: JSONParser.SyntaxError.self) {
            try parse(String(repeating: "[", count: 65) + String(repeating: "]", count: 65))
        }
        #expect(throws: Never.self) { try parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)) }
    }

    @Test func writerRoundTripsThroughTheParser() throws {
        let value = JSONValue.object([("k", .string("q\"\\\u{1}")), ("n", .array([.number(3), .null]))])
        var writer = JSONWriter()
        writer.value(value)
        #expect(try JSONParser.parse(writer.bytes) == value)
    }
}
