@testable import GatewayAPI
import GatewayCore
import Testing

@Suite struct BearerKeyTests {
    @Test func theKeyIsTakenFromAnyCasingOfTheSchemeWithoutSurroundingSpaces() {
        #expect(FrontMatter.bearerKey(in: "Bearer abc-123") == "abc-123")
        #expect(FrontMatter.bearerKey(in: "bearer abc-123") == "abc-123")
        #expect(FrontMatter.bearerKey(in: "BEARER   abc-123 \t") == "abc-123")
    }

    @Test func otherSchemesAndEmptyKeysAreNotKeys() {
        #expect(FrontMatter.bearerKey(in: "Basic abc") == nil)
        #expect(FrontMatter.bearerKey(in: "Bearerabc") == nil)
        #expect(FrontMatter.bearerKey(in: "Bearer ") == nil)
        #expect(FrontMatter.bearerKey(in: "Bearer    ") == nil)
        #expect(FrontMatter.bearerKey(in: "") == nil)
        #expect(FrontMatter.bearerKey(in: "Béarer abc") == nil)
    }
}
