import Time
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Digests

/// Answers every request: admin paths go to `AdminAPI`; API paths pass through faults,
/// authentication and HubSpot's rate limits before their handler, and are counted.
struct SimulatorResponder: HTTPResponder {
    typealias Context = SimulatorRequestContext

    let core: SimulatorCore

    func respond(to request: Request, context: Context) async throws -> Response {
        var arrivedAt = core.configuration.time.wallMilliseconds
        let query = APIRequest.parseQuery(Substring(request.uri.query ?? ""))
        if request.uri.path == "/_sim" || request.uri.path.hasPrefix("/_sim/") {
            var request = request
            let body = try await request.collectBody(upTo: core.configuration.maxBodyBytes)
            let reply = core.admin.handle(
                method: request.method.rawValue, path: request.uri.path, query: query, body: Array(buffer: body))
            return Self.response(reply, correlationId: nil, slowBody: nil)
        }
        if request.uri.path.hasPrefix("/_files/exports/"), request.method == .get {
            // An export's file, as from HubSpot's storage: no token, no rate limit, not an API call.
            let reply = ExportsAPI.download(
                path: request.uri.path, range: request.headers[.range], core.apiContext)
            return Self.response(reply, correlationId: nil, slowBody: nil)
        }
        let correlationId = UUID().uuidString.lowercased()
        let path: String
        let version: String?
        switch DatedPaths.read(request.uri.path) {
        case .success(let read): (path, version) = read
        case .failure(let notFound):
            core.statistics.arrived(version: "unknown")
            return record(notFound.reply, "unknown", arrivedAt, correlationId)
        }
        core.statistics.arrived(version: version ?? "legacy")
        var apiRequest = APIRequest(
            method: request.method.rawValue, path: path,
            segments: APIRequest.pathSegments(path), query: query, body: [])
        apiRequest.version = version
        apiRequest.bearerScopes = core.clientScopes(request.headers[.authorization])
        let matched =
            JournalAPI.match(apiRequest) ?? AccountAPI.match(apiRequest) ?? CommunicationPreferencesAPI.match(
                apiRequest)
            ?? APIRoute.match(apiRequest)
        let endpoint = (try? matched.get().name) ?? "unknown"

        // An outage answers before HubSpot looks at anything.
        let (outage, rules) = core.faults.withLock { faults in
            faults.outage ? (true, []) : (false, faults.rulesApplying(to: endpoint))
        }
        if outage {
            return record(HubSpotErrorBody.serverError(503).reply, endpoint, arrivedAt, correlationId)
        }

        if apiRequest.method == "POST", path == "/oauth/v1/token" || path == "/oauth/v3/token" {
            if let reply = try await applyFaults(
                rules, endpoint: "oauth.token", arrivedAt: arrivedAt, correlationId: correlationId, context: context)?
                .reply
            {
                return reply
            }
            var mutableRequest = request
            let body = (try? await mutableRequest.collectBody(upTo: 64 * 1024)).map { Array(buffer: $0) } ?? []
            let form = APIRequest.parseQuery(Substring(String(decoding: body, as: UTF8.self)))
            return record(core.issueToken(form: form, now: arrivedAt), "oauth.token", arrivedAt, correlationId)
        }
        // Refused before the limits count it: the faults still apply to the answer.
        var refusal: APIReply?
        if let failure = core.authenticationFailure(request.headers[.authorization], now: arrivedAt) {
            refusal = failure.reply
        } else if case .failure(let error) = matched {
            refusal = error.reply
        } else if let missing = core.scopes.withLock({ $0 }).refusal(apiRequest, schema: core.store.schema) {
            refusal = missing.reply
        }
        if let refusal {
            if let reply = try await applyFaults(
                rules, endpoint: endpoint, arrivedAt: arrivedAt, correlationId: correlationId, context: context)?.reply
            {
                return reply
            }
            return record(refusal, endpoint, arrivedAt, correlationId)
        }
        guard case .success(let route) = matched else {
            return record(HubSpotErrorBody.serverError(500).reply, endpoint, arrivedAt, correlationId)
        }  // not reached: a failed match is refused above

        // HubSpot counts a request when it arrives; latency, drops and server errors come after
        // (a slow answer is still counted in the second the request arrived in).
        let decision = core.limits.admit(
            app: core.privateApp(request.headers[.authorization]), isSearch: route.isSearch, now: arrivedAt)
        // From here on the request counts at the time it was admitted (what the limits saw).
        arrivedAt = decision.at
        let faulted = try await applyFaults(
            rules, endpoint: endpoint, arrivedAt: arrivedAt, correlationId: correlationId, context: context)
        if let reply = faulted?.reply { return reply }
        if let policy = decision.refusedBy {
            var reply = HubSpotErrorBody.rateLimited(policy: policy).reply
            reply.headers += decision.headers
            return record(reply, endpoint, arrivedAt, correlationId)
        }
        let slowBody = faulted?.slowBody

        var mutableRequest = request
        do {
            apiRequest.body = Array(buffer: try await mutableRequest.collectBody(upTo: core.configuration.maxBodyBytes))
        } catch {
            var reply = HubSpotErrorBody.bodyTooLarge(limit: core.configuration.maxBodyBytes).reply
            reply.headers += decision.headers
            return record(reply, endpoint, arrivedAt, correlationId)
        }
        var reply: APIReply
        do {
            reply = try route.handler(apiRequest, core.apiContext)
        } catch {
            reply = error.reply
        }
        reply.headers += decision.headers
        return record(reply, endpoint, arrivedAt, correlationId, slowBody: slowBody)
    }

