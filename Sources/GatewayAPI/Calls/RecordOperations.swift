import GatewayCore
import GatewayProto
import GRPCCore
import HubSpotAPI

/// The record operations every CRM service shares (any object type), on `HubSpotUpstream`:
/// inputs checked, the caller's deadline and priority applied, errors mapped to gRPC statuses.
struct RecordOperations: Sendable {
    let upstream: HubSpotUpstream
    /// The deadline of calls that carry no `grpc-timeout`.
    let defaultTimeout: Duration

    func context(_ metadata: Metadata) -> CallContext {
        CallContext(metadata: metadata, defaultTimeout: defaultTimeout)
    }

    func mapped<T>(_ subject: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw GatewayErrors.rpcError(error, subject: subject) }
    }

    /// One record through the shared cache; NOT_FOUND when HubSpot does not have it.
    func get(
        _ type: String, id: String, properties: [String], readOptions: Hubspot_Gateway_V1_ReadOptions, subject: String,
        _ metadata: Metadata
    ) async throws -> (HubSpotObject, ObjectCache.Read) {
        let call = context(metadata)
        try InputValidation.id(id, field: "id")
        let read = try await mapped(subject) {
            try await upstream.readObject(
                type: type, id: id, properties: properties, maxStaleness: readOptions.maxStalenessDuration,
                priority: call.priority, deadline: call.deadline)
        }
        guard let object = read.object else {
            throw RPCError(code: .notFound, message: "\(subject) not found in HubSpot")
        }
        return (object, read)
    }

    /// One record by a unique property, straight from HubSpot (the cache is keyed by id).
    func get(
        _ type: String, uniqueProperty: String, value: String, properties: [String], subject: String,
        _ metadata: Metadata
    ) async throws -> HubSpotObject {
        let call = context(metadata)
        return try await explainingIdProperty(type, uniqueProperty, call) {
            try await mapped(subject) {
                try await upstream.object(
                    type, uniqueProperty: uniqueProperty, value: value, properties: properties,
                    priority: call.priority, deadline: call.deadline)
            }
        }
    }

    /// Runs `body`; when HubSpot refuses it as invalid and `idProperty` is not a unique
    /// property of `type` (HubSpot reads and upserts only by those: `domain` of companies is
    /// not one), the error says so and names the type's unique properties. That costs one
    /// properties call, on this error path only.
    func explainingIdProperty<T>(
        _ type: String, _ idProperty: String, _ call: CallContext, _ body: () async throws -> T
    ) async throws -> T {
        do {
            return try await body()
        } catch let error as RPCError where error.code == .invalidArgument {
            guard
                let definitions = try? await upstream.properties(
                    of: type, priority: call.priority, deadline: call.deadline),
                !definitions.contains(where: { $0.name == idProperty && $0.hasUniqueValue == true })
            else { throw error }
            let names = definitions.filter { $0.hasUniqueValue == true }.map(\.name)
            let unique =
                names.isEmpty ? "none yet; create a custom property with unique values" : names.joined(separator: ", ")
            var metadata = error.metadata
            metadata.replaceOrAddString("id_property", forKey: GatewayErrors.Key.property)
            throw RPCError(
                code: .invalidArgument,
                message:
                    "id_property '\(idProperty)' is not a unique property of \(type): HubSpot looks records up and upserts them only by a unique property (for \(type): \(unique)); HubSpot said: \(error.message)",
                metadata: metadata)
        }
    }

    func list(_ type: String, page: Hubspot_Gateway_V1_PageRequest, properties: [String], _ metadata: Metadata)
        async throws -> ObjectPage
    {
        let call = context(metadata)
        let limit = try InputValidation.pageSize(page.pageSize)
        let cursor = page.cursor
        return try await mapped("the \(type) list") {
            try await upstream.list(
                type, limit: limit, after: cursor.isEmpty ? nil : cursor, properties: properties,
                priority: call.priority, deadline: call.deadline)
        }
    }

    func search(
        _ type: String, query: Hubspot_Gateway_V1_SearchQuery, page: Hubspot_Gateway_V1_PageRequest,
        properties: [String], _ metadata: Metadata
    ) async throws -> SearchPage {
        let call = context(metadata)
        let request = try SearchTranslation.request(query, page: page, properties: properties)
        return try await mapped("the \(type) search") {
            try await upstream.search(type, request, priority: call.priority, deadline: call.deadline)
        }
    }

    func write(_ type: String, _ write: ObjectWrite, subject: String, _ metadata: Metadata) async throws
        -> HubSpotObject
    {
        let call = context(metadata)
        guard case .upsert(let idProperty, _, _) = write else {
            return try await mapped(subject) {
                try await upstream.write(type: type, write, priority: call.priority, deadline: call.deadline)
            }
        }
        return try await explainingIdProperty(type, idProperty, call) {
            try await mapped(subject) {
                try await upstream.write(type: type, write, priority: call.priority, deadline: call.deadline)
            }
        }
    }

    func archive(_ type: String, id: String, subject: String, _ metadata: Metadata) async throws {
        let call = context(metadata)
        try InputValidation.id(id, field: "id")
        try await mapped(subject) {
            try await upstream.archive(type, id: id, priority: call.priority, deadline: call.deadline)
        }
    }

    /// Every id through the read coalescer (one HubSpot call for the misses, shared with other
    /// callers); nil for ids HubSpot does not have, in the order asked.
    func batchGet(
        _ type: String, ids: [String], properties: [String], readOptions: Hubspot_Gateway_V1_ReadOptions,
        _ metadata: Metadata
    ) async throws -> [HubSpotObject?] {
        let call = context(metadata)
        try InputValidation.batch(ids.count, field: "ids")
        for (index, id) in ids.enumerated() { try InputValidation.id(id, field: "ids[\(index)]") }
        return try await mapped("the \(type)") {
            try await upstream.readObjects(
                type: type, ids: ids, properties: properties, maxStaleness: readOptions.maxStalenessDuration,
                priority: call.priority, deadline: call.deadline)
        }
    }

    /// Every input through the write coalescer; one result per input.
    func batchWrite(_ type: String, _ writes: [ObjectWrite], _ metadata: Metadata) async -> [Result<
        HubSpotObject, any Error
    >] {
        let call = context(metadata)
        return await upstream.write(type: type, writes, priority: call.priority, deadline: call.deadline)
    }

    func batchArchive(_ type: String, ids: [String], _ metadata: Metadata) async throws {
        let call = context(metadata)
        try InputValidation.batch(ids.count, field: "ids")
        for (index, id) in ids.enumerated() { try InputValidation.id(id, field: "ids[\(index)]") }
        try await mapped("the \(type)") {
            try await upstream.archive(type, ids: ids, priority: call.priority, deadline: call.deadline)
        }
    }
}
