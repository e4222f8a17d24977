import Foundation
import JSONCore
import Logging

/// Settings of a `HubSpotClient`.
public struct HubSpotClientConfiguration: Sendable {
    /// `https://api.hubapi.com`, or a simulator's URL.
    public var baseURL: String = "https://api.hubapi.com"
    /// Longest single HTTP exchange; the caller's deadline shortens it.
    public var requestTimeout: Duration = .seconds(30)
    /// How failed calls are retried.
    public var retryPolicy = HubSpotRetryPolicy()

    public init(baseURL: String = "https://api.hubapi.com") {
        self.baseURL = baseURL
    }
}

/// Per-call settings.
public struct CallOptions: Sendable {
    /// No attempt starts, and no retry waits, past this instant.
    public var deadline: ContinuousClock.Instant?
    /// Repeating the call is harmless even if HubSpot acted on an earlier attempt (reads,
    /// updates, upserts, archives are; plain creates are not unless the caller deduplicates).
    public var idempotent: Bool?

    public init(deadline: ContinuousClock.Instant? = nil, idempotent: Bool? = nil) {
        self.deadline = deadline
        self.idempotent = idempotent
    }
}

/// What one HTTP exchange with HubSpot looked like, for metrics and for the rate limiter.
public struct HubSpotExchange: Sendable {
    /// e.g. `objects.get`, `objects.batch.read`, `objects.search`.
    public var endpoint: String
    /// 0 when no answer came (transport error).
    public var status: Int
    public var duration: Duration
    public var rateLimit: RateLimitStatus
    public var correlationId: String?
    /// 1 for the first attempt.
    public var attempt: Int
}

/// Typed calls to HubSpot's CRM v3 API (objects, batch, search, properties) and associations v4,
/// over `CurlTransport`, with authentication, HubSpot's error model and retries.
public struct HubSpotClient: Sendable {
    public private(set) var configuration: HubSpotClientConfiguration
    private let transport: CurlTransport
    private let authenticator: Authenticator
    private let logger: Logger
    private let observer: (@Sendable (HubSpotExchange) -> Void)?

    /// - Parameter observer: called after every HTTP exchange (each attempt), e.g. to read
    ///   HubSpot's rate-limit headers or count calls.
    public init(
        transport: CurlTransport,
        credentials: HubSpotCredentials,
        configuration: HubSpotClientConfiguration = HubSpotClientConfiguration(),
        logger: Logger = Logger(label: "hubspot-client"),
        observer: (@Sendable (HubSpotExchange) -> Void)? = nil
    ) {
        self.transport = transport
        self.configuration = configuration
        self.logger = logger
        self.observer = observer
        authenticator = Authenticator(credentials: credentials, transport: transport, baseURL: configuration.baseURL, timeout: configuration.requestTimeout)
    }

    /// The same client (transport, credentials, observer) retrying by `policy`; e.g. `.none`
    /// for a caller that retries itself through a rate limiter.
    public func retrying(by policy: HubSpotRetryPolicy) -> HubSpotClient {
        var copy = self
        copy.configuration.retryPolicy = policy
        return copy
    }

    // MARK: Objects

    /// `GET /crm/v3/objects/{type}/{id}`; by a unique property when `idProperty` is given.
    public func getObject(
        _ type: String, id: String, properties: [String] = [], propertiesWithHistory: [String] = [],
        associations: [String] = [], idProperty: String? = nil, archived: Bool = false, options: CallOptions = .init()
    ) async throws -> HubSpotObject {
        var query = QueryItems()
        query.add("properties", properties)
        query.add("propertiesWithHistory", propertiesWithHistory)
        query.add("associations", associations)
        query.add("idProperty", idProperty)
        if archived { query.add("archived", "true") }
        return try await call(.get, "/crm/v3/objects/\(try segment(type))/\(try segment(id))", query: query, endpoint: "objects.get", options: options, idempotentDefault: true)
    }

