import Foundation
import Tracing
import JSONCore
import Logging
import Time

/// The machinery under every endpoint: one exchange with HubSpot built, sent with retries by
/// the policy, observed and decoded.
extension HubSpotClient {

    struct Inputs<Input: Encodable>: Encodable { var inputs: [Input] }
    struct BatchAnswer: Decodable, JSONValueDecodable {
        var status: String?
        var results: [HubSpotObject]
        var errors: [BatchItemError]?
        var startedAt: Date?
        var completedAt: Date?

        init(json: JSONValue) throws(JSONShapeError) {
            results = []
            for (key, value) in try json.members("batch response") {
                switch key {
                case "status": status = value.stringValue
                case "results":
                    results = try value.elements("results").map { (element: JSONValue) throws(JSONShapeError) in
                        try HubSpotObject(json: element)
                    }
                case "errors":
                    errors = try value.elements("errors").map { (element: JSONValue) throws(JSONShapeError) in
                        try BatchItemError(json: element)
                    }
                case "startedAt": startedAt = try value.date("startedAt")
                case "completedAt": completedAt = try value.date("completedAt")
                default: break
                }
            }
        }
    }
    struct NoBody: Encodable {}
    struct Empty: Decodable {}

    func batch<Body: Encodable>(
        _ path: String, query: QueryItems = QueryItems(), body: Body, endpoint: String, options: CallOptions,
        idempotentDefault: Bool
    ) async throws -> BatchResult {
        let (answer, response): (BatchAnswer, HTTPResponse) = try await exchange(
            .post, path, query: query, body: body, endpoint: endpoint, options: options,
            idempotentDefault: idempotentDefault)
        return BatchResult(
            status: answer.status ?? "COMPLETE", results: answer.results, errors: answer.errors ?? [],
            startedAt: answer.startedAt,
            completedAt: answer.completedAt, httpStatus: response.status,
            correlationId: response.header("X-HubSpot-Correlation-Id"))
    }

    func call<Answer: Decodable>(
        _ method: HTTPRequest.Method, _ path: String, query: QueryItems = QueryItems(), endpoint: String,
        options: CallOptions, idempotentDefault: Bool
    ) async throws -> Answer {
        try await exchange(
            method, path, query: query, body: Optional<NoBody>.none, endpoint: endpoint, options: options,
            idempotentDefault: idempotentDefault
        ).0
    }

    func call<Body: Encodable, Answer: Decodable>(
        _ method: HTTPRequest.Method, _ path: String, query: QueryItems = QueryItems(), body: Body, endpoint: String,
        options: CallOptions, idempotentDefault: Bool
    ) async throws -> Answer {
        try await exchange(
            method, path, query: query, body: body, endpoint: endpoint, options: options,
            idempotentDefault: idempotentDefault
        ).0
    }

    /// Sends with authentication and retries; decodes a 2xx body into `Answer`.
    func exchange<Body: Encodable, Answer: Decodable>(
        _ method: HTTPRequest.Method, _ path: String, query: QueryItems, body: Body?, endpoint: String,
        options: CallOptions, idempotentDefault: Bool
    ) async throws -> (Answer, HTTPResponse) {
        let encodedBody = try body.map { try JSONCoding.encoder.encode($0) }.map(Array.init)
        return try await exchange(
            method, path, query: query, rawBody: encodedBody, contentType: "application/json", endpoint: endpoint,
            options: options, idempotentDefault: idempotentDefault)
    }

    /// As `exchange`, with a body already encoded as `contentType` (a multipart upload).
    func exchange<Answer: Decodable>(
        _ method: HTTPRequest.Method, _ path: String, query: QueryItems, rawBody encodedBody: [UInt8]?,
        contentType: String, endpoint: String, options: CallOptions, idempotentDefault: Bool
    ) async throws -> (Answer, HTTPResponse) {
        try await exchange(
            method, path, query: query, rawBody: encodedBody, contentType: contentType, endpoint: endpoint,
            options: options, idempotentDefault: idempotentDefault
        ) { response in try decode(Answer.self, response, endpoint: endpoint) }
    }

