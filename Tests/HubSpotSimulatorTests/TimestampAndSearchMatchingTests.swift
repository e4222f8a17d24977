import Testing
@testable import HubSpotSimulator

@Suite struct TimestampTests {
    @Test func formatsAndParsesISO8601() {
        #expect(Timestamps.iso8601(0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamps.iso8601(1_564_113_600_123) == "2019-07-26T04:00:00.123Z")
        #expect(Timestamps.parse("2019-07-26T04:00:00.123Z") == 1_564_113_600_123)
        #expect(Timestamps.parse("2019-07-26T06:00:00+02:00") == 1_564_113_600_000)
        #expect(Timestamps.parse("2019-07-26") == 1_564_099_200_000)
        #expect(Timestamps.parse("1564113600000") == 1_564_113_600_000)
        #expect(Timestamps.parse("2019-13-01") == nil)
        #expect(Timestamps.parse("yesterday") == nil)
        #expect(Timestamps.isoDate(1_564_113_600_000) == "2019-07-26")
        #expect(Timestamps.iso8601(-1) == "1969-12-31T23:59:59.999Z")
    }
}

@Suite struct SearchMatchingTests {
    @Test func wildcardTokensMatchWholeValuesOrWords() {
        #expect(SearchEvaluator.containsToken("alice@example.com", pattern: "*@example.com"))
        #expect(SearchEvaluator.containsToken("Big Deal Q3", pattern: "deal"))
        #expect(SearchEvaluator.containsToken("Big Deal Q3", pattern: "q*"))
        #expect(!SearchEvaluator.containsToken("Big Deal Q3", pattern: "small"))
        #expect(SearchEvaluator.wildcardMatch("abc", "a*c"))
        #expect(!SearchEvaluator.wildcardMatch("abd", "a*c"))
    }
}
