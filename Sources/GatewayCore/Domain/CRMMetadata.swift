import HubSpotAPI

/// HubSpot's metadata — pipelines, owners, properties, association types — read through the
/// shared metadata cache (`MetadataCache`): its own TTL, one fetch at a time, stale when HubSpot
/// cannot be asked.
public struct CRMMetadata: Sendable {
    let upstream: HubSpotUpstream
    public let cache: MetadataCache

    /// Every pipeline of `type` (deals, tickets), with stages.
    public func pipelines(_ type: String, _ terms: CallTerms) async throws -> [CRMPipeline] {
        let (pipelines, _) = try await cached("pipelines:\(type)") {
            try await upstream.perform(terms) { try await $0.pipelines(of: type, options: $1) }
        }
        return pipelines.map(CRMPipeline.init).sorted { ($0.displayOrder, $0.id) < ($1.displayOrder, $1.id) }
    }

    /// One pipeline of `type`; nil when it has none by that id.
    public func pipeline(_ type: String, id: String, _ terms: CallTerms) async throws -> CRMPipeline? {
        try await pipelines(type, terms).first { $0.id == id }
    }

    /// A page of owners (by email, or the archived ones).
    public func owners(limit: Int, after: String?, email: String?, archived: Bool, _ terms: CallTerms) async throws
        -> CRMOwnerPage
    {
        let name = "owners:\(limit):\(after ?? ""):\(email?.lowercased() ?? ""):\(archived)"
        let (page, _) = try await cached(name) {
            try await upstream.perform(terms) {
                try await $0.owners(limit: limit, after: after, email: email, archived: archived, options: $1)
            }
        }
        return CRMOwnerPage(page)
    }

    /// Every property of `type`, by name.
    public func properties(_ type: String, _ terms: CallTerms) async throws -> [CRMProperty] {
        let (definitions, _) = try await cached(Self.propertiesItem(type)) {
            try await upstream.perform(terms) { try await $0.properties(of: type, options: $1) }
        }
        return definitions.map(CRMProperty.init).sorted { $0.name < $1.name }
    }

    /// The definitions of `type`'s properties only when fresh in the cache (never asks HubSpot).
    func freshProperties(_ type: String) async -> [PropertyDefinition]? {
        await cache.freshValue(Self.propertiesItem(type), as: [PropertyDefinition].self)
    }

    static func propertiesItem(_ type: String) -> String { "properties:\(type)" }

    /// Every association kind from `from` to `to` (HubSpot-defined and labelled).
    public func associationKinds(from: String, to: String, _ terms: CallTerms) async throws -> [AssociationKind] {
        let (labels, _) = try await cached(Self.kindsItem(from, to)) {
            try await upstream.perform(terms) { try await $0.associationLabels(from: from, to: to, options: $1) }
        }
        return labels.map(AssociationKind.init)
    }

    static func kindsItem(_ from: String, _ to: String) -> String { "associations:\(from):\(to)" }

    /// The kind from `from` to `to` a caller named by its label (HubSpot's, such as "Primary",
    /// or one the portal made), case-insensitively. A legacy type name (`contact_to_company`),
    /// which HubSpot refuses from 2026-09, and an unknown label are `.invalidRequest`, naming
    /// what to send instead.
    public func associationKind(labelled label: String, from: String, to: String, _ terms: CallTerms)
        async throws -> AssociationKind
    {
        let kinds = try await associationKinds(from: from, to: to, terms)
        if let kind = kinds.first(where: { $0.label?.lowercased() == label.lowercased() }) { return kind }
        let labels = kinds.compactMap(\.label).map { "'\($0)'" }.joined(separator: ", ")
        if label.contains("_to_") {
            let unlabelled = kinds.first { $0.label == nil }
            throw CRMError(
                .invalidRequest,
                "'\(label)' is a legacy association type name, which HubSpot refuses from API version 2026-09; name the type by type_id"
                    + (unlabelled.map { " (\($0.typeId) is the unlabelled type from \(from) to \(to))" } ?? "")
                    + " or by one of its labels: \(labels.isEmpty ? "none" : labels)")
        }
        throw CRMError(
            .invalidRequest,
            "no association label '\(label)' from \(from) to \(to); its labels are: \(labels.isEmpty ? "none" : labels)"
        )
    }

