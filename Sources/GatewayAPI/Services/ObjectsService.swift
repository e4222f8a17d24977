import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf

typealias CrmObject = Hubspot_Gateway_V1_CrmObject

/// `hubspot.gateway.v1.ObjectsService`: any CRM object type (companies, tickets, custom
/// objects, …), with properties as HubSpot stores them.
public struct ObjectsService: Hubspot_Gateway_V1_ObjectsService.ServiceProtocol {
    let records: RecordOperations
    let exports: ExportConfiguration
    let running: RunningExports

    /// - Parameter defaultTimeout: the deadline of calls that carry no `grpc-timeout`.
    public init(
        crm: CRM, defaultTimeout: Duration = .seconds(10), exports: ExportConfiguration = .init(),
        running: RunningExports = RunningExports(), idempotentWrites: IdempotentWrites? = nil
    ) {
        records = RecordOperations(
            crm: crm, defaultTimeout: defaultTimeout, idempotency: IdempotentCalls(writes: idempotentWrites))
        self.exports = exports
        self.running = running
    }

    func checked(_ type: String, _ properties: [String]) throws(RPCError) -> [String] {
        try InputValidation.objectType(type)
        try InputValidation.propertyNames(properties, field: "properties")
        return properties  // normalized by the door
    }

    public func getObject(request: ServerRequest<Hubspot_Gateway_V1_GetObjectRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_GetObjectResponse>
    {
        let message = request.message
        let properties = try checked(message.objectType, message.properties)
        if !message.propertiesWithHistory.isEmpty {
            guard message.idProperty.isEmpty else {
                throw InputValidation.invalid(
                    field: "properties_with_history", "property history is read by id only; leave id_property empty")
            }
            let subject = "\(message.objectType) \(message.id)"
            guard
                let object = try await records.withHistory(
                    message.objectType, ids: [message.id], properties: properties,
                    historyOf: message.propertiesWithHistory, request.metadata
                ).first ?? nil
            else { throw GatewayErrors.error(.recordNotFound, "\(subject) not found in HubSpot") }
            return ServerResponse(
                message: .with {
                    $0.object = CrmObject(object)
                    $0.freshness = .with { $0.source = .hubspot }
                })
        }
        if message.idProperty.isEmpty {
            let (object, read) = try await records.get(
                message.objectType, id: message.id, properties: properties, readOptions: message.readOptions,
                subject: "\(message.objectType) \(message.id)", request.metadata)
            return ServerResponse(
                message: .with {
                    $0.object = CrmObject(object); $0.freshness = .init(read)
                })
        }
        try InputValidation.propertyName(message.idProperty, field: "id_property")
        guard !message.id.isEmpty else {
            throw InputValidation.invalid(field: "id", "id is required (the value of id_property)")
        }
        let (object, read) = try await records.get(
            message.objectType, uniqueProperty: message.idProperty, value: message.id, properties: properties,
            readOptions: message.readOptions, subject: "\(message.objectType) with \(message.idProperty) \(message.id)",
            request.metadata)
        return ServerResponse(
            message: .with {
                $0.object = CrmObject(object); $0.freshness = .init(read)
            })
    }

    public func batchGetObjects(
        request: ServerRequest<Hubspot_Gateway_V1_BatchGetObjectsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchGetObjectsResponse> {
        let message = request.message
        let properties = try checked(message.objectType, message.properties)
        let objects =
            message.propertiesWithHistory.isEmpty
            ? try await records.batchGet(
                message.objectType, ids: message.ids, properties: properties, readOptions: message.readOptions,
                request.metadata)
            : try await records.withHistory(
                message.objectType, ids: message.ids, properties: properties,
                historyOf: message.propertiesWithHistory, request.metadata)
        return ServerResponse(
            message: .with { ($0.objects, $0.missingIds) = BatchReads.split(objects, ids: message.ids, CrmObject.init) }
        )
    }

    public func listObjects(request: ServerRequest<Hubspot_Gateway_V1_ListObjectsRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_ListObjectsResponse>
    {
        let message = request.message
        let page = try await records.list(
            message.objectType, page: message.page, properties: try checked(message.objectType, message.properties),
            request.metadata)
        return ServerResponse(
            message: .with {
                $0.objects = page.records.map(CrmObject.init); $0.page = .init(page)
            })
    }

    public func searchObjects(request: ServerRequest<Hubspot_Gateway_V1_SearchObjectsRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_SearchObjectsResponse>
    {
        let message = request.message
        let page = try await records.search(
            message.objectType, query: message.query, page: message.page,
            properties: try checked(message.objectType, message.properties), request.metadata)
        return ServerResponse(
            message: .with {
                $0.objects = page.records.map(CrmObject.init)
                $0.page = .init(page)
            })
    }

    public func createObject(request: ServerRequest<Hubspot_Gateway_V1_CreateObjectRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_CreateObjectResponse>
    {
        try await records.once("CreateObject", request, keyField: \.idempotencyKey) {
            try await createObjectOnce(request)
        }
    }

    private func createObjectOnce(_ request: ServerRequest<Hubspot_Gateway_V1_CreateObjectRequest>) async throws
        -> ServerResponse<Hubspot_Gateway_V1_CreateObjectResponse>
    {
        let message = request.message
        _ = try checked(message.objectType, Array(message.properties.keys))
        guard !message.properties.isEmpty else {
            throw InputValidation.invalid(field: "properties", "properties is empty: a record needs at least one")
        }
        var associations: [NewAssociation] = []
        for (index, target) in message.associations.enumerated() {
            associations.append(
                try AssociationTranslation.input(target, field: "associations[\(index)]", from: message.objectType))
        }
        let written = try await records.write(
            message.objectType, .create(properties: message.properties, associations: associations),
            subject: "the new \(message.objectType) record", request.metadata)
        return ServerResponse(message: .with { $0.object = CrmObject(written) })
    }

    public func updateObject(request: ServerRequest<Hubspot_Gateway_V1_UpdateObjectRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_UpdateObjectResponse>
    {
        let message = request.message
        _ = try checked(message.objectType, Array(message.properties.keys))
        try InputValidation.id(message.id, field: "id")
        var properties = message.properties.mapValues { Optional($0) }
        try InputValidation.clear(message.propertiesToClear, into: &properties)
        let written = try await records.write(
            message.objectType, .update(id: message.id, properties: properties),
            subject: "\(message.objectType) \(message.id)", request.metadata)
        return ServerResponse(message: .with { $0.object = CrmObject(written) })
    }

    public func upsertObject(request: ServerRequest<Hubspot_Gateway_V1_UpsertObjectRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_UpsertObjectResponse>
    {
        let message = request.message
        _ = try checked(message.objectType, Array(message.properties.keys))
        try InputValidation.propertyName(message.idProperty, field: "id_property")
        guard !message.idValue.isEmpty else { throw InputValidation.invalid(field: "id_value", "id_value is required") }
        let written = try await records.write(
            message.objectType,
            .upsert(
                idProperty: message.idProperty, value: message.idValue,
                properties: message.properties.mapValues { Optional($0) }),
            subject: "\(message.objectType) with \(message.idProperty) \(message.idValue)", request.metadata)
        return ServerResponse(
            message: .with {
                $0.object = CrmObject(written); $0.created = written.created ?? false
            })
    }

    public func archiveObject(request: ServerRequest<Hubspot_Gateway_V1_ArchiveObjectRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_ArchiveObjectResponse>
    {
        try InputValidation.objectType(request.message.objectType)
        try await records.archive(
            request.message.objectType, id: request.message.id,
            subject: "\(request.message.objectType) \(request.message.id)", request.metadata)
        return ServerResponse(message: .init())
    }

    public func mergeObjects(request: ServerRequest<Hubspot_Gateway_V1_MergeObjectsRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_MergeObjectsResponse>
    {
        let message = request.message
        try InputValidation.objectType(message.objectType)
        let survivor = try await records.merge(
            message.objectType, primaryId: message.primaryID, mergedId: message.mergedID, request.metadata)
        return ServerResponse(message: .with { $0.object = CrmObject(survivor) })
    }

    public func batchCreateObjects(
        request: ServerRequest<Hubspot_Gateway_V1_BatchCreateObjectsRequest>, context: ServerContext
    )
        async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteObjectsResponse>
    {
        try await records.once("BatchCreateObjects", request, keyField: \.idempotencyKey) {
            try await batchCreateObjectsOnce(request)
        }
    }

    private func batchCreateObjectsOnce(_ request: ServerRequest<Hubspot_Gateway_V1_BatchCreateObjectsRequest>)
        async throws
        -> ServerResponse<Hubspot_Gateway_V1_BatchWriteObjectsResponse>
    {
        try await batchWrite(request.message.objectType, request.message.inputs, request.metadata) {
            index, input throws(RPCError) in
            guard input.id.isEmpty else {
                throw InputValidation.invalid(
                    field: "inputs[\(index)].id", "inputs[\(index)].id must be empty on create")
            }
            try InputValidation.propertyNames(input.properties.keys, field: "inputs[\(index)].properties")
            var associations: [NewAssociation] = []
            for (targetIndex, target) in input.associations.enumerated() {
                associations.append(
                    try AssociationTranslation.input(
                        target, field: "inputs[\(index)].associations[\(targetIndex)]", from: request.message.objectType
                    ))
            }
            return .create(properties: input.properties, associations: associations)
        }
    }

    public func batchUpdateObjects(
        request: ServerRequest<Hubspot_Gateway_V1_BatchUpdateObjectsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteObjectsResponse> {
        try await batchWrite(request.message.objectType, request.message.inputs, request.metadata) {
            index, input throws(RPCError) in
            try InputValidation.id(input.id, field: "inputs[\(index)].id")
            try InputValidation.propertyNames(input.properties.keys, field: "inputs[\(index)].properties")
            guard input.associations.isEmpty else {
                throw InputValidation.invalid(
                    "inputs[\(index)].associations are for creates; associate existing records with AssociationsService.BatchAssociate"
                )
            }
            return .update(id: input.id, properties: input.properties.mapValues { Optional($0) })
        }
    }

    public func batchArchiveObjects(
        request: ServerRequest<Hubspot_Gateway_V1_BatchArchiveObjectsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchArchiveObjectsResponse> {
        try InputValidation.objectType(request.message.objectType)
        try await records.batchArchive(request.message.objectType, ids: request.message.ids, request.metadata)
        return ServerResponse(message: .init())
    }

    private func batchWrite(
        _ type: String, _ inputs: [Hubspot_Gateway_V1_ObjectInput], _ metadata: Metadata,
        _ write: (Int, Hubspot_Gateway_V1_ObjectInput) throws(RPCError) -> ObjectWrite
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteObjectsResponse> {
        try InputValidation.objectType(type)
        let (written, errors) = try await records.batchWrite(
            type, inputs, field: "inputs", metadata, write: write, as: CrmObject.init)
        return ServerResponse(
            message: .with {
                $0.objects = written; $0.errors = errors
            })
    }
}

extension Hubspot_Gateway_V1_CrmObject {
    init(_ object: CRMRecord) {
        self.init()
        id = object.id
        for (name, value) in object.properties { if let value { properties[name] = value } }
        times = .init(object)
        archived = object.archived
        for (name, values) in object.history {
            propertiesWithHistory[name] = .with {
                $0.values = values.map { change in
                    .with {
                        $0.value = change.value
                        if let timestamp = change.timestamp {
                            $0.timestamp = Google_Protobuf_Timestamp(date: timestamp)
                        }
                        $0.sourceType = change.sourceType ?? ""
                        $0.sourceID = change.sourceId ?? ""
                    }
                }
            }
        }
    }
}
