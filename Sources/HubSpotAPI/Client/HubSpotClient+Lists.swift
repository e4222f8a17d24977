/// HubSpot's Lists v3.
extension HubSpotClient {
    /// `POST /crm/v3/lists/search`: lists whose name contains `query`, from `offset`.
    public func searchLists(query: String?, offset: Int, count: Int, options: CallOptions = .init()) async throws
        -> ListSearchPage
    {
        struct Body: Encodable {
            var query: String?
            var offset: Int
            var count: Int
        }
        return try await call(
            .post, path(.lists, "/search"), body: Body(query: query, offset: offset, count: count),
            endpoint: "lists.search", options: options, idempotentDefault: true)
    }

    /// `GET /crm/v3/lists/{id}`.
    public func list(_ id: String, options: CallOptions = .init()) async throws -> HubSpotList {
        struct Answer: Decodable { var list: HubSpotList }
        let answer: Answer = try await call(
            .get, path(.lists, "/\(try segment(id))"), endpoint: "lists.get", options: options, idempotentDefault: true)
        return answer.list
    }

    /// `GET /crm/v3/lists/{id}/memberships`: one page (limit ≤ 250).
    public func listMemberships(_ id: String, limit: Int, after: String?, options: CallOptions = .init()) async throws
        -> ListMembershipPage
    {
        var query = QueryItems()
        query.add("limit", String(limit))
        query.add("after", after)
        return try await call(
            .get, path(.lists, "/\(try segment(id))/memberships"), query: query, endpoint: "lists.memberships",
            options: options, idempotentDefault: true)
    }

    /// `PUT /crm/v3/lists/{id}/memberships/add|remove` (MANUAL lists). Idempotent: a member
    /// added twice is one member.
    public func changeListMemberships(_ id: String, add: Bool, recordIds: [String], options: CallOptions = .init())
        async throws -> ListMembershipChange
    {
        try await call(
            .put, path(.lists, "/\(try segment(id))/memberships/\(add ? "add" : "remove")"), body: recordIds,
            endpoint: "lists.memberships.\(add ? "add" : "remove")", options: options, idempotentDefault: true)
    }

    /// `POST /crm/v3/lists`: a MANUAL (static) list, or a DYNAMIC one of these filters.
    /// Not idempotent: HubSpot refuses a second list of the same name (400).
    public func createList(
        name: String, objectTypeId: String, filters: ListFilterBranch?, options: CallOptions = .init()
    ) async throws -> HubSpotList {
        struct Body: Encodable {
            var name: String
            var objectTypeId: String
            var processingType: String
            var filterBranch: ListFilterBranch?
        }
        struct Answer: Decodable { var list: HubSpotList }
        let answer: Answer = try await call(
            .post, path(.lists, ""),
            body: Body(
                name: name, objectTypeId: objectTypeId, processingType: filters == nil ? "MANUAL" : "DYNAMIC",
                filterBranch: filters),
            endpoint: "lists.create", options: options, idempotentDefault: false)
        return answer.list
    }

    /// `PUT /crm/v3/lists/{id}/update-list-name?listName=…`.
    public func renameList(_ id: String, to name: String, options: CallOptions = .init()) async throws -> HubSpotList {
        struct Answer: Decodable { var updatedList: HubSpotList }
        var query = QueryItems()
        query.add("listName", name)
        let answer: Answer = try await call(
            .put, path(.lists, "/\(try segment(id))/update-list-name"), query: query, endpoint: "lists.rename",
            options: options, idempotentDefault: true)
        return answer.updatedList
    }

    /// `PUT /crm/v3/lists/{id}/update-list-filters` (DYNAMIC lists).
    public func updateListFilters(_ id: String, _ filters: ListFilterBranch, options: CallOptions = .init())
        async throws -> HubSpotList
    {
        struct Body: Encodable { var filterBranch: ListFilterBranch }
        struct Answer: Decodable { var updatedList: HubSpotList }
        let answer: Answer = try await call(
            .put, path(.lists, "/\(try segment(id))/update-list-filters"), body: Body(filterBranch: filters),
            endpoint: "lists.filters", options: options, idempotentDefault: true)
        return answer.updatedList
    }

    /// `DELETE /crm/v3/lists/{id}`.
    public func deleteList(_ id: String, options: CallOptions = .init()) async throws {
        let _: Empty = try await call(
            .delete, path(.lists, "/\(try segment(id))"), endpoint: "lists.delete", options: options,
            idempotentDefault: true)
    }
}