    /// One page of `GET /crm/v3/objects/{type}` (limit ≤ 100).
    public func listObjects(
        _ type: String, limit: Int = 100, after: String? = nil, properties: [String] = [],
        associations: [String] = [], archived: Bool = false, options: CallOptions = .init()
    ) async throws -> ObjectPage {
        var query = QueryItems()
        query.add("limit", String(limit))
        query.add("after", after)
        query.add("properties", properties)
        query.add("associations", associations)
        if archived { query.add("archived", "true") }
        return try await call(.get, "/crm/v3/objects/\(try segment(type))", query: query, endpoint: "objects.list", options: options, idempotentDefault: true)
    }

    /// `POST /crm/v3/objects/{type}`. Not retried once it may have reached HubSpot unless
    /// `options.idempotent` says so.
    public func createObject(_ type: String, properties: [String: String], associations: [AssociationInput] = [], options: CallOptions = .init()) async throws -> HubSpotObject {
        struct Body: Encodable {
            var properties: [String: String]
            var associations: [AssociationInput]
        }
        return try await call(.post, "/crm/v3/objects/\(try segment(type))", body: Body(properties: properties, associations: associations),
            endpoint: "objects.create", options: options, idempotentDefault: false)
    }

    /// `PATCH /crm/v3/objects/{type}/{id}`; nil values clear properties.
    public func updateObject(_ type: String, id: String, properties: [String: String?], idProperty: String? = nil, options: CallOptions = .init()) async throws -> HubSpotObject {
        struct Body: Encodable { var properties: [String: String] }
        var query = QueryItems()
        query.add("idProperty", idProperty)
        return try await call(.patch, "/crm/v3/objects/\(try segment(type))/\(try segment(id))", query: query,
            body: Body(properties: properties.mapValues { $0 ?? "" }), endpoint: "objects.update", options: options, idempotentDefault: true)
    }

    /// `DELETE /crm/v3/objects/{type}/{id}` (HubSpot answers 204 even for unknown ids).
    public func archiveObject(_ type: String, id: String, options: CallOptions = .init()) async throws {
        let _: Empty = try await call(.delete, "/crm/v3/objects/\(try segment(type))/\(try segment(id))", endpoint: "objects.archive", options: options, idempotentDefault: true)
    }

    /// `POST /crm/v3/objects/{type}/merge`: `mergedId` folds into `primaryId`.
    public func mergeObjects(_ type: String, primaryId: String, mergedId: String, options: CallOptions = .init()) async throws -> HubSpotObject {
        struct Body: Encodable { var primaryObjectId: String; var objectIdToMerge: String }
        return try await call(.post, "/crm/v3/objects/\(try segment(type))/merge", body: Body(primaryObjectId: primaryId, objectIdToMerge: mergedId),
            endpoint: "objects.merge", options: options, idempotentDefault: false)
    }

    // MARK: Batch (≤ 100 inputs each)

    /// `POST …/batch/read`; ids HubSpot cannot find come back in `errors` (207).
    public func batchRead(_ type: String, ids: [String], properties: [String] = [], propertiesWithHistory: [String] = [], idProperty: String? = nil, archived: Bool = false, options: CallOptions = .init()) async throws -> BatchResult {
        struct Input: Encodable { var id: String }
        struct Body: Encodable {
            var inputs: [Input]
            var properties: [String]
            var propertiesWithHistory: [String]
            var idProperty: String?
        }
        var query = QueryItems()
        if archived { query.add("archived", "true") }
        return try await batch("/crm/v3/objects/\(try segment(type))/batch/read", query: query,
            body: Body(inputs: ids.map(Input.init), properties: properties, propertiesWithHistory: propertiesWithHistory, idProperty: idProperty),
            endpoint: "objects.batch.read", options: options, idempotentDefault: true)
    }

    /// `POST …/batch/create`. Give every input an `objectWriteTraceId` to have HubSpot report bad
    /// inputs one by one (207) instead of failing the whole batch.
    public func batchCreate(_ type: String, inputs: [BatchCreateInput], options: CallOptions = .init()) async throws -> BatchResult {
        try await batch("/crm/v3/objects/\(try segment(type))/batch/create", body: Inputs(inputs: inputs), endpoint: "objects.batch.create", options: options, idempotentDefault: false)
    }

