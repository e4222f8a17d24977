import CoreMetrics
import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import JSONCore
import Logging
import Time

/// Settings of the REST endpoint.
public struct RESTConfiguration: Sendable {
    /// The deadline of requests without an `X-Gateway-Timeout-Ms` header.
    public var defaultTimeout: Duration = .seconds(10)
    /// Largest request body (HubSpot's own limit is about 3 MB).
    public var maxBodyBytes = 3 * 1024 * 1024
    /// Which finished requests get an access-log line (the gateway's `--access-log`).
    public var accessLog: AccessLogPolicy = .errors

    public init() {}
}

/// HubSpot's CRM object paths (`/crm/v3/objects/…`, and the dated `/crm/objects/2026-09/…`) on the domain, so that code written for a
/// HubSpot SDK moves behind the gateway by changing its base URL and token: the handlers only
/// map HubSpot's JSON to `CRM` calls and the answers and errors back.
public struct CRMObjectRoutes: Sendable {
    let crm: CRM
    let keys: CallerKeys
    let configuration: RESTConfiguration

    public init(crm: CRM, keys: CallerKeys, configuration: RESTConfiguration = .init()) {
        self.crm = crm
        self.keys = keys
        self.configuration = configuration
    }

    /// Registers every route under `/crm/`, observed by a `RESTObservationMiddleware`.
    public func register<Context: RequestContext>(
        on router: Router<Context>, logger: Logger, metricsFactory: (any MetricsFactory)? = nil
    ) {
        let paths = router.group("crm")
            .add(
                middleware: RESTObservationMiddleware<Context>(
                    accessLog: configuration.accessLog, logger: logger, metricsFactory: metricsFactory)
            )
            // A server span per request, continuing the caller's `traceparent` (no-op unless
            // a tracer is bootstrapped).
            .add(middleware: TracingMiddleware<Context>())
        register(on: paths, .legacy)
        register(on: paths.group().add(middleware: DatedVersionMiddleware<Context>()), .dated)
    }

    /// Every CRM route of one path family.
    private func register<Context: RequestContext>(on paths: RouterGroup<Context>, _ family: RESTPathFamily) {
        let objects = paths.group(RouterPath(family.objects))
        objects.get(":type") { request, context in await answer(request) { try await list(request, context) } }
        objects.post(":type") { request, context in await answer(request) { try await create(request, context) } }
        objects.get(":type/:id") { request, context in await answer(request) { try await get(request, context) } }
        objects.patch(":type/:id") { request, context in await answer(request) { try await update(request, context) } }
        objects.delete(":type/:id") { request, context in await answer(request) { try await archive(request, context) }
        }
        objects.post(":type/search") { request, context in await answer(request) { try await search(request, context) }
        }
        objects.post(":type/batch/:operation") { request, context in
            await answer(request) { try await batch(request, context) }
        }
        registerAssociations(on: paths, family)
        registerMetadata(on: paths, family)
    }

    /// The caller `answer` bound for the request; resolved again only to say why there is none.
    func requestCaller(_ request: Request) throws -> Caller {
        try Caller.current ?? FrontMatter.caller(authorization: request.headers[.authorization], keys: keys)
    }

    /// Runs a handler as its caller (`Caller.current`: object-type access, fair sharing of the
    /// budget); its failure in HubSpot's error shape.
    func answer(_ request: Request, _ body: () async throws -> Response) async -> Response {
        do {
            let caller = try? FrontMatter.caller(authorization: request.headers[.authorization], keys: keys)
            return try await Caller.$current.withValue(caller) { try await body() }
        } catch {
            return RESTError.from(error, subject: "the request").response
        }
    }

    // MARK: Calls

    struct Call {
        var caller: Caller
        var terms: CallTerms
        var type: String
    }

