import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf

/// What every CRM service's handlers share (any object type): proto input checked, the caller's
/// deadline and priority applied, the domain (`CRM`) called, its errors mapped to gRPC statuses.
struct RecordOperations: Sendable {
    let crm: CRM
    /// The deadline of calls that carry no `grpc-timeout`.
    let defaultTimeout: Duration
    /// Creates keyed by an idempotency key run once per key.
    var idempotency = IdempotentCalls(writes: nil)

    /// `body`'s response once per idempotency key of the request (its `idempotency_key` field or
    /// `idempotency-key` metadata; none: `body` runs as any call).
    func once<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: String, _ request: ServerRequest<Request>, keyField: WritableKeyPath<Request, String>,
        _ body: () async throws -> ServerResponse<Response>
    ) async throws -> ServerResponse<Response> {
        let key = try IdempotentCalls.key(field: request.message[keyPath: keyField], request.metadata)
        var fingerprinted = request.message
        fingerprinted[keyPath: keyField] = ""
        let response = try await idempotency.run(
            method, key: key, request: fingerprinted, request.metadata, deadline: terms(request.metadata).deadline
        ) { try await body().message }
        return ServerResponse(message: response)
    }

    func terms(_ metadata: Metadata) -> CallTerms {
        let call = CallContext(metadata: metadata, defaultTimeout: defaultTimeout)
        return CallTerms(priority: call.priority, deadline: call.deadline)
    }

    func mapped<T>(_ subject: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw GatewayErrors.rpcError(error, subject: subject) }
    }

    /// One record through the shared cache; NOT_FOUND when HubSpot does not have it.
    func get(
        _ type: String, id: String, properties: [String], readOptions: Hubspot_Gateway_V1_ReadOptions, subject: String,
        _ metadata: Metadata
    ) async throws -> (CRMRecord, RecordRead) {
        try InputValidation.id(id, field: "id")
        let terms = terms(metadata)
        let read = try await mapped(subject) {
            try await crm.records.get(
                type, id: id, properties: properties, maxStaleness: readOptions.maxStalenessDuration, terms)
        }
        guard let record = read.record else {
            throw GatewayErrors.error(.recordNotFound, "\(subject) not found in HubSpot")
        }
        return (record, read)
    }

    /// A deal's lines with their products (`Records.lines`).
    func lines(
        ofDeal id: String, lineItemProperties: [String], productProperties: [String],
        readOptions: Hubspot_Gateway_V1_ReadOptions, _ metadata: Metadata
    ) async throws -> [DealLine] {
        let terms = terms(metadata)
        return try await mapped("the lines of deal \(id)") {
            try await crm.records.lines(
                ofDeal: id, lineItemProperties: lineItemProperties, productProperties: productProperties,
                maxStaleness: readOptions.maxStalenessDuration, terms)
        }
    }

    /// Records by id with the history of `historyOf`, from HubSpot (histories are not cached);
    /// nil where HubSpot has none.
    func withHistory(
        _ type: String, ids: [String], properties: [String], historyOf: [String], _ metadata: Metadata
    ) async throws -> [CRMRecord?] {
        try InputValidation.batch(ids.count, field: "ids")
        for (index, id) in ids.enumerated() {
            try InputValidation.id(id, field: ids.count == 1 ? "id" : "ids[\(index)]")
        }
        try InputValidation.propertyNames(historyOf, field: "properties_with_history")
        let terms = terms(metadata)
        return try await mapped("the \(type)") {
            try await crm.records.withHistory(type, ids: ids, properties: properties, historyOf: historyOf, terms)
        }
    }

    /// One record by the value of a unique property (cached like reads by id); NOT_FOUND when
    /// no record holds it.
    func get(
        _ type: String, uniqueProperty: String, value: String, properties: [String],
        readOptions: Hubspot_Gateway_V1_ReadOptions, subject: String, _ metadata: Metadata
    ) async throws -> (CRMRecord, RecordRead) {
        let terms = terms(metadata)
        let read = try await mapped(subject) {
            try await crm.records.get(
                type, uniqueProperty: uniqueProperty, value: value, properties: properties,
                maxStaleness: readOptions.maxStalenessDuration, terms)
        }
        guard let record = read.record else {
            throw GatewayErrors.error(.recordNotFound, "\(subject) not found in HubSpot")
        }
        return (record, read)
    }

    func list(_ type: String, page: Hubspot_Gateway_V1_PageRequest, properties: [String], _ metadata: Metadata)
        async throws -> RecordPage
    {
        let limit = try InputValidation.pageSize(page.pageSize)
        let terms = terms(metadata)
        let cursor = page.cursor
        return try await mapped("the \(type) list") {
            try await crm.records.list(
                type, limit: limit, after: cursor.isEmpty ? nil : cursor, properties: properties, terms)
        }
    }

    func search(
        _ type: String, query: Hubspot_Gateway_V1_SearchQuery, page: Hubspot_Gateway_V1_PageRequest,
        properties: [String], _ metadata: Metadata
    ) async throws -> RecordPage {
        let query = try SearchTranslation.query(query, page: page, properties: properties)
        let terms = terms(metadata)
        return try await mapped("the \(type) search") { try await crm.records.search(type, query, terms) }
    }

    func write(_ type: String, _ write: ObjectWrite, subject: String, _ metadata: Metadata) async throws
        -> CRMRecord
    {
        let terms = terms(metadata)
        return try await mapped(subject) { try await crm.records.write(type, write, terms) }
    }

    /// Merges two records of `type`; both ids checked, and not the same.
    func merge(_ type: String, primaryId: String, mergedId: String, _ metadata: Metadata) async throws -> CRMRecord {
        try InputValidation.id(primaryId, field: "primary_id")
        try InputValidation.id(mergedId, field: "merged_id")
        guard primaryId != mergedId else {
            throw InputValidation.invalid(
                "primary_id and merged_id are both \(primaryId); a record cannot merge into itself")
        }
        let terms = terms(metadata)
        return try await mapped("the merge of \(type) \(mergedId) into \(primaryId)") {
            try await crm.records.merge(type, primaryId: primaryId, mergedId: mergedId, terms)
        }
    }

    func archive(_ type: String, id: String, subject: String, _ metadata: Metadata) async throws {
        try InputValidation.id(id, field: "id")
        let terms = terms(metadata)
        try await mapped(subject) { try await crm.records.archive(type, id: id, terms) }
    }

    /// Every id through the cache and one shared batch read for the misses; nil for ids HubSpot
    /// does not have, in the order asked.
    func batchGet(
        _ type: String, ids: [String], properties: [String], readOptions: Hubspot_Gateway_V1_ReadOptions,
        _ metadata: Metadata
    ) async throws -> [CRMRecord?] {
        try InputValidation.batch(ids.count, field: "ids")
        for (index, id) in ids.enumerated() { try InputValidation.id(id, field: "ids[\(index)]") }
        let terms = terms(metadata)
        return try await mapped("the \(type)") {
            try await crm.records.get(
                type, ids: ids, properties: properties, maxStaleness: readOptions.maxStalenessDuration, terms)
        }
    }

    /// A batch-write RPC, whatever its message types: each input checked and turned into a
    /// write by `write` (its index and the input), all written (merged with other callers'
    /// writes into HubSpot batch calls), and the per-input results mapped back in input order
    /// (`BatchWrites.split`).
    func batchWrite<Input, Message: SwiftProtobuf.Message>(
        _ type: String, _ inputs: [Input], field: String, _ metadata: Metadata,
        write: (Int, Input) throws(RPCError) -> ObjectWrite, as convert: (CRMRecord) -> Message
    ) async throws -> (records: [Message], errors: [Hubspot_Gateway_V1_BatchError]) {
        try InputValidation.batch(inputs.count, field: field)
        var writes: [ObjectWrite] = []
        for (index, input) in inputs.enumerated() { writes.append(try write(index, input)) }
        let results = await crm.records.write(type, writes, terms(metadata))
        return BatchWrites.split(results, subject: field, convert)
    }

    func batchArchive(_ type: String, ids: [String], _ metadata: Metadata) async throws {
        try InputValidation.batch(ids.count, field: "ids")
        for (index, id) in ids.enumerated() { try InputValidation.id(id, field: "ids[\(index)]") }
        let terms = terms(metadata)
        try await mapped("the \(type)") { try await crm.records.archive(type, ids: ids, terms) }
    }
}
