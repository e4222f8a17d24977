/// HubSpot's metadata reads: pipelines, owners, association types (properties are in
/// `HubSpotClient.properties(of:)`).
extension HubSpotClient {
    /// `GET /crm/v3/pipelines/{type}`: every pipeline of deals or tickets, with its stages.
    public func pipelines(of type: String, options: CallOptions = .init()) async throws -> [Pipeline] {
        struct Page: Decodable { var results: [Pipeline] }
        let page: Page = try await call(
            .get, path(.pipelines, "/\(try segment(type))"), endpoint: "pipelines.list", options: options,
            idempotentDefault: true)
        return page.results
    }

    /// `GET /crm/v3/owners`: one page (limit ≤ 500), optionally of one email, or the archived ones.
    public func owners(
        limit: Int = 100, after: String? = nil, email: String? = nil, archived: Bool = false,
        options: CallOptions = .init()
    ) async throws -> OwnerPage {
        var query = QueryItems()
        query.add("limit", String(limit))
        query.add("after", after)
        query.add("email", email)
        if archived { query.add("archived", "true") }
        return try await call(
            .get, path(.owners, ""), query: query, endpoint: "owners.list", options: options, idempotentDefault: true)
    }

    /// `GET /crm/v4/associations/{from}/{to}/labels`: every association type from `from` to `to`.
    public func associationLabels(from: String, to: String, options: CallOptions = .init()) async throws
        -> [AssociationLabel]
    {
        struct Page: Decodable { var results: [AssociationLabel] }
        let page: Page = try await call(
            .get, path(.associations, "/\(try segment(from))/\(try segment(to))/labels"),
            endpoint: "associations.labels", options: options, idempotentDefault: true)
        return page.results
    }

    /// `POST …/associations/{from}/{to}/labels` `{label, name}`: a USER_DEFINED association type
    /// between the two types (HubSpot makes its inverse too); answers both.
    public func createAssociationLabel(
        from: String, to: String, label: String, name: String, options: CallOptions = .init()
    ) async throws -> [AssociationLabel] {
        struct Body: Encodable { var label: String; var name: String }
        struct Page: Decodable { var results: [AssociationLabel] }
        let page: Page = try await call(
            .post, path(.associations, "/\(try segment(from))/\(try segment(to))/labels"),
            body: Body(label: label, name: name), endpoint: "associations.labels.create", options: options,
            idempotentDefault: false)
        return page.results
    }

    /// `PUT …/associations/{from}/{to}/labels` `{associationTypeId, label}`: renames a label.
    public func renameAssociationLabel(
        from: String, to: String, typeId: Int, label: String, options: CallOptions = .init()
    ) async throws {
        struct Body: Encodable { var associationTypeId: Int; var label: String }
        let _: Empty = try await call(
            .put, path(.associations, "/\(try segment(from))/\(try segment(to))/labels"),
            body: Body(associationTypeId: typeId, label: label), endpoint: "associations.labels.update",
            options: options, idempotentDefault: true)
    }

    /// `DELETE …/associations/{from}/{to}/labels/{typeId}`: deletes a label (and its inverse).
    public func deleteAssociationLabel(from: String, to: String, typeId: Int, options: CallOptions = .init())
        async throws
    {
        let _: Empty = try await call(
            .delete, path(.associations, "/\(try segment(from))/\(try segment(to))/labels/\(typeId)"),
            endpoint: "associations.labels.delete", options: options, idempotentDefault: true)
    }
}
