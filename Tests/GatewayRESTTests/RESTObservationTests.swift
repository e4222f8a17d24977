import GatewayCore
import GatewayREST
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MetricsTestKit
import Testing

/// Every REST request is counted by method, route template, status and calling service, and
/// answered with a request id.
@Suite struct RESTObservationTests {
    static let keys = try! CallerKeys(
        parsing: CallerKeys.line(service: "analytics", key: "analytics-key", scopes: [.read]))

    @Test func requestsAreCountedByRouteStatusAndCallerAndCarryARequestId() async throws {
        let metrics = TestMetrics()
        let app = Application(router: OpenAPIDocumentTests.router(keys: Self.keys, metrics: metrics))
        try await app.test(.router) { client in
            // No key: counted as the anonymous caller, with a request id made by the gateway.
            try await client.execute(uri: "/crm/v3/objects/contacts/1", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[HTTPField.Name("X-Request-Id")!]?.count == 16)
            }
            // A read-only caller writing: counted under its own name; its request id echoed.
            try await client.execute(
                uri: "/crm/v3/objects/contacts/1", method: .patch,
                headers: [.authorization: "Bearer analytics-key", HTTPField.Name("X-Request-Id")!: "trace-42"],
                body: .init(string: #"{"properties": {}}"#)
            ) { response in
                #expect(response.status == .forbidden)
                #expect(response.headers[HTTPField.Name("X-Request-Id")!] == "trace-42")
            }
        }
        let name = RESTMetricName.requests
        let route = "/crm/v3/objects/{type}/{id}"
        let anonymous = try metrics.expectCounter(
            name,
            [("method", "GET"), ("route", route), ("status", "401"), ("caller", "none"), ("api_version", "legacy")])
        #expect(anonymous.totalValue == 1)
        let analytics = try metrics.expectCounter(
            name,
            [
                ("method", "PATCH"), ("route", route), ("status", "403"), ("caller", "analytics"),
                ("api_version", "legacy"),
            ])
        #expect(analytics.totalValue == 1)
    }
}
