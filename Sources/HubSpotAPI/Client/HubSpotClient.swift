import Foundation
import JSONCore
import Logging
import Time

/// Typed calls to HubSpot's CRM APIs (objects, batch, search, properties, associations, …) on
/// the configured version's paths (`HubSpotAPI`), over `CurlTransport`, with authentication,
/// HubSpot's error model and retries.
public struct HubSpotClient: Sendable {
    public private(set) var configuration: HubSpotClientConfiguration
    let transport: CurlTransport
    let authenticator: Authenticator
    let logger: Logger
    let observer: (@Sendable (HubSpotExchange) -> Void)?
    /// What retry waits and deadlines are measured on (a test's manual clock moves them).
    let time: TimeSource

    /// - Parameter observer: called after every HTTP exchange (each attempt), e.g. to read
    ///   HubSpot's rate-limit headers or count calls.
    public init(
        transport: CurlTransport,
        credentials: HubSpotCredentials,
        configuration: HubSpotClientConfiguration = HubSpotClientConfiguration(),
        time: TimeSource = .system,
        logger: Logger = Logger(label: "hubspot-client"),
        observer: (@Sendable (HubSpotExchange) -> Void)? = nil
    ) {
        self.transport = transport
        self.time = time
        self.configuration = configuration
        self.logger = logger
        self.observer = observer
        authenticator = Authenticator(
            credentials: credentials, transport: transport, baseURL: configuration.baseURL,
            timeout: configuration.requestTimeout, version: configuration.apiVersion)
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
        return try await call(
            .get, path(.objects, "/\(try segment(type))/\(try segment(id))"), query: query, endpoint: "objects.get",
            options: options, idempotentDefault: true)
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
        return try await call(
            .get, path(.objects, "/\(try segment(type))"), query: query, endpoint: "objects.list", options: options,
            idempotentDefault: true)
    }

    /// `POST /crm/v3/objects/{type}`. Not retried once it may have reached HubSpot unless
    /// `options.idempotent` says so.
    public func createObject(
        _ type: String, properties: [String: String], associations: [AssociationInput] = [],
        options: CallOptions = .init()
    ) async throws -> HubSpotObject {
        struct Body: Encodable {
            var properties: [String: String]
            var associations: [AssociationInput]
        }
        return try await call(
            .post, path(.objects, "/\(try segment(type))"),
            body: Body(properties: properties, associations: associations),
            endpoint: "objects.create", options: options, idempotentDefault: false)
    }

    /// `PATCH /crm/v3/objects/{type}/{id}`; nil values clear properties.
    public func updateObject(
        _ type: String, id: String, properties: [String: String?], idProperty: String? = nil,
        options: CallOptions = .init()
    ) async throws -> HubSpotObject {
        struct Body: Encodable { var properties: [String: String] }
        var query = QueryItems()
        query.add("idProperty", idProperty)
        return try await call(
            .patch, path(.objects, "/\(try segment(type))/\(try segment(id))"), query: query,
            body: Body(properties: properties.mapValues { $0 ?? "" }), endpoint: "objects.update", options: options,
            idempotentDefault: true)
    }

    /// `DELETE /crm/v3/objects/{type}/{id}` (HubSpot answers 204 even for unknown ids).
    public func archiveObject(_ type: String, id: String, options: CallOptions = .init()) async throws {
        let _: Empty = try await call(
            .delete, path(.objects, "/\(try segment(type))/\(try segment(id))"), endpoint: "objects.archive",
            options: options, idempotentDefault: true)
    }

    /// `POST /crm/v3/objects/{type}/merge`: `mergedId` folds into `primaryId`.
    public func mergeObjects(_ type: String, primaryId: String, mergedId: String, options: CallOptions = .init())
        async throws -> HubSpotObject
    {
        struct Body: Encodable { var primaryObjectId: String; var objectIdToMerge: String }
        return try await call(
            .post, path(.objects, "/\(try segment(type))/merge"),
            body: Body(primaryObjectId: primaryId, objectIdToMerge: mergedId),
            endpoint: "objects.merge", options: options, idempotentDefault: false)
    }

    // MARK: Batch (≤ 100 inputs each)

    /// `POST …/batch/read`; ids HubSpot cannot find come back in `errors` (207).
    public func batchRead(
        _ type: String, ids: [String], properties: [String] = [], propertiesWithHistory: [String] = [],
        idProperty: String? = nil, archived: Bool = false, options: CallOptions = .init()
    ) async throws -> BatchResult {
        struct Input: Encodable { var id: String }
        struct Body: Encodable {
            var inputs: [Input]
            var properties: [String]
            var propertiesWithHistory: [String]
            var idProperty: String?
        }
        var query = QueryItems()
        if archived { query.add("archived", "true") }
        return try await batch(
            path(.objects, "/\(try segment(type))/batch/read"), query: query,
            body: Body(
                inputs: ids.map(Input.init), properties: properties, propertiesWithHistory: propertiesWithHistory,
                idProperty: idProperty),
            endpoint: "objects.batch.read", options: options, idempotentDefault: true)
    }

