import CoreMetrics
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import Time

/// Counts, times and logs every REST request by method, route template, status and calling
/// service — the REST twin of the gRPC `RequestObservationInterceptor` — and gives each one a
/// request id (the caller's `X-Request-Id`, or a new one), returned in the response.
public struct RESTObservationMiddleware<Context: RequestContext>: RouterMiddleware {
    private let accessLog: AccessLogPolicy
    private let logger: Logger
    private let factory: any MetricsFactory
    private let finishedHandles = MetricHandleCache<FinishedKey, FinishedHandles>()
    private let inFlightHandles = MetricHandleCache<String, Meter>()

    public init(accessLog: AccessLogPolicy = .errors, logger: Logger, metricsFactory: (any MetricsFactory)? = nil) {
        self.accessLog = accessLog
        self.logger = logger
        self.factory = metricsFactory ?? MetricsSystem.factory
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let started = ContinuousClock.now
        let route = context.endpointPath ?? "unmatched"
        let requestId = RequestIds.make(given: request.headers[.requestId])
        let observed = ObservedRequest(requestId: requestId)
        let inFlight = inFlightHandles.handles(for: route) {
            Meter(label: RESTMetricName.inFlight, dimensions: [("route", route)], factory: factory)
        }
        inFlight.increment()
        defer { inFlight.decrement() }
        var response: Response
        do {
            response = try await ObservedRequest.$current.withValue(observed) { try await next(request, context) }
        } catch {
            // The handlers answer their own failures; what escapes (a router 404) is counted by
            // its status and passed on to the middleware outside.
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            finish(request, route, status, observed.caller, requestId, started)
            throw error
        }
        response.headers[.requestId] = requestId
        finish(request, route, response.status, observed.caller, requestId, started)
        return response
    }

    private func finish(
        _ request: Request, _ route: String, _ status: HTTPResponse.Status, _ caller: String?, _ requestId: String,
        _ started: ContinuousClock.Instant
    ) {
        let elapsed = ContinuousClock.now - started
        let caller = caller ?? ObservedRequest.anonymousCaller
        let method = request.method.rawValue
        let version = RESTPathFamily.version(ofPath: request.uri.path)
        let key = FinishedKey(method: method, route: route, status: status.code, caller: caller, apiVersion: version)
        let finished = finishedHandles.handles(for: key) {
            FinishedHandles(
                requests: Counter(
                    label: RESTMetricName.requests,
                    dimensions: [
                        ("method", method), ("route", route), ("status", String(status.code)), ("caller", caller),
                        ("api_version", version),
                    ],
                    factory: factory),
                duration: Timer(
                    label: RESTMetricName.duration,
                    dimensions: [("method", method), ("route", route), ("caller", caller)],
                    factory: factory))
        }
        finished.requests.increment()
        finished.duration.record(elapsed)
        guard accessLog == .all || (accessLog == .errors && status.code >= 400) else { return }
        let level: Logger.Level =
            switch status.code {
            case 500...: status == .serviceUnavailable || status == .badGateway ? .warning : .error
            case 429: .warning
            default: .info
            }
        // The path, not the query: queries can carry e-mail addresses and other personal data.
        logger.log(
            level: level, "rest request finished",
            metadata: [
                "request_id": .string(requestId), "caller": .string(caller), "method": .string(method),
                "route": .string(route), "path": .string(request.uri.path), "api_version": .string(version),
                "status": .stringConvertible(status.code),
                "duration_ms": .stringConvertible(elapsed.fractionalMilliseconds),
            ])
    }
}

/// The REST endpoint's metric names (Prometheus style).
public enum RESTMetricName {
    /// Finished requests, by `method`, `route` (template), `status`, `caller` and `api_version`
    /// (`legacy` for `/crm/v3|v4/…`, else the dated version of the path).
    public static let requests = "gateway_rest_requests_total"
    /// Time from arrival to the response head, by `method`, `route` and `caller`.
    public static let duration = "gateway_rest_request_duration_seconds"
    /// Requests being handled now, by `route`.
    public static let inFlight = "gateway_rest_requests_in_flight"
}

/// The labels of a finished request's metrics, and their handles.
private struct FinishedKey: Hashable, Sendable {
    let method: String
    let route: String
    let status: Int
    let caller: String
    let apiVersion: String
}

private struct FinishedHandles: Sendable {
    let requests: Counter
    let duration: Timer
}