    /// Makes a label (a USER_DEFINED kind) between two types; HubSpot makes its inverse too.
    /// Answers the kind from `from` to `to`, and its inverse when the answer names it. Both
    /// directions' cached kinds are forgotten fleet-wide.
    public func createAssociationLabel(from: String, to: String, label: String, name: String?, _ terms: CallTerms)
        async throws -> (kind: AssociationKind, inverse: AssociationKind?)
    {
        try Self.authorizeLabels(from, to)
        let name = name ?? label.lowercased().split(separator: " ").joined(separator: "_")
        let made = try await upstream.perform(terms, idempotent: false) {
            try await $0.createAssociationLabel(from: from, to: to, label: label, name: name, options: $1)
        }
        await cache.forget([Self.kindsItem(from, to), Self.kindsItem(to, from)])
        let kinds = made.map(AssociationKind.init)
        guard let first = kinds.first else {
            throw CRMError(.unexpectedAnswer, "HubSpot made the label '\(label)' but named no type for it")
        }
        return (first, kinds.dropFirst().first)
    }

    /// Renames the label of a USER_DEFINED kind (and its inverse's).
    public func renameAssociationLabel(from: String, to: String, typeId: Int, label: String, _ terms: CallTerms)
        async throws
    {
        try Self.authorizeLabels(from, to)
        try await upstream.perform(terms) {
            try await $0.renameAssociationLabel(from: from, to: to, typeId: typeId, label: label, options: $1)
        }
        await cache.forget([Self.kindsItem(from, to), Self.kindsItem(to, from)])
    }

    /// Deletes a USER_DEFINED kind and its inverse.
    public func deleteAssociationLabel(from: String, to: String, typeId: Int, _ terms: CallTerms) async throws {
        try Self.authorizeLabels(from, to)
        try await upstream.perform(terms) {
            try await $0.deleteAssociationLabel(from: from, to: to, typeId: typeId, options: $1)
        }
        await cache.forget([Self.kindsItem(from, to), Self.kindsItem(to, from)])
    }

    /// Labels are part of how records of both types relate: writing them takes write access
    /// to both.
    private static func authorizeLabels(_ from: String, _ to: String) throws {
        try Caller.authorize(.write, from)
        try Caller.authorize(.write, to)
    }

    /// Checks, before a write spends budget on it, that `stage` is a stage of pipeline
    /// `pipelineId` of `type`: `CRMError` `.invalidRequest` naming the pipeline's stages (or the
    /// type's pipelines) when not. When the pipelines cannot be read at all (HubSpot unavailable
    /// and nothing cached) the write goes on: HubSpot checks it too.
    public func checkStage(_ stage: String, pipeline pipelineId: String, of type: String, _ terms: CallTerms)
        async throws
    {
        guard let pipelines = try? await pipelines(type, terms) else { return }
        guard let pipeline = pipelines.first(where: { $0.id == pipelineId }) else {
            throw CRMError(
                .invalidRequest,
                "\(type) have no pipeline '\(pipelineId)'; they have: "
                    + pipelines.map { "\($0.id) (\($0.label))" }.joined(separator: ", "))
        }
        guard pipeline.stages.contains(where: { $0.id == stage }) else {
            throw CRMError(
                .invalidRequest,
                "'\(stage)' is not a stage of the \(type) pipeline '\(pipeline.id)' (\(pipeline.label)); its stages are: "
                    + pipeline.stages.map(\.id).joined(separator: ", "))
        }
    }

    /// Forgets every cached item, fleet-wide.
    public func flush() async throws { try await cache.flush() }

    private func cached<T: Codable & Sendable>(_ name: String, _ fetch: @escaping @Sendable () async throws -> T)
        async throws -> (T, MetadataCache.Freshness)
    {
        try await translatingErrors { try await cache.value(name, fetch: fetch) }
    }
}
