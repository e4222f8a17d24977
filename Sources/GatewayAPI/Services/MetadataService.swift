import Foundation
import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf

/// `hubspot.gateway.v1.MetadataService`: pipelines, owners, properties and association types,
/// from the domain's metadata cache (`Metadata`).
public struct MetadataService: Hubspot_Gateway_V1_MetadataService.ServiceProtocol {
    private let records: RecordOperations
    private var metadata: CRMMetadata { records.crm.metadata }

    /// - Parameter defaultTimeout: the deadline of calls that carry no `grpc-timeout`.
    public init(crm: CRM, defaultTimeout: Duration = .seconds(10)) {
        records = RecordOperations(crm: crm, defaultTimeout: defaultTimeout)
    }

    public func listPipelines(request: ServerRequest<Hubspot_Gateway_V1_ListPipelinesRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_ListPipelinesResponse>
    {
        let type = request.message.objectType
        try InputValidation.objectType(type)
        let terms = records.terms(request.metadata)
        let pipelines = try await records.mapped("the \(type) pipelines") { try await metadata.pipelines(type, terms) }
        return ServerResponse(message: .with { $0.pipelines = pipelines.map(Hubspot_Gateway_V1_Pipeline.init) })
    }

    public func getPipeline(request: ServerRequest<Hubspot_Gateway_V1_GetPipelineRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_GetPipelineResponse>
    {
        let message = request.message
        try InputValidation.objectType(message.objectType)
        guard !message.pipelineID.isEmpty else {
            throw InputValidation.invalid(field: "pipeline_id", "pipeline_id is required")
        }
        let terms = records.terms(request.metadata)
        let pipelines = try await records.mapped("the \(message.objectType) pipelines") {
            try await metadata.pipelines(message.objectType, terms)
        }
        guard let pipeline = pipelines.first(where: { $0.id == message.pipelineID }) else {
            throw GatewayErrors.error(
                .metadataNotFound,
                "\(message.objectType) have no pipeline '\(message.pipelineID)'; they have: \(pipelines.map(\.id).joined(separator: ", "))"
            )
        }
        return ServerResponse(message: .with { $0.pipeline = .init(pipeline) })
    }

    public func listOwners(request: ServerRequest<Hubspot_Gateway_V1_ListOwnersRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_ListOwnersResponse>
    {
        let message = request.message
        guard message.page.pageSize >= 0, message.page.pageSize <= 500 else {
            throw InputValidation.invalid(field: "page.page_size", "page.page_size must be between 0 and 500")
        }
        let limit = message.page.pageSize == 0 ? 100 : Int(message.page.pageSize)
        let terms = records.terms(request.metadata)
        let page = try await records.mapped("the owners") {
            try await metadata.owners(
                limit: limit, after: message.page.cursor.isEmpty ? nil : message.page.cursor,
                email: message.email.isEmpty ? nil : message.email, archived: message.archived, terms)
        }
        return ServerResponse(
            message: .with {
                $0.owners = page.owners.map { owner in
                    .with {
                        $0.id = owner.id
                        $0.email = owner.email
                        $0.firstName = owner.firstName
                        $0.lastName = owner.lastName
                        $0.userID = Int64(owner.userId ?? 0)
                        $0.archived = owner.archived
                    }
                }
                $0.page = .init(next: page.next)
            })
    }

    public func listProperties(request: ServerRequest<Hubspot_Gateway_V1_ListPropertiesRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_ListPropertiesResponse>
    {
        let type = request.message.objectType
        try InputValidation.objectType(type)
        let terms = records.terms(request.metadata)
        let properties = try await records.mapped("the \(type) properties") {
            try await metadata.properties(type, terms)
        }
        return ServerResponse(
            message: .with { $0.properties = properties.map(Hubspot_Gateway_V1_PropertyDefinition.init) })
    }

    public func getProperty(request: ServerRequest<Hubspot_Gateway_V1_GetPropertyRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_GetPropertyResponse>
    {
        let message = request.message
        try InputValidation.objectType(message.objectType)
        try InputValidation.propertyName(message.name, field: "name")
        let terms = records.terms(request.metadata)
        let properties = try await records.mapped("the \(message.objectType) properties") {
            try await metadata.properties(message.objectType, terms)
        }
        guard let property = properties.first(where: { $0.name == message.name }) else {
            throw GatewayErrors.error(.metadataNotFound, "\(message.objectType) have no property '\(message.name)'")
        }
        return ServerResponse(message: .with { $0.property = .init(property) })
    }

    public func listAssociationTypes(
        request: ServerRequest<Hubspot_Gateway_V1_ListAssociationTypesRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_ListAssociationTypesResponse> {
        let message = request.message
        try InputValidation.objectType(message.fromObjectType, field: "from_object_type")
        try InputValidation.objectType(message.toObjectType, field: "to_object_type")
        let terms = records.terms(request.metadata)
        let (kinds, inverse) = try await records.mapped(
            "the \(message.fromObjectType) ↔ \(message.toObjectType) association types"
        ) {
            (
                try await metadata.associationKinds(from: message.fromObjectType, to: message.toObjectType, terms),
                try await metadata.associationKinds(from: message.toObjectType, to: message.fromObjectType, terms)
            )
        }
        return ServerResponse(
            message: .with {
                $0.types = kinds.map(Hubspot_Gateway_V1_AssociationType.init)
                $0.inverseTypes = inverse.map(Hubspot_Gateway_V1_AssociationType.init)
            })
    }

    public func createAssociationLabel(
        request: ServerRequest<Hubspot_Gateway_V1_CreateAssociationLabelRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_CreateAssociationLabelResponse> {
        let message = request.message
        try InputValidation.objectType(message.fromObjectType, field: "from_object_type")
        try InputValidation.objectType(message.toObjectType, field: "to_object_type")
        guard !message.label.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw InputValidation.invalid(field: "label", "label is required")
        }
        let terms = records.terms(request.metadata)
        let made = try await records.mapped("the association label '\(message.label)'") {
            try await metadata.createAssociationLabel(
                from: message.fromObjectType, to: message.toObjectType, label: message.label,
                name: message.name.isEmpty ? nil : message.name, terms)
        }
        return ServerResponse(
            message: .with {
                $0.type = .init(made.kind)
                if let inverse = made.inverse { $0.inverseType = .init(inverse) }
            })
    }

    public func renameAssociationLabel(
        request: ServerRequest<Hubspot_Gateway_V1_RenameAssociationLabelRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_RenameAssociationLabelResponse> {
        let message = request.message
        try labelTarget(message.fromObjectType, message.toObjectType, message.typeID)
        guard !message.label.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw InputValidation.invalid(field: "label", "label is required")
        }
        let terms = records.terms(request.metadata)
        try await records.mapped("the association label \(message.typeID)") {
            try await metadata.renameAssociationLabel(
                from: message.fromObjectType, to: message.toObjectType, typeId: Int(message.typeID),
                label: message.label, terms)
        }
        return ServerResponse(message: .init())
    }

    public func deleteAssociationLabel(
        request: ServerRequest<Hubspot_Gateway_V1_DeleteAssociationLabelRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_DeleteAssociationLabelResponse> {
        let message = request.message
        try labelTarget(message.fromObjectType, message.toObjectType, message.typeID)
        let terms = records.terms(request.metadata)
        try await records.mapped("the association label \(message.typeID)") {
            try await metadata.deleteAssociationLabel(
                from: message.fromObjectType, to: message.toObjectType, typeId: Int(message.typeID), terms)
        }
        return ServerResponse(message: .init())
    }

    private func labelTarget(_ from: String, _ to: String, _ typeId: Int32) throws(RPCError) {
        try InputValidation.objectType(from, field: "from_object_type")
        try InputValidation.objectType(to, field: "to_object_type")
        guard typeId > 0 else { throw InputValidation.invalid(field: "type_id", "type_id must be positive") }
    }
}

extension Hubspot_Gateway_V1_Pipeline {
    init(_ pipeline: CRMPipeline) {
        self.init()
        id = pipeline.id
        label = pipeline.label
        displayOrder = Int32(pipeline.displayOrder)
        stages = pipeline.stages.map { stage in
            .with {
                $0.id = stage.id
                $0.label = stage.label
                $0.displayOrder = Int32(stage.displayOrder)
                if let probability = stage.probability { $0.probability = probability }
                if let isClosed = stage.isClosed { $0.isClosed = isClosed }
            }
        }
    }
}

extension Hubspot_Gateway_V1_PropertyDefinition {
    init(_ property: CRMProperty) {
        self.init()
        name = property.name
        label = property.label
        type = property.type
        fieldType = property.fieldType
        groupName = property.groupName
        options = property.options.map { option in
            .with {
                $0.label = option.label
                $0.value = option.value
            }
        }
        unique = property.hasUniqueValue
        calculated = property.calculated
        readOnly = property.readOnly
    }
}