    /// The caller (its key and scope), the deadline and the object type (path parameter
    /// `typeParameter`; nil: none) of a request.
    func call(_ request: Request, _ context: some RequestContext, write: Bool, typeParameter: String? = "type")
        throws -> Call
    {
        let caller = try requestCaller(request)
        ObservedRequest.current?.record(caller: caller.service)
        try FrontMatter.admit(caller, to: write ? .write : .read, for: "this request")
        let terms = FrontMatter.terms(
            timeout: request.headers[.gatewayTimeout].flatMap { Int64($0) }.map { .milliseconds($0) },
            defaultTimeout: configuration.defaultTimeout, priority: request.headers[.gatewayPriority])
        guard let typeParameter else { return Call(caller: caller, terms: terms, type: "") }
        let type = try FrontMatter.objectType(context.parameters.get(typeParameter) ?? "", field: "objectType")
        return Call(caller: caller, terms: terms, type: type)
    }

    /// A path parameter as the caller meant it: SDKs percent-encode values such as an e-mail
    /// used as `idProperty` (`a%40b.com`), and the router hands segments over as sent.
    static func pathValue(_ context: some RequestContext, _ name: String) -> String {
        let raw = context.parameters.get(name) ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    /// The request's body, up to `maxBodyBytes` (413 in HubSpot's shape above).
    func body(_ request: Request) async throws -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: configuration.maxBodyBytes)
        } catch {
            throw RESTError(
                .contentTooLarge, "The request body is larger than \(configuration.maxBodyBytes) bytes",
                category: "VALIDATION_ERROR")
        }
    }

    func json(_ request: Request) async throws -> JSONValue {
        let body = try await body(request)
        do {
            return try JSONParser.parse(Array(buffer: body))
        } catch {
            throw RESTError.badRequest("Invalid input JSON on line 1: \(error)")
        }
    }

    static func properties(_ request: Request) -> [String] {
        request.uri.queryParameters.getAll("properties").flatMap { $0.split(separator: ",") }.map(String.init)
    }

    static func json(_ status: HTTPResponse.Status, _ w: JSONWriter, headers: HTTPFields = [:]) -> Response {
        var all = headers
        all[.contentType] = "application/json;charset=utf-8"
        return Response(status: status, headers: all, body: .init(byteBuffer: ByteBuffer(bytes: w.bytes)))
    }

    // MARK: Single records

    func get(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let call = try call(request, context, write: false)
        let id = Self.pathValue(context, "id")
        let properties = Self.properties(request)
        let historyOf = request.uri.queryParameters.getAll("propertiesWithHistory").flatMap { $0.split(separator: ",") }
            .map(String.init)
        if !historyOf.isEmpty {
            // From HubSpot each time: histories are not cached (no ETag, no Age).
            guard request.uri.queryParameters["idProperty"].map(String.init) ?? "hs_object_id" == "hs_object_id" else {
                throw RESTError.badRequest("propertiesWithHistory is read by id only; leave out idProperty")
            }
            guard
                let record = try await crm.records.withHistory(
                    call.type, ids: [id], properties: properties, historyOf: historyOf, call.terms
                ).first ?? nil
            else {
                throw RESTError(
                    .notFound, "Object not found.  objectId are usually numeric.", category: "OBJECT_NOT_FOUND")
            }
            var w = JSONWriter()
            w.record(record)
            return Self.json(.ok, w, headers: [.gatewayCache: "bypass"])
        }
        let staleness = request.headers[.gatewayMaxStaleness].flatMap { Double($0) }
            .map { Duration.milliseconds(Int64($0 * 1000)) }
        let read: RecordRead
        if let idProperty = request.uri.queryParameters["idProperty"].map(String.init), idProperty != "hs_object_id" {
            read = try await crm.records.get(
                call.type, uniqueProperty: idProperty, value: id, properties: properties, maxStaleness: staleness,
                call.terms)
        } else {
            read = try await crm.records.get(
                call.type, id: id, properties: properties, maxStaleness: staleness, call.terms)
        }
        guard let record = read.record else {
            throw RESTError(.notFound, "Object not found.  objectId are usually numeric.", category: "OBJECT_NOT_FOUND")
        }
        var headers: HTTPFields = [
            .eTag: record.entityTag,
            .gatewayCache: read.source == .cache
                ? "hit" : read.source == .stale ? "stale" : "miss",
            .age: String(read.age.components.seconds),
            .cacheControl: "private, max-age=\(max(0, 300 - read.age.components.seconds))",
        ]
        if let match = request.headers[.ifNoneMatch],
            match.split(separator: ",").contains(where: {
                $0.trimmingCharacters(in: .whitespaces) == record.entityTag
            })
        {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        var w = JSONWriter()
        w.record(record)
        return Self.json(.ok, w, headers: headers)
    }

    func list(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let call = try call(request, context, write: false)
        let limit = request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 10
        guard (1...100).contains(limit) else { throw RESTError.badRequest("limit must be between 1 and 100") }
        let archived = request.uri.queryParameters["archived"] == "true"
        let page = try await crm.records.list(
            call.type, limit: limit, after: request.uri.queryParameters["after"].map(String.init),
            properties: Self.properties(request), archived: archived, call.terms)
        var w = JSONWriter(capacity: 4096)
        w.page(page, total: false)
        return Self.json(.ok, w)
    }

    func create(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let call = try call(request, context, write: true)
        let body = try await json(request)
        guard let properties = body["properties"]?.propertyMap else {
            throw RESTError.badRequest("properties must be an object of property names to values")
        }
        let record = try await crm.records.write(
            call.type, .create(properties: properties, associations: try Self.associations(body["associations"])),
            call.terms)
        var w = JSONWriter()
        w.record(record)
        return Self.json(.created, w)
    }

    func update(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let call = try call(request, context, write: true)
        let body = try await json(request)
        guard let properties = body["properties"]?.objectValue else {
            throw RESTError.badRequest("properties must be an object of property names to values")
        }
        let id = Self.pathValue(context, "id")
        let values = Dictionary(uniqueKeysWithValues: properties.map { ($0.key, $0.value.propertyText) })
        let record: CRMRecord
        if let idProperty = request.uri.queryParameters["idProperty"].map(String.init), idProperty != "hs_object_id" {
            record = try await crm.records.write(
                call.type, .upsert(idProperty: idProperty, value: id, properties: values), call.terms)
        } else {
            record = try await crm.records.write(call.type, .update(id: id, properties: values), call.terms)
        }
        var w = JSONWriter()
        w.record(record)
        return Self.json(.ok, w)
    }

    func archive(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let call = try call(request, context, write: true)
        try await crm.records.archive(call.type, id: Self.pathValue(context, "id"), call.terms)
        return Response(status: .noContent)
    }

    /// `associations: [{to: {id}, types: [{associationCategory, associationTypeId}]}]`.
    static func associations(_ value: JSONValue?) throws -> [NewAssociation] {
        guard let items = value?.arrayValue else { return [] }
        return try items.enumerated().map { index, item in
            guard let to = item["to"]?["id"]?.propertyText else {
                throw RESTError.badRequest("associations[\(index)].to.id is required")
            }
            let kinds = try (item["types"]?.arrayValue ?? []).map(Self.kind)
            // The target's type is not in HubSpot's body: the association's type id names it;
            // default kinds need it, so an untyped association is refused.
            guard !kinds.isEmpty else {
                throw RESTError.badRequest("associations[\(index)].types must name at least one association type")
            }
            return NewAssociation(to: RecordRef("", to), kinds: kinds)
        }
    }
}

extension HTTPField.Name {
    /// The gateway's own request and answer headers on HubSpot's paths.
    /// The request id, both ways (`x-request-id` on gRPC).
    static let requestId = Self("X-Request-Id")!
    static let gatewayTimeout = Self("X-Gateway-Timeout-Ms")!
    static let gatewayPriority = Self("X-Gateway-Priority")!
    static let gatewayMaxStaleness = Self("X-Gateway-Max-Staleness")!
    static let gatewayCache = Self("X-Gateway-Cache")!
    static let writeOutcome = Self("X-Write-Outcome")!
}
