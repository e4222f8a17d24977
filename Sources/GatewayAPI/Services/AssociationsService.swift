import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf

/// `hubspot.gateway.v1.AssociationsService`: associations v4 between records of any types.
public struct AssociationsService: Hubspot_Gateway_V1_AssociationsService.ServiceProtocol {
    private let records: RecordOperations

    /// - Parameter defaultTimeout: the deadline of calls that carry no `grpc-timeout`.
    public init(crm: CRM, defaultTimeout: Duration = .seconds(10)) {
        records = RecordOperations(crm: crm, defaultTimeout: defaultTimeout)
    }

    private func check(_ ref: Hubspot_Gateway_V1_ObjectRef, field: String) throws(RPCError) {
        try InputValidation.objectType(ref.objectType, field: field + ".object_type")
        try InputValidation.id(ref.id, field: field + ".id")
    }

    public func associate(request: ServerRequest<Hubspot_Gateway_V1_AssociateRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_AssociateResponse>
    {
        let message = request.message
        try check(message.from, field: "from")
        try check(message.to, field: "to")
        var kinds: [AssociationKind] = []
        for (index, type) in message.types.enumerated() {
            kinds.append(try AssociationTranslation.kind(type, field: "types[\(index)]"))
        }
        let (from, to) = (RecordRef(message.from), RecordRef(message.to))
        let terms = records.terms(request.metadata)
        let now = try await records.mapped("the association \(from) → \(to)") {
            try await records.crm.associations.associate(from, to, kinds: kinds, terms)
        }
        return ServerResponse(message: .with { $0.types = now.map(Hubspot_Gateway_V1_AssociationType.init) })
    }

    public func listAssociations(
        request: ServerRequest<Hubspot_Gateway_V1_ListAssociationsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_ListAssociationsResponse> {
        let message = request.message
        try check(message.from, field: "from")
        try InputValidation.objectType(message.toObjectType, field: "to_object_type")
        guard message.page.pageSize >= 0, message.page.pageSize <= 500 else {
            throw InputValidation.invalid(field: "page.page_size", "page.page_size must be between 0 and 500")
        }
        let limit = message.page.pageSize == 0 ? 100 : Int(message.page.pageSize)
        let terms = records.terms(request.metadata)
        let cursor = message.page.cursor
        let from = RecordRef(message.from.objectType, message.from.id)
        let page = try await records.mapped("the associations of \(from)") {
            try await records.crm.associations.list(
                of: from, toType: message.toObjectType, limit: limit, after: cursor.isEmpty ? nil : cursor, terms)
        }
        return ServerResponse(
            message: .with {
                $0.associations = page.associations.map(Hubspot_Gateway_V1_Association.init)
                $0.page = .init(next: page.next)
            })
    }

    public func removeAssociation(
        request: ServerRequest<Hubspot_Gateway_V1_RemoveAssociationRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_RemoveAssociationResponse> {
        let message = request.message
        try check(message.from, field: "from")
        try check(message.to, field: "to")
        let (from, to) = (RecordRef(message.from), RecordRef(message.to))
        let terms = records.terms(request.metadata)
        try await records.mapped("the association \(from) → \(to)") {
            try await records.crm.associations.remove(from, to, terms)
        }
        return ServerResponse(message: .init())
    }

    /// The pairs of a batch (≤ 100), checked, as domain references.
    private func pairs(
        _ pairs: [Hubspot_Gateway_V1_AssociationPair], from: String, to: String
    ) throws(RPCError) -> [(from: RecordRef, to: RecordRef)] {
        try InputValidation.objectType(from, field: "from_object_type")
        try InputValidation.objectType(to, field: "to_object_type")
        try InputValidation.batch(pairs.count, field: "pairs")
        var refs: [(from: RecordRef, to: RecordRef)] = []
        for (index, pair) in pairs.enumerated() {
            try InputValidation.id(pair.fromID, field: "pairs[\(index)].from_id")
            try InputValidation.id(pair.toID, field: "pairs[\(index)].to_id")
            refs.append((RecordRef(from, pair.fromID), RecordRef(to, pair.toID)))
        }
        return refs
    }

    /// Per-pair failures as `BatchError`s.
    private static func errors(_ results: [Result<Void, any Error>], _ pairs: [(from: RecordRef, to: RecordRef)])
        -> [Hubspot_Gateway_V1_BatchError]
    {
        results.enumerated().compactMap { index, result in
            guard case .failure(let error) = result else { return nil }
            return BatchWrites.error(
                index: index, error, subject: "the association \(pairs[index].from) → \(pairs[index].to)")
        }
    }

    public func batchAssociate(
        request: ServerRequest<Hubspot_Gateway_V1_BatchAssociateRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchAssociateResponse> {
        let message = request.message
        let refs = try pairs(message.pairs, from: message.fromObjectType, to: message.toObjectType)
        var kinds: [AssociationKind] = []
        for (index, type) in message.types.enumerated() {
            kinds.append(try AssociationTranslation.kind(type, field: "types[\(index)]"))
        }
        let results = await records.crm.associations.associate(refs, kinds: kinds, records.terms(request.metadata))
        return ServerResponse(message: .with { $0.errors = Self.errors(results, refs) })
    }

    public func batchRemoveAssociations(
        request: ServerRequest<Hubspot_Gateway_V1_BatchRemoveAssociationsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchRemoveAssociationsResponse> {
        let message = request.message
        let refs = try pairs(message.pairs, from: message.fromObjectType, to: message.toObjectType)
        let results = await records.crm.associations.remove(refs, records.terms(request.metadata))
        return ServerResponse(message: .with { $0.errors = Self.errors(results, refs) })
    }

    public func batchListAssociations(
        request: ServerRequest<Hubspot_Gateway_V1_BatchListAssociationsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchListAssociationsResponse> {
        let message = request.message
        try InputValidation.objectType(message.fromObjectType, field: "from_object_type")
        try InputValidation.objectType(message.toObjectType, field: "to_object_type")
        guard !message.ids.isEmpty, message.ids.count <= 1000 else {
            throw InputValidation.invalid(
                "ids must hold 1 to 1,000 ids (HubSpot's batch read), not \(message.ids.count)")
        }
        for (index, id) in message.ids.enumerated() { try InputValidation.id(id, field: "ids[\(index)]") }
        let terms = records.terms(request.metadata)
        let found = try await records.mapped("the \(message.toObjectType) associations of \(message.fromObjectType)") {
            try await records.crm.associations.list(
                of: message.fromObjectType, ids: message.ids, toType: message.toObjectType, terms)
        }
        return ServerResponse(
            message: .with {
                $0.results = message.ids.map { id in
                    .with {
                        $0.fromID = id
                        $0.associations = (found[id] ?? []).map(Hubspot_Gateway_V1_Association.init)
                    }
                }
            })
    }
}

extension RecordRef {
    init(_ ref: Hubspot_Gateway_V1_ObjectRef) { self.init(ref.objectType, ref.id) }

}

extension Hubspot_Gateway_V1_Association {
    init(_ association: Association) {
        self.init()
        toObjectID = association.toId
        types = association.kinds.map(Hubspot_Gateway_V1_AssociationType.init)
    }
}
