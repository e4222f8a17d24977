import GatewayCore
import Testing

@Suite struct ObjectTypeAliasesTests {
    @Test func standardIdsAndSingularNamesBecomeTheNameTheGatewayKeysBy() {
        #expect(ObjectTypeAliases.canonical("0-1") == "contacts")
        #expect(ObjectTypeAliases.canonical("0-3") == "deals")
        #expect(ObjectTypeAliases.canonical("0-8") == "line_items")
        #expect(ObjectTypeAliases.canonical("company") == "companies")
        #expect(ObjectTypeAliases.canonical("contacts") == "contacts")
    }

    @Test func customTypesAndUnknownNamesAreKeptAsGiven() {
        #expect(ObjectTypeAliases.canonical("2-123") == "2-123")
        #expect(ObjectTypeAliases.canonical("p_cars") == "p_cars")
        #expect(ObjectTypeAliases.canonical("0-99999") == "0-99999")
    }
}
