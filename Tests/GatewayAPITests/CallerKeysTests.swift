import Foundation
import GatewayAPI
import GatewayCore
import Testing

@Suite struct CallerKeysTests {
    private let text = """
        # service  hash  scopes
        \(CallerKeys.line(service: "orders", key: "orders-old-key", scopes: [.read, .write]))
        \(CallerKeys.line(service: "orders", key: "orders-new-key", scopes: [.read, .write]))   # rotation: both work
        \(CallerKeys.line(service: "ops", key: "ops-key", scopes: [.admin]))
        """

    @Test func everyConfiguredKeyNamesItsServiceAndScopes() throws {
        let keys = try CallerKeys(parsing: text)
        #expect(keys.services == ["orders", "ops"])
        #expect(
            keys.caller(presenting: "orders-old-key").map { [$0.service: $0.scopes] } == ["orders": [.read, .write]])
        #expect(
            keys.caller(presenting: "orders-new-key").map { [$0.service: $0.scopes] } == ["orders": [.read, .write]])
        #expect(keys.caller(presenting: "ops-key").map { [$0.service: $0.scopes] } == ["ops": [.admin]])
        // Again, now from the memo of matched keys: the same answers, and unknown keys stay unknown.
        #expect(keys.caller(presenting: "ops-key")?.service == "ops")
        #expect(keys.caller(presenting: "ops-key ") == nil)
        #expect(keys.caller(presenting: "orders-old") == nil)
        #expect(keys.caller(presenting: "") == nil)
    }

    @Test func passthroughPrefixesFollowTheirScopeAndStayOutOfCRM() throws {
        let keys = try CallerKeys(
            parsing: CallerKeys.line(
                service: "sender", key: "k",
                scopeNames: ["crm.read", "hubspot.passthrough:/communication-preferences/", "/files/", "changes.read"]))
        let caller = try #require(keys.caller(presenting: "k"))
        #expect(caller.passthroughPrefixes == ["/communication-preferences/", "/files/"])
        #expect(caller.scopes == [.read, .changesRead])
        #expect(caller.mayPassThrough("/files/v3/files/7") && !caller.mayPassThrough("/marketing/v3/emails"))
        for bad in ["hubspot.passthrough:/crm/v3/", "hubspot.passthrough:files/"] {
            #expect(throws: CallerKeysError.self) {
                try CallerKeys(parsing: CallerKeys.line(service: "s", key: "k", scopeNames: [bad]))
            }
        }
    }

    @Test func badLinesAreRefusedWithTheLineAndTheProblem() {
        #expect(throws: CallerKeysError.self) { try CallerKeys(parsing: "orders sha256:abcd crm.read") }
        #expect(throws: CallerKeysError.self) { try CallerKeys(parsing: "orders crm.read") }
        let line = CallerKeys.line(service: "orders", key: "k", scopes: [.read])
        #expect(throws: CallerKeysError.self) {
            try CallerKeys(parsing: line.replacingOccurrences(of: "crm.read", with: "crm.everything"))
        }
        do {
            _ = try CallerKeys(
                parsing: "# header\n\(line)\n\(line.replacingOccurrences(of: "orders", with: "billing"))")
            Issue.record("one key listed for two services was accepted")
        } catch {
            #expect(error.line == 3 && error.problem.contains("listed twice"))
        }
    }

    @Test func objectTypeScopesAndAWeightAreReadFromTheLine() throws {
        let keys = try CallerKeys(
            parsing: CallerKeys.line(
                service: "marketing", key: "m-key",
                scopeNames: ["crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.0-3.read"],
                weight: 2))
        let marketing = try #require(keys.caller(presenting: "m-key"))
        #expect(marketing.weight == 2 && keys.shares["marketing"]?.weight == 2 && keys.shares.count == 1)
        #expect(marketing.may(.write, "contacts") && marketing.may(.read, "0-1"))
        #expect(marketing.may(.read, "deals") && !marketing.may(.write, "deals"))
        #expect(!marketing.may(.read, "companies"))
        #expect(marketing.mayAny(.read) && marketing.mayAny(.write))
        let everything = try #require(
            try CallerKeys(parsing: CallerKeys.line(service: "orders", key: "o", scopes: [.read])).caller(
                presenting: "o"))
        #expect(everything.weight == 1 && everything.may(.read, "p_cars") && !everything.may(.write, "contacts"))
    }

    @Test func aBadWeightIsRefusedNamingTheLine() {
        for weight in ["weight=0", "weight=-1", "weight=abc", "heavy"] {
            let line = CallerKeys.line(service: "orders", key: "k", scopes: [.read]) + " " + weight
            #expect(throws: CallerKeysError.self) { try CallerKeys(parsing: line) }
        }
    }

    @Test func aServiceMayBeNamedByItsClientCertificateWithOrWithoutAKey() throws {
        let keys = try CallerKeys(
            parsing: """
                analytics none crm.read cert=spiffe://cluster.local/ns/analytics/sa/exporter
                \(CallerKeys.line(service: "orders", key: "o-key", scopes: [.read, .write])) weight=2 cert=orders.internal
                """)
        #expect(
            keys.caller(certificateIdentity: "spiffe://cluster.local/ns/analytics/sa/exporter")?.service == "analytics")
        let orders = try #require(keys.caller(certificateIdentity: "orders.internal"))
        #expect(orders.service == "orders" && orders.weight == 2)
        #expect(keys.caller(presenting: "o-key")?.service == "orders")
        #expect(keys.caller(certificateIdentity: "spiffe://cluster.local/ns/analytics/sa/other") == nil)
        // `none` is not a key anyone can present.
        #expect(keys.caller(presenting: "none") == nil)
    }

    @Test func aKeylessServiceNeedsACertificateAndAnIdentityIsListedOnce() {
        #expect(throws: CallerKeysError.self) { try CallerKeys(parsing: "analytics none crm.read") }
        #expect(throws: CallerKeysError.self) {
            try CallerKeys(parsing: "a none crm.read cert=spiffe://x\nb none crm.read cert=spiffe://x")
        }
        #expect(throws: CallerKeysError.self) { try CallerKeys(parsing: "a none crm.read cert=") }
        #expect(throws: CallerKeysError.self) { try CallerKeys(parsing: "a none crm.read certificate=spiffe://x") }
    }
}
