import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import JSONCore
import Time

/// `POST /crm/v3/objects/{type}/batch/{read,create,update,upsert,archive}` and `/search`.
extension CRMObjectRoutes {
    static let maxBatchInputs = 100

    func batch(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let operation = context.parameters.get("operation") ?? ""
        guard ["read", "create", "update", "upsert", "archive"].contains(operation) else {
            throw RESTError(.notFound, "Unknown batch operation '\(operation)'", category: "OBJECT_NOT_FOUND")
        }
        let call = try call(request, context, write: operation != "read")
        let body = try await json(request)
        guard let inputs = body["inputs"]?.arrayValue else { throw RESTError.badRequest("inputs must be an array") }
        guard inputs.count <= Self.maxBatchInputs else {
            throw RESTError.badRequest(
                "Batch inputs are limited to \(Self.maxBatchInputs); this request has \(inputs.count). Split it into several batches."
            )
        }
        let started = Date()
        switch operation {
        case "read":
            let ids = try inputs.enumerated().map { index, input in
                guard let id = input["id"]?.propertyText else {
                    throw RESTError.badRequest("inputs[\(index)].id is required")
                }
                return id
            }
            let properties = (body["properties"]?.arrayValue ?? []).compactMap(\.stringValue)
            let historyOf = (body["propertiesWithHistory"]?.arrayValue ?? []).compactMap(\.stringValue)
            // With history: from HubSpot each time (histories are not cached), 50 records a call.
            let records =
                historyOf.isEmpty
                ? try await crm.records.get(call.type, ids: ids, properties: properties, call.terms)
                : try await crm.records.withHistory(
                    call.type, ids: ids, properties: properties, historyOf: historyOf, call.terms)
            let missing = zip(ids, records).filter { $0.1 == nil }.map(\.0)
            var errors: [RESTError] = []
            if !missing.isEmpty {
                var error = RESTError(
                    .notFound, "Could not get some \(call.type) objects, they may be deleted or not exist.",
                    category: "OBJECT_NOT_FOUND")
                error.context = ["ids": missing]
                errors.append(error)
            }
            return Self.batchAnswer(records.compactMap { $0 }, errors: errors, started: started, created: false)
        case "archive":
            let ids = try inputs.enumerated().map { index, input in
                guard let id = input["id"]?.propertyText else {
                    throw RESTError.badRequest("inputs[\(index)].id is required")
                }
                return id
            }
            try await crm.records.archive(call.type, ids: ids, call.terms)
            return Response(status: .noContent)
        default:
            let writes: [ObjectWrite] = try inputs.enumerated().map { index, input in
                guard let properties = input["properties"]?.objectValue else {
                    throw RESTError.badRequest("inputs[\(index)].properties must be an object")
                }
                let values = Dictionary(uniqueKeysWithValues: properties.map { ($0.key, $0.value.propertyText) })
                switch operation {
                case "create":
                    return .create(
                        properties: values.compactMapValues { $0 },
                        associations: try Self.associations(input["associations"]))
                case "update":
                    guard let id = input["id"]?.propertyText else {
                        throw RESTError.badRequest("inputs[\(index)].id is required")
                    }
                    if let idProperty = input["idProperty"]?.stringValue, idProperty != "hs_object_id" {
                        return .upsert(idProperty: idProperty, value: id, properties: values)
                    }
                    return .update(id: id, properties: values)
                default:
                    guard let id = input["id"]?.propertyText, let idProperty = input["idProperty"]?.stringValue else {
                        throw RESTError.badRequest("inputs[\(index)] needs id and idProperty to upsert")
                    }
                    return .upsert(idProperty: idProperty, value: id, properties: values)
                }
            }
            let results = await crm.records.write(call.type, writes, call.terms)
            var errors: [RESTError] = []
            var written: [CRMRecord] = []
            for (index, result) in results.enumerated() {
                switch result {
                case .success(let record): written.append(record)
                case .failure(let failure):
                    var error = RESTError.from(failure, subject: "inputs[\(index)]")
                    error.context["inputs"] = [String(index)]
                    errors.append(error)
                }
            }
            if written.isEmpty, let first = errors.first { throw first }
            return Self.batchAnswer(written, errors: errors, started: started, created: operation == "create")
        }
    }

    /// HubSpot's batch answer: 200 (201 for creates) when every input went through, 207 with
    /// `errors` when some did not.
    static func batchAnswer(_ records: [CRMRecord], errors: [RESTError], started: Date, created: Bool) -> Response {
        var w = JSONWriter(capacity: 8192)
        w.beginObject()
        w.member("status", "COMPLETE")
        w.key("results")
        w.beginArray()
        for record in records { w.record(record) }
        w.endArray()
        if !errors.isEmpty {
            w.member("numErrors", errors.count)
            w.key("errors")
            w.beginArray()
            for error in errors { w.value(try! JSONParser.parse(error.body.bytes)) }
            w.endArray()
        }
        w.member("startedAt", HubSpotTimestamp.format(started))
        w.member("completedAt", HubSpotTimestamp.format(Date()))
        w.endObject()
        return json(errors.isEmpty ? (created ? .created : .ok) : .init(code: 207), w)
    }

    func search(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let call = try call(request, context, write: false)
        let body = try await json(request)
        var groups: [[RecordQuery.Filter]] = []
        for (g, group) in (body["filterGroups"]?.arrayValue ?? []).enumerated() {
            var filters: [RecordQuery.Filter] = []
            for (f, filter) in (group["filters"]?.arrayValue ?? []).enumerated() {
                let field = "filterGroups[\(g)].filters[\(f)]"
                guard let name = filter["propertyName"]?.stringValue,
                    let op = filter["operator"]?.stringValue.flatMap({ Self.searchOperators[$0] })
                else { throw RESTError.badRequest("\(field) needs propertyName and a known operator") }
                filters.append(
                    RecordQuery.Filter(
                        name, op, value: filter["value"]?.propertyText, highValue: filter["highValue"]?.propertyText,
                        values: filter["values"]?.arrayValue?.compactMap(\.propertyText)))
            }
            groups.append(filters)
        }
        let sorts = (body["sorts"]?.arrayValue ?? []).compactMap { sort -> RecordQuery.Sort? in
            guard let name = sort["propertyName"]?.stringValue else { return nil }
            return RecordQuery.Sort(name, descending: sort["direction"]?.stringValue == "DESCENDING")
        }
        let limit = body["limit"]?.propertyText.flatMap { Int($0) } ?? 10
        guard (1...200).contains(limit) else { throw RESTError.badRequest("limit must be between 1 and 200") }
        let query = RecordQuery(
            filterGroups: groups, sorts: sorts, text: body["query"]?.stringValue,
            properties: (body["properties"]?.arrayValue ?? []).compactMap(\.stringValue), limit: limit,
            after: body["after"]?.propertyText)
        let page = try await crm.records.search(call.type, query, call.terms)
        var w = JSONWriter(capacity: 4096)
        w.page(page, total: true)
        return Self.json(.ok, w)
    }

    static let searchOperators: [String: RecordQuery.Filter.Operator] = [
        "EQ": .eq, "NEQ": .neq, "LT": .lt, "LTE": .lte, "GT": .gt, "GTE": .gte, "BETWEEN": .between, "IN": .in,
        "NOT_IN": .notIn, "HAS_PROPERTY": .hasProperty, "NOT_HAS_PROPERTY": .notHasProperty,
        "CONTAINS_TOKEN": .containsToken, "NOT_CONTAINS_TOKEN": .notContainsToken,
    ]
}