    /// `POST …/batch/update`.
    public func batchUpdate(_ type: String, inputs: [BatchUpdateInput], options: CallOptions = .init()) async throws -> BatchResult {
        try await batch("/crm/v3/objects/\(try segment(type))/batch/update", body: Inputs(inputs: inputs), endpoint: "objects.batch.update", options: options, idempotentDefault: true)
    }

    /// `POST …/batch/upsert`: every input needs `idProperty` (a unique property such as email).
    public func batchUpsert(_ type: String, inputs: [BatchUpdateInput], options: CallOptions = .init()) async throws -> BatchResult {
        try await batch("/crm/v3/objects/\(try segment(type))/batch/upsert", body: Inputs(inputs: inputs), endpoint: "objects.batch.upsert", options: options, idempotentDefault: true)
    }

    /// `POST …/batch/archive`.
    public func batchArchive(_ type: String, ids: [String], options: CallOptions = .init()) async throws {
        struct Input: Encodable { var id: String }
        let _: Empty = try await call(.post, "/crm/v3/objects/\(try segment(type))/batch/archive", body: Inputs(inputs: ids.map(Input.init)),
            endpoint: "objects.batch.archive", options: options, idempotentDefault: true)
    }

    // MARK: Search

    /// `POST /crm/v3/objects/{type}/search` (HubSpot's separate, lower rate limit applies).
    public func search(_ type: String, _ request: SearchRequest, options: CallOptions = .init()) async throws -> SearchPage {
        try await call(.post, "/crm/v3/objects/\(try segment(type))/search", body: request, endpoint: "objects.search", options: options, idempotentDefault: true)
    }

    // MARK: Properties

    /// `GET /crm/v3/properties/{type}`: every property of the type.
    public func properties(of type: String, options: CallOptions = .init()) async throws -> [PropertyDefinition] {
        struct Page: Decodable { var results: [PropertyDefinition] }
        let page: Page = try await call(.get, "/crm/v3/properties/\(try segment(type))", endpoint: "properties.list", options: options, idempotentDefault: true)
        return page.results
    }

    // MARK: Associations v4

    /// `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`: the unlabelled default type.
    public func associateDefault(from: String, id: String, to: String, toId: String, options: CallOptions = .init()) async throws {
        let _: Empty = try await call(.put, "/crm/v4/objects/\(try segment(from))/\(try segment(id))/associations/default/\(try segment(to))/\(try segment(toId))",
            endpoint: "associations.createDefault", options: options, idempotentDefault: true)
    }

    /// `PUT /crm/v4/objects/{from}/{id}/associations/{to}/{toId}` with types (labels).
    @discardableResult
    public func associate(from: String, id: String, to: String, toId: String, types: [AssociationSpec], options: CallOptions = .init()) async throws -> AssociationLabels {
        try await call(.put, "/crm/v4/objects/\(try segment(from))/\(try segment(id))/associations/\(try segment(to))/\(try segment(toId))",
            body: types, endpoint: "associations.create", options: options, idempotentDefault: true)
    }

    /// One page of a record's associations to `to` (limit ≤ 500).
    public func listAssociations(from: String, id: String, to: String, limit: Int = 500, after: String? = nil, options: CallOptions = .init()) async throws -> AssociationPage {
        var query = QueryItems()
        query.add("limit", String(limit))
        query.add("after", after)
        return try await call(.get, "/crm/v4/objects/\(try segment(from))/\(try segment(id))/associations/\(try segment(to))", query: query,
            endpoint: "associations.list", options: options, idempotentDefault: true)
    }

    /// `POST /crm/v4/associations/{from}/{to}/batch/read`.
    public func batchReadAssociations(from: String, to: String, ids: [String], options: CallOptions = .init()) async throws -> AssociationBatchResult {
        struct Input: Encodable { var id: String }
        struct Answer: Decodable {
            var results: [AssociationBatchResult.Item]
            var errors: [BatchItemError]?
        }
        let (answer, response): (Answer, HTTPResponse) = try await exchange(.post, "/crm/v4/associations/\(try segment(from))/\(try segment(to))/batch/read",
            query: QueryItems(), body: Inputs(inputs: ids.map(Input.init)), endpoint: "associations.batch.read", options: options, idempotentDefault: true)
        return AssociationBatchResult(results: answer.results, errors: answer.errors ?? [], httpStatus: response.status)
    }

