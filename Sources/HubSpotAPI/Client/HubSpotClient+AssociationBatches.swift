/// HubSpot's v4 association batch writes (≤ 100 inputs each). Associating is idempotent: an
/// association that exists already is left as it is.
extension HubSpotClient {
    private struct Ref: Encodable { var id: String }
    private struct Pair: Encodable {
        var from: Ref
        var to: Ref
    }

    /// `POST /crm/v4/associations/{from}/{to}/batch/associate/default`: the unlabelled default
    /// type between each pair.
    public func batchAssociateDefault(
        from: String, to: String, pairs: [(fromId: String, toId: String)], options: CallOptions = .init()
    ) async throws {
        let _: Empty = try await call(
            .post, path(.associations, "/\(try segment(from))/\(try segment(to))/batch/associate/default"),
            body: Inputs(inputs: pairs.map { Pair(from: Ref(id: $0.fromId), to: Ref(id: $0.toId)) }),
            endpoint: "associations.batch.associate.default", options: options, idempotentDefault: true)
    }

    /// `POST /crm/v4/associations/{from}/{to}/batch/create`: each pair with its types (labels).
    public func batchAssociate(
        from: String, to: String, inputs: [(fromId: String, toId: String, types: [AssociationSpec])],
        options: CallOptions = .init()
    ) async throws {
        struct Input: Encodable {
            var from: Ref
            var to: Ref
            var types: [AssociationSpec]
        }
        let _: Empty = try await call(
            .post, path(.associations, "/\(try segment(from))/\(try segment(to))/batch/create"),
            body: Inputs(inputs: inputs.map { Input(from: Ref(id: $0.fromId), to: Ref(id: $0.toId), types: $0.types) }),
            endpoint: "associations.batch.create", options: options, idempotentDefault: true)
    }

    /// `POST /crm/v4/associations/{from}/{to}/batch/archive`: every type between each pair.
    public func batchRemoveAssociations(
        from: String, to: String, pairs: [(fromId: String, toId: String)], options: CallOptions = .init()
    ) async throws {
        struct Input: Encodable {
            var from: Ref
            var to: [Ref]
        }
        let _: Empty = try await call(
            .post, path(.associations, "/\(try segment(from))/\(try segment(to))/batch/archive"),
            body: Inputs(inputs: pairs.map { Input(from: Ref(id: $0.fromId), to: [Ref(id: $0.toId)]) }),
            endpoint: "associations.batch.archive", options: options, idempotentDefault: true)
    }
}
