@testable import GatewayAPI
import Testing

@Suite struct BearerKeyTests {
    @Test func theKeyIsTakenFromAnyCasingOfTheSchemeWithoutSurroundingSpaces() {
        #expect(CallerAuthenticationInterceptor.bearerKey(in: "Bearer abc-123") == "abc-123")
        #expect(CallerAuthenticationInterceptor.bearerKey(in: "bearer abc-123") == "abc-123")
        #expect(CallerAuthenticationInterceptor.bearerKey(in: "BEARER   abc-123 \t") == "abc-123")
    }

    @Test func otherSchemesAndEmptyKeysAreNotKeys() {
        #expect(CallerAuthenticationInterceptor.bearerKey(in: "Basic abc") == nil)
        #expect(CallerAuthenticationInterceptor.bearerKey(in: "Bearerabc") == nil)
        #expect(CallerAuthenticationInterceptor.bearerKey(in: "Bearer ") == nil)
        #expect(CallerAuthenticationInterceptor.bearerKey(in: "Bearer    ") == nil)
        #expect(CallerAuthenticationInterceptor.bearerKey(in: "") == nil)
        #expect(CallerAuthenticationInterceptor.bearerKey(in: "Béarer abc") == nil)
    }
}