    /// `DELETE /crm/v4/objects/{from}/{id}/associations/{to}/{toId}`: every type between the two.
    public func removeAssociations(from: String, id: String, to: String, toId: String, options: CallOptions = .init()) async throws {
        let _: Empty = try await call(.delete, "/crm/v4/objects/\(try segment(from))/\(try segment(id))/associations/\(try segment(to))/\(try segment(toId))",
            endpoint: "associations.archive", options: options, idempotentDefault: true)
    }

    // MARK: Machinery

    private struct Inputs<Input: Encodable>: Encodable { var inputs: [Input] }
    private struct BatchAnswer: Decodable, JSONValueDecodable {
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
                case "results": results = try value.elements("results").map { (element: JSONValue) throws(JSONShapeError) in try HubSpotObject(json: element) }
                case "errors": errors = try value.elements("errors").map { (element: JSONValue) throws(JSONShapeError) in try BatchItemError(json: element) }
                case "startedAt": startedAt = try value.date("startedAt")
                case "completedAt": completedAt = try value.date("completedAt")
                default: break
                }
            }
        }
    }
    private struct NoBody: Encodable {}
    private struct Empty: Decodable {}

    private func batch<Body: Encodable>(_ path: String, query: QueryItems = QueryItems(), body: Body, endpoint: String, options: CallOptions, idempotentDefault: Bool) async throws -> BatchResult {
        let (answer, response): (BatchAnswer, HTTPResponse) = try await exchange(.post, path, query: query, body: body, endpoint: endpoint, options: options, idempotentDefault: idempotentDefault)
        return BatchResult(status: answer.status ?? "COMPLETE", results: answer.results, errors: answer.errors ?? [], startedAt: answer.startedAt,
            completedAt: answer.completedAt, httpStatus: response.status, correlationId: response.header("X-HubSpot-Correlation-Id"))
    }

    private func call<Answer: Decodable>(_ method: HTTPRequest.Method, _ path: String, query: QueryItems = QueryItems(), endpoint: String, options: CallOptions, idempotentDefault: Bool) async throws -> Answer {
        try await exchange(method, path, query: query, body: Optional<NoBody>.none, endpoint: endpoint, options: options, idempotentDefault: idempotentDefault).0
    }

    private func call<Body: Encodable, Answer: Decodable>(_ method: HTTPRequest.Method, _ path: String, query: QueryItems = QueryItems(), body: Body, endpoint: String, options: CallOptions, idempotentDefault: Bool) async throws -> Answer {
        try await exchange(method, path, query: query, body: body, endpoint: endpoint, options: options, idempotentDefault: idempotentDefault).0
    }

    /// Sends with authentication and retries; decodes a 2xx body into `Answer`.
    private func exchange<Body: Encodable, Answer: Decodable>(
        _ method: HTTPRequest.Method, _ path: String, query: QueryItems, body: Body?, endpoint: String, options: CallOptions, idempotentDefault: Bool
    ) async throws -> (Answer, HTTPResponse) {
        let url = configuration.baseURL + path + query.encoded
        let encodedBody = try body.map { try JSONCoding.encoder.encode($0) }.map(Array.init)
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
                let left = clock.now.duration(to: deadline)
                guard left > .milliseconds(1) else { throw lastError.map { HubSpotClientError.deadlineExceeded(lastError: "\($0)") } ?? HubSpotClientError.deadlineExceeded(lastError: nil) }
                timeout = min(timeout, left)
            }
            let token = try await authenticator.token()
            var headers: [(name: String, value: String)] = [("Authorization", "Bearer \(token.revealed)"), ("Accept", "application/json")]
            if encodedBody != nil { headers.append(("Content-Type", "application/json")) }
            let started = clock.now
            do {
                let response = try await transport.send(HTTPRequest(method: method, url: url, headers: headers, body: encodedBody), timeout: timeout)
                observer?(HubSpotExchange(endpoint: endpoint, status: response.status, duration: clock.now - started, rateLimit: RateLimitStatus(response),
                    correlationId: response.header("X-HubSpot-Correlation-Id"), attempt: attempt))
                if (200..<300).contains(response.status) {
                    return (try decode(Answer.self, response, endpoint: endpoint), response)
                }
                let error = HubSpotError(response: response)
                if error.status == 401, !refreshedAfter401, await authenticator.invalidate(token) {
                    // An OAuth token HubSpot no longer accepts: refresh once and try again.
                    refreshedAfter401 = true
                    attempt -= 1
                    continue
                }
                throw error
            } catch let error as CancellationError {
                throw error
            } catch {
                if error is CurlError {
                    observer?(HubSpotExchange(endpoint: endpoint, status: 0, duration: clock.now - started, rateLimit: RateLimitStatus(), correlationId: nil, attempt: attempt))
                }
                lastError = error
                guard case .retry(let delay) = configuration.retryPolicy.decide(after: error, attempt: attempt, idempotent: idempotent) else { throw error }
                if let deadline = options.deadline, clock.now + delay >= deadline {
                    // Waiting would pass the caller's deadline: give up now with HubSpot's answer.
                    throw error
                }
                logger.debug("retrying HubSpot call", metadata: ["endpoint": "\(endpoint)", "attempt": "\(attempt)", "delay": "\(delay)", "error": "\(error)"])
                try await Task.sleep(for: delay)
            }
        }
    }

    private func decode<Answer: Decodable>(_ type: Answer.Type, _ response: HTTPResponse, endpoint: String) throws -> Answer {
        if Answer.self == Empty.self { return Empty() as! Answer }
        if let fast = Answer.self as? any JSONValueDecodable.Type {
            do {
                return try fast.init(json: try JSONParser.parse(response.body)) as! Answer
            } catch {
                throw HubSpotClientError.undecodableResponse(endpoint: endpoint, status: response.status, reason: "\(error)")
            }
        }
        do {
            return try response.body.withUnsafeBytes { bytes in
                // Decode straight from the response buffer, without copying it into a Data first.
                try JSONCoding.decoder.decode(Answer.self, from: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!), count: bytes.count, deallocator: .none))
            }
        } catch {
            throw HubSpotClientError.undecodableResponse(endpoint: endpoint, status: response.status, reason: "\(error)")
        }
    }

    /// A path segment, percent-encoded; empty segments are refused before any call.
    private func segment(_ value: String) throws -> String {
        guard !value.isEmpty else { throw HubSpotClientError.invalidArgument("an object type or id must not be empty") }
        if value.utf8.allSatisfy(isUnreserved) { return value }
        return value.addingPercentEncoding(withAllowedCharacters: .urlPathSegmentAllowed) ?? value
    }
}

