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
}
