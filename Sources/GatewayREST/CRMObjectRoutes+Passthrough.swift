import CoreMetrics
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging

extension CRMObjectRoutes {
    /// Every HubSpot path outside `/crm/` that a caller's key allows
    /// (`hubspot.passthrough:/prefix/,…`), under HubSpot's own path: through the door, and
    /// HubSpot's answer as it is. Paths under `/crm/` the gateway does not serve, and requests
    /// without a caller key, stay 404.
    public func registerPassthrough<Context: RequestContext>(
        on router: Router<Context>, logger: Logger, metricsFactory: (any MetricsFactory)? = nil
    ) {
        let paths = router.group()
            .add(
                middleware: RESTObservationMiddleware<Context>(
                    accessLog: configuration.accessLog, logger: logger, metricsFactory: metricsFactory)
            )
            .add(middleware: TracingMiddleware<Context>())
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            paths.on("**", method: method) { request, context in
                // Without a caller key, no passthrough: what the gateway does not serve stays 404
                // (a webhook delivery to a gateway whose intake is off, a probe).
                guard !request.uri.path.hasPrefix("/crm/"), request.headers[.authorization] != nil else {
                    throw HTTPError(.notFound)
                }
                return await answer(request) { try await passthrough(request, context) }
            }
        }
    }

    func passthrough(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let caller = try requestCaller(request)
        ObservedRequest.current?.record(caller: caller.service)
        let terms = FrontMatter.terms(
            timeout: request.headers[.gatewayTimeout].flatMap { Int64($0) }.map { .milliseconds($0) },
            defaultTimeout: configuration.defaultTimeout, priority: request.headers[.gatewayPriority])
        let body = try await body(request)
        let answer = try await crm.passthrough.send(
            PassthroughRequest(
                method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "",
                contentType: request.headers[.contentType], body: body.readableBytes > 0 ? Array(buffer: body) : nil),
            terms)
        var headers = HTTPFields()
        for header in answer.headers {
            if let name = HTTPField.Name(header.name) { headers.append(HTTPField(name: name, value: header.value)) }
        }
        return Response(
            status: .init(code: answer.status), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
