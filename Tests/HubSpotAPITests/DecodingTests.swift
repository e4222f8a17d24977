import Foundation
import JSONCore
import Testing
@testable import HubSpotAPI
@testable import Time

@Suite struct DecodingTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    @Test func recordsDecodeEveryDocumentedFieldAndIgnoreUnknownOnes() throws {
        let json = try parse(
            #"""
            {"id":"7","properties":{"email":"a@b.co","phone":null,"n":"3"},"createdAt":"2019-10-30T03:30:17.883Z",
             "updatedAt":"2019-10-30T03:30:18Z","archived":false,"somethingNew":{"x":[1]},
             "propertiesWithHistory":{"email":[{"value":"a@b.co","timestamp":"2019-10-30T03:30:17.883Z","sourceType":"API","sourceId":null}]},
             "associations":{"companies":{"results":[{"id":"9","type":"contact_to_company"}]}}}
            """#)
        let record = try HubSpotObject(json: json)
        #expect(record.id == "7")
        #expect(record.properties == ["email": "a@b.co", "phone": String?.none, "n": "3"])
        #expect(record.createdAt == Date(timeIntervalSince1970: 1_572_406_217.883))
        #expect(record.updatedAt == Date(timeIntervalSince1970: 1_572_406_218))
        #expect(record.archived == false)
        #expect(record.propertiesWithHistory?["email"]?.first?.sourceType == "API")
        #expect(
            record.associations?["companies"]?.results.first == AssociationIds.Item(id: "9", type: "contact_to_company")
        )
    }

    @Test func fastAndFoundationDecodingAgree() throws {
        let text =
            #"{"id":"1","properties":{"a":"x","b":null},"createdAt":"2024-02-29T23:59:59.999Z","updatedAt":"2024-03-01T00:00:00.000Z","archived":true,"archivedAt":"2024-03-02T10:00:00Z"}"#
        let fast = try HubSpotObject(json: parse(text))
        let foundation = try JSONCoding.decoder.decode(HubSpotObject.self, from: Data(text.utf8))
        #expect(fast == foundation)
    }

    @Test func wrongShapesAreReportedNotCrashed() throws {
        #expect(throws: JSONShapeError.self) { try HubSpotObject(json: parse(#"{"properties":{}}"#)) }
        #expect(throws: JSONShapeError.self) { try HubSpotObject(json: parse(#"{"id":"1","properties":[]}"#)) }
        #expect(throws: JSONShapeError.self) { try HubSpotObject(json: parse(#"{"id":"1","createdAt":"yesterday"}"#)) }
        #expect(throws: JSONShapeError.self) { try SearchPage(json: parse(#"{"results":[]}"#)) }
        #expect(try HubSpotObject(json: parse(#"{"id":12}"#)).id == "12")
    }

    @Test func pagesReadTheirCursor() throws {
        let page = try ObjectPage(
            json: parse(#"{"results":[{"id":"1","properties":{}}],"paging":{"next":{"after":"2","link":"x"}}}"#))
        #expect(page.results.map(\.id) == ["1"])
        #expect(page.nextAfter == "2")
        let search = try SearchPage(json: parse(#"{"total":5,"results":[],"paging":{"next":{"after":10}}}"#))
        #expect(search.total == 5)
        #expect(search.nextAfter == "10")
    }

    @Test func timestampsParseWithAndWithoutFractions() {
        #expect(HubSpotTimestamp.parse("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        #expect(HubSpotTimestamp.parse("2000-03-01T12:00:00.5Z") == Date(timeIntervalSince1970: 951_912_000.5))
        // An offset is not the fast path's shape; Foundation reads it.
        #expect(HubSpotTimestamp.parseUTC("2000-03-01T12:00:00+01:00") == nil)
        #expect(HubSpotTimestamp.parse("2000-03-01T12:00:00+01:00") == Date(timeIntervalSince1970: 951_908_400))
        #expect(
            HubSpotTimestamp.parse(HubSpotTimestamp.format(Date(timeIntervalSince1970: 951_912_000.25)))
                == Date(timeIntervalSince1970: 951_912_000.25))
        #expect(HubSpotTimestamp.parse("2000-13-01T12:00:00Z") == nil)
        #expect(HubSpotTimestamp.parse("garbage") == nil)
    }

    @Test func errorBodiesThatAreNotJSONStillGiveAMessage() {
        let error = HubSpotError(
            response: HTTPResponse(
                status: 502, headers: [("X-HubSpot-Correlation-Id", "c-1")],
                body: Array("<html>Bad Gateway</html>".utf8)))
        #expect(error.status == 502)
        #expect(error.message == "<html>Bad Gateway</html>")
        #expect(error.correlationId == "c-1")
        let empty = HubSpotError(response: HTTPResponse(status: 503, headers: [("Retry-After", "2")], body: []))
        #expect(empty.message == "HTTP 503 with no body")
        #expect(empty.retryAfter == .seconds(2))
    }
}
