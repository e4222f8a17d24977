import Foundation
import GatewayCore
import GatewayREST
import HubSpotAPI
import Hummingbird
import HummingbirdTesting
import JSONCore
import Logging
import Metrics
import Testing

/// The OpenAPI document is made from the routes registered, and every route is described.
@Suite struct OpenAPIDocumentTests {
    /// The REST routes on a router, over a domain that is never called (no HubSpot, no Redis).
    static func router(
        keys: CallerKeys = try! CallerKeys(parsing: ""), configuration: RESTConfiguration = .init(),
        metrics: (any MetricsFactory)? = nil
    ) -> Router<BasicRequestContext> {
        let transport = CurlTransport()
        let crm = CRM(
            door: DoorConfiguration(baseURL: "http://127.0.0.1:9"), credentials: .privateAppToken(Secret("unused")),
            redis: nil, transport: transport, logger: Logger(label: "test"))
        let routes = CRMObjectRoutes(crm: crm, keys: keys, configuration: configuration)
        let router = Router()
        routes.register(on: router, logger: Logger(label: "test"), metricsFactory: metrics)
        routes.registerOpenAPI(on: router)
        transport.shutdown()
        return router
    }

    @Test func everyRegisteredRouteIsDescribedAndEveryDescriptionIsARoute() {
        let (routes, descriptions) = CRMObjectRoutes.undocumented(Self.router())
        #expect(routes.isEmpty, "routes without a description in the OpenAPI document: \(routes)")
        #expect(descriptions.isEmpty, "descriptions of routes no longer registered: \(descriptions)")
    }

    @Test func theDocumentListsTheServedPathsInOpenAPISyntax() async throws {
        let app = Application(router: Self.router())
        try await app.test(.router) { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                let document = try JSONParser.parse(Array(buffer: response.body))
                #expect(document["openapi"]?.stringValue == "3.1.0")
                let paths = document["paths"]?.objectValue?.map(\.key) ?? []
                #expect(paths.contains("/crm/v3/objects/{type}/{id}"))
                #expect(paths.contains("/crm/v3/owners"))
                #expect(!paths.contains { $0.contains(":") })
                let read = document["paths"]?["/crm/v3/objects/{type}/{id}"]?["get"]?["summary"]?.stringValue
                #expect(read?.contains("cache") == true)
            }
        }
    }
}