    /// `POST …/batch/create`. Give every input an `objectWriteTraceId` to have HubSpot report bad
    /// inputs one by one (207) instead of failing the whole batch.
    public func batchCreate(_ type: String, inputs: [BatchCreateInput], options: CallOptions = .init()) async throws
        -> BatchResult
    {
        try await batch(
            path(.objects, "/\(try segment(type))/batch/create"), body: Inputs(inputs: inputs),
            endpoint: "objects.batch.create", options: options, idempotentDefault: false)
    }

    /// `POST …/batch/update`.
    public func batchUpdate(_ type: String, inputs: [BatchUpdateInput], options: CallOptions = .init()) async throws
        -> BatchResult
    {
        try await batch(
            path(.objects, "/\(try segment(type))/batch/update"), body: Inputs(inputs: inputs),
            endpoint: "objects.batch.update", options: options, idempotentDefault: true)
    }

    /// `POST …/batch/upsert`: every input needs `idProperty` (a unique property such as email).
    public func batchUpsert(_ type: String, inputs: [BatchUpdateInput], options: CallOptions = .init()) async throws
        -> BatchResult
    {
        try await batch(
            path(.objects, "/\(try segment(type))/batch/upsert"), body: Inputs(inputs: inputs),
            endpoint: "objects.batch.upsert", options: options, idempotentDefault: true)
    }

    /// `POST …/batch/archive`.
    public func batchArchive(_ type: String, ids: [String], options: CallOptions = .init()) async throws {
        struct Input: Encodable { var id: String }
        let _: Empty = try await call(
            .post, path(.objects, "/\(try segment(type))/batch/archive"), body: Inputs(inputs: ids.map(Input.init)),
            endpoint: "objects.batch.archive", options: options, idempotentDefault: true)
    }

    // MARK: Search

    /// `POST /crm/v3/objects/{type}/search` (HubSpot's separate, lower rate limit applies).
    public func search(_ type: String, _ request: SearchRequest, options: CallOptions = .init()) async throws
        -> SearchPage
    {
        try await call(
            .post, path(.objects, "/\(try segment(type))/search"), body: request, endpoint: "objects.search",
            options: options, idempotentDefault: true)
    }

    // MARK: Properties

    /// `GET /crm/v3/properties/{type}`: every property of the type.
    public func properties(of type: String, options: CallOptions = .init()) async throws -> [PropertyDefinition] {
        struct Page: Decodable { var results: [PropertyDefinition] }
        let page: Page = try await call(
            .get, path(.properties, "/\(try segment(type))"), endpoint: "properties.list", options: options,
            idempotentDefault: true)
        return page.results
    }

    // MARK: Associations v4

    /// `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`: the unlabelled default type.
    public func associateDefault(from: String, id: String, to: String, toId: String, options: CallOptions = .init())
        async throws
    {
        let _: Empty = try await call(
            .put,
            path(
                .recordAssociations,
                "/\(try segment(from))/\(try segment(id))/associations/default/\(try segment(to))/\(try segment(toId))"),
            endpoint: "associations.createDefault", options: options, idempotentDefault: true)
    }

    /// `PUT /crm/v4/objects/{from}/{id}/associations/{to}/{toId}` with types (labels).
    @discardableResult
    public func associate(
        from: String, id: String, to: String, toId: String, types: [AssociationSpec], options: CallOptions = .init()
    ) async throws -> AssociationLabels {
        try await call(
            .put,
            path(
                .recordAssociations,
                "/\(try segment(from))/\(try segment(id))/associations/\(try segment(to))/\(try segment(toId))"),
            body: types, endpoint: "associations.create", options: options, idempotentDefault: true)
    }

    /// One page of a record's associations to `to` (limit ≤ 500).
    public func listAssociations(
        from: String, id: String, to: String, limit: Int = 500, after: String? = nil, options: CallOptions = .init()
    ) async throws -> AssociationPage {
        var query = QueryItems()
        query.add("limit", String(limit))
        query.add("after", after)
        return try await call(
            .get, path(.recordAssociations, "/\(try segment(from))/\(try segment(id))/associations/\(try segment(to))"),
            query: query,
            endpoint: "associations.list", options: options, idempotentDefault: true)
    }

    /// `POST /crm/v4/associations/{from}/{to}/batch/read`.
    public func batchReadAssociations(from: String, to: String, ids: [String], options: CallOptions = .init())
        async throws -> AssociationBatchResult
    {
        struct Input: Encodable { var id: String }
        struct Answer: Decodable {
            var results: [AssociationBatchResult.Item]
            var errors: [BatchItemError]?
        }
        let (answer, response): (Answer, HTTPResponse) = try await exchange(
            .post, path(.associations, "/\(try segment(from))/\(try segment(to))/batch/read"),
            query: QueryItems(), body: Inputs(inputs: ids.map(Input.init)), endpoint: "associations.batch.read",
            options: options, idempotentDefault: true)
        return AssociationBatchResult(results: answer.results, errors: answer.errors ?? [], httpStatus: response.status)
    }

    /// `DELETE /crm/v4/objects/{from}/{id}/associations/{to}/{toId}`: every type between the two.
    public func removeAssociations(from: String, id: String, to: String, toId: String, options: CallOptions = .init())
        async throws
    {
        let _: Empty = try await call(
            .delete,
            path(
                .recordAssociations,
                "/\(try segment(from))/\(try segment(id))/associations/\(try segment(to))/\(try segment(toId))"),
            endpoint: "associations.archive", options: options, idempotentDefault: true)
    }
}