/// Query parameters, repeated names allowed (`properties=a&properties=b` is HubSpot's form).
struct QueryItems {
    private var items: [(String, String)] = []

    mutating func add(_ name: String, _ value: String?) {
        if let value { items.append((name, value)) }
    }

    mutating func add(_ name: String, _ values: [String]) {
        if !values.isEmpty { items.append((name, values.joined(separator: ","))) }
    }

    var encoded: String {
        guard !items.isEmpty else { return "" }
        return "?" + items.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
    }

    private static func escape(_ text: String) -> String {
        if text.utf8.allSatisfy({ isUnreserved($0) || $0 == UInt8(ascii: ",") }) { return text }
        return text.addingPercentEncoding(withAllowedCharacters: .urlQueryValueAllowed) ?? text
    }
}

/// RFC 3986 unreserved characters, which never need escaping.
@inline(__always)
func isUnreserved(_ byte: UInt8) -> Bool {
    (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
        || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
}

extension CharacterSet {
    static let urlPathSegmentAllowed: CharacterSet = {
        var set = CharacterSet.urlPathAllowed
        set.remove(charactersIn: "/")
        return set
    }()

    static let urlQueryValueAllowed: CharacterSet = {
        var set = CharacterSet.urlQueryAllowed
        set.remove(charactersIn: "&=+?#")
        return set
    }()
}

/// JSON coders that read and write HubSpot's timestamps (`2019-10-30T03:30:17.883Z`).
enum JSONCoding {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = HubSpotTimestamp.parse(text) { return date }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO-8601 timestamp: \(text)")
        }
        return decoder
    }()

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(HubSpotTimestamp.format(date))
        }
        return encoder
    }()
}
