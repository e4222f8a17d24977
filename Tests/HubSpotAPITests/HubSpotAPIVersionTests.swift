import HubSpotAPI
import Testing

@Suite struct HubSpotAPIVersionTests {
    @Test func eachAPIHasOneRootPerVersionAndAnAPIWithoutARelease() {
        #expect(HubSpotAPIFamily.objects.root(.legacy) == "/crm/v3/objects")
        #expect(HubSpotAPIFamily.objects.root(.v2026_09) == "/crm/objects/2026-09")
        #expect(HubSpotAPIFamily.recordAssociations.root(.legacy) == "/crm/v4/objects")
        #expect(HubSpotAPIFamily.recordAssociations.root(.v2026_03) == "/crm/objects/2026-03")
        #expect(HubSpotAPIFamily.associations.root(.v2026_09) == "/crm/associations/2026-09")
        #expect(HubSpotAPIFamily.owners.root(.legacy) == "/crm/v3/owners")
        // No 2026-09 release of the token endpoint or the account-info API: 2026-03 is called.
        #expect(HubSpotAPIFamily.oauth.root(.v2026_09) == "/oauth/2026-03")
        #expect(HubSpotAPIFamily.oauth.root(.legacy) == "/oauth/v1")
        #expect(HubSpotAPIFamily.accountInfo.root(.v2026_09) == "/account-info/2026-03")
        #expect(HubSpotAPIFamily.accountInfo.root(.legacy) == "/account-info/v3")
        for api in HubSpotAPIFamily.allCases {
            for version in HubSpotAPIVersion.allCases {
                #expect(api.version(for: version) <= version)
            }
        }
    }

    @Test func onlyDatedVersionsFrom2026_09EnforceWriteRules() {
        #expect(HubSpotAPIVersion.current == .v2026_09)
        #expect(HubSpotAPIVersion.allCases.filter(\.enforcesWriteRules) == [.v2026_09])
        #expect(HubSpotAPIVersion(rawValue: "2026-03") == .v2026_03 && HubSpotAPIVersion(rawValue: "v3") == nil)
    }
}