    /// As `exchange`, with the 2xx answer read by `read` (the raw answer of a passed-through call).
    func exchange<Answer>(
        _ method: HTTPRequest.Method, _ path: String, query: QueryItems, rawBody encodedBody: [UInt8]?,
        contentType: String, endpoint: String, options: CallOptions, idempotentDefault: Bool,
        read: (HTTPResponse) throws -> Answer
    ) async throws -> (Answer, HTTPResponse) {
        let url = configuration.baseURL + path + query.encoded
        let idempotent = options.idempotent ?? idempotentDefault
        let clock = ContinuousClock()
        var attempt = 0
        var refreshedAfter401 = false
        var lastError: (any Error)?
        while true {
            attempt += 1
            try Task.checkCancellation()
            var timeout = configuration.requestTimeout
            if let deadline = options.deadline {
                let left = time.now.duration(to: deadline)
                guard left > .milliseconds(1) else {
                    throw lastError.map { HubSpotClientError.deadlineExceeded(lastError: "\($0)") }
                        ?? HubSpotClientError.deadlineExceeded(lastError: nil)
                }
                timeout = min(timeout, left)
            }
            let token = try await authenticator.token()
            var headers: [(name: String, value: String)] = [
                ("Authorization", "Bearer \(token.revealed)"), ("Accept", "application/json"),
            ]
            if encodedBody != nil { headers.append(("Content-Type", contentType)) }
            let started = clock.now
            // One client span per attempt (a retry's wait is not in it).
            let span = InstrumentationSystem.tracer.startSpan("HubSpot \(method.rawValue) \(endpoint)", ofKind: .client)
            span.attributes["http.request.method"] = method.rawValue
            span.attributes["url.path"] = path
            span.attributes["hubspot.endpoint"] = endpoint
            span.attributes["hubspot.attempt"] = Int64(attempt)
            do {
                let response = try await transport.send(
                    HTTPRequest(method: method, url: url, headers: headers, body: encodedBody), timeout: timeout)
                span.attributes["http.response.status_code"] = Int64(response.status)
                if let correlation = response.header("X-HubSpot-Correlation-Id") {
                    span.attributes["hubspot.correlation_id"] = correlation
                }
                if response.status >= 400 {
                    span.setStatus(SpanStatus(code: .error, message: "HTTP \(response.status)"))
                }
                span.end()
                // An OAuth token HubSpot no longer accepts: refresh once and try again.
                var refreshing = false
                if response.status == 401, !refreshedAfter401 {
                    refreshing = await authenticator.invalidate(token)
                }
                var exchange = HubSpotExchange(
                    endpoint: endpoint, status: response.status, duration: clock.now - started,
                    rateLimit: RateLimitStatus(response),
                    correlationId: response.header("X-HubSpot-Correlation-Id"), attempt: attempt)
                exchange.refreshingToken = refreshing
                let failure = (200..<300).contains(response.status) ? nil : HubSpotError(response: response)
                exchange.rateLimitPolicy = response.status == 429 ? failure?.policyName : nil
                observer?(exchange)
                guard let failure else { return (try read(response), response) }
                if refreshing {
                    refreshedAfter401 = true
                    attempt -= 1
                    continue
                }
                throw failure
            } catch let error as CancellationError {
                span.end()
                throw error
            } catch {
                if error is CurlError {
                    span.recordError(error)
                    span.setStatus(SpanStatus(code: .error, message: "\(error)"))
                    span.end()
                    observer?(
                        HubSpotExchange(
                            endpoint: endpoint, status: 0, duration: clock.now - started, rateLimit: RateLimitStatus(),
                            correlationId: nil, attempt: attempt))
                }
                lastError = error
                // No retry left, or waiting would pass the caller's deadline: HubSpot's answer stands.
                guard
                    let delay = configuration.retryPolicy.delay(
                        after: error, attempt: attempt, idempotent: idempotent, deadline: options.deadline,
                        now: time.now)
                else { throw error }
                logger.debug(
                    "retrying HubSpot call",
                    metadata: [
                        "endpoint": "\(endpoint)", "attempt": "\(attempt)", "delay": "\(delay)", "error": "\(error)",
                    ])
                try await time.sleep(for: delay)
            }
        }
    }

    func decode<Answer: Decodable>(_ type: Answer.Type, _ response: HTTPResponse, endpoint: String) throws -> Answer {
        if Answer.self == Empty.self { return Empty() as! Answer }
        if response.body.isEmpty, let empty = Answer.self as? any EmptyBodyDecodable.Type {
            return empty.init() as! Answer
        }
        if let fast = Answer.self as? any JSONValueDecodable.Type {
            do {
                return try fast.init(json: try JSONParser.parse(response.body)) as! Answer
            } catch {
                throw HubSpotClientError.undecodableResponse(
                    endpoint: endpoint, status: response.status, reason: "\(error)")
            }
        }
        do {
            return try response.body.withUnsafeBytes { bytes in
                // Decode straight from the response buffer, without copying it into a Data first.
                try JSONCoding.decoder.decode(
                    Answer.self,
                    from: Data(
                        bytesNoCopy: UnsafeMutableRawPointer(
                            mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!), count: bytes.count,
                        deallocator: .none))
            }
        } catch {
            throw HubSpotClientError.undecodableResponse(
                endpoint: endpoint, status: response.status, reason: "\(error)")
        }
    }

    /// A path segment, percent-encoded; empty segments are refused before any call.
    func segment(_ value: String) throws -> String {
        guard !value.isEmpty else { throw HubSpotClientError.invalidArgument("an object type or id must not be empty") }
        if value.utf8.allSatisfy(isUnreserved) { return value }
        return value.addingPercentEncoding(withAllowedCharacters: .urlPathSegmentAllowed) ?? value
    }
}