    /// Applies the fault rules: waits out their latency, then drops the connection (throws) or
    /// answers with a server error (`reply`); else says which rule slows the body, if any.
    private func applyFaults(
        _ rules: [FaultRule], endpoint: String, arrivedAt: Int64, correlationId: String,
        context: Context
    ) async throws -> (reply: Response?, slowBody: FaultRule?)? {
        guard !rules.isEmpty else { return nil }
        var slowBody: FaultRule?
        for rule in rules {
            // Every draw of a rule at once, from the seeded generator.
            let (delay, drop, error) = core.faultRandom.withLock { random in
                (
                    rule.latency.sample(using: &random), Double.random(in: 0..<1, using: &random),
                    Double.random(in: 0..<1, using: &random)
                )
            }
            // A long simulated latency must not hold up the simulator's shutdown.
            if delay > 0 { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(delay)) } }
            if rule.dropRate > 0, drop < rule.dropRate {
                core.statistics.record(endpoint: endpoint, status: 0, arrivedAt: arrivedAt)
                context.channel.close(promise: nil)
                throw SimulatedConnectionDrop()
            }
            if rule.errorRate > 0, error < rule.errorRate,
                let status = rule.errorStatuses.isEmpty
                    ? nil
                    : rule.errorStatuses[
                        Int(error / rule.errorRate * Double(rule.errorStatuses.count)) % rule.errorStatuses.count]
            {
                return (record(HubSpotErrorBody.serverError(status).reply, endpoint, arrivedAt, correlationId), nil)
            }
            if rule.slowBodyChunkDelay != nil { slowBody = rule }
        }
        return (nil, slowBody)
    }

    private func record(
        _ reply: APIReply, _ endpoint: String, _ arrivedAt: Int64, _ correlationId: String, slowBody: FaultRule? = nil
    ) -> Response {
        core.statistics.record(endpoint: endpoint, status: reply.status, arrivedAt: arrivedAt)
        if reply.status >= 500 || reply.status == 429 {
            core.logger.debug(
                "answered with an error", metadata: ["endpoint": "\(endpoint)", "status": "\(reply.status)"])
        }
        return Self.response(reply, correlationId: correlationId, slowBody: slowBody)
    }

    static let correlationHeader = HTTPField.Name("X-HubSpot-Correlation-Id")!

    static func response(_ reply: APIReply, correlationId: String?, slowBody: FaultRule?) -> Response {
        var headers = HTTPFields()
        if let correlationId { headers[correlationHeader] = correlationId }
        for (name, value) in reply.headers {
            if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) }
        }
        guard let body = reply.error.map({ $0.render(correlationId: correlationId ?? "") }) ?? reply.body else {
            return Response(status: .init(code: reply.status), headers: headers)
        }
        if headers[.contentType] == nil { headers[.contentType] = "application/json;charset=utf-8" }
        if let slowBody, let delay = slowBody.slowBodyChunkDelay {
            let chunk = max(1, slowBody.slowBodyChunkBytes)
            headers[.contentLength] = String(body.count)
            return Response(
                status: .init(code: reply.status), headers: headers,
                body: ResponseBody(contentLength: body.count) { writer in
                    var offset = 0
                    while offset < body.count {
                        let end = min(body.count, offset + chunk)
                        try await writer.write(ByteBuffer(bytes: body[offset..<end]))
                        offset = end
                        if offset < body.count { try await Task.sleep(for: delay) }
                    }
                    try await writer.finish(nil)
                })
        }
        return Response(
            status: .init(code: reply.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}

/// Thrown after a fault closed the connection on purpose.
struct SimulatedConnectionDrop: Error {}

extension HubSpotErrorBody {
    /// This error as a reply; the responder renders the body with the response's correlation id.
    var reply: APIReply {
        APIReply(status: status, body: nil, headers: extraHeaders, error: self)
    }
}
