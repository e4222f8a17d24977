import ChangeFeed
import GatewayREST
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import Synchronization

extension Gateway {
    /// The gateway's HTTP routes: `/healthz`, `/readyz`, the webhook intake, and HubSpot's own
    /// REST paths with their OpenAPI document (docs/rest.md).
    public func registerRoutes(on router: Router<BasicRequestContext>, metricsFactory: (any MetricsFactory)? = nil) {
        router.add(middleware: HubSpotErrorMiddleware())
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let problem = self.readinessProblem
            return Response(
                status: problem == nil ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: (problem ?? "ready") + "\n")))
        }
        if let feed, configuration.webhookIntake, !configuration.webhooks.clientSecrets.isEmpty {
            router.post(RouterPath(configuration.webhooks.path)) { request, _ -> Response in
                let intake = WebhookIntake(
                    configuration: self.webhooks.withLock { $0 }, feed: feed, portals: self.portals,
                    logger: self.logger)
                let answer: WebhookIntake.Answer
                do {
                    var request = request
                    let body = try await request.collectBody(upTo: intake.configuration.maxBodyBytes)
                    answer = await intake.handle(
                        method: "POST", query: request.uri.query ?? "",
                        header: { name in HTTPField.Name(name).flatMap { request.headers[$0] } },
                        body: Array(buffer: body))
                } catch {
                    answer = intake.tooLarge()
                }
                return Response(
                    status: .init(code: answer.status), headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: answer.body)))
            }
        }
        let rest = CRMObjectRoutes(crm: crm, keys: keys, configuration: configuration.rest)
        rest.register(on: router, logger: logger, metricsFactory: metricsFactory)
        rest.registerOpenAPI(on: router)
        rest.registerPassthrough(on: router, logger: logger, metricsFactory: metricsFactory)
    }
}
