import HubSpotAPI

// The domain's types to and from HubSpotAPI's wire models, written once; nothing above
// GatewayCore sees the wire models.

extension CRMRecord {
    init(_ object: HubSpotObject) {
        self.init(
            id: object.id, properties: object.properties, createdAt: object.createdAt, updatedAt: object.updatedAt,
            archived: object.archived ?? false, archivedAt: object.archivedAt, created: object.new)
        history = (object.propertiesWithHistory ?? [:]).mapValues { versions in
            versions.map {
                PropertyValueChange(
                    value: $0.value, timestamp: $0.timestamp, sourceType: $0.sourceType, sourceId: $0.sourceId)
            }
        }
    }
}

extension RecordRead {
    init(_ read: ObjectCache.Read) {
        self.init(record: read.object.map(CRMRecord.init), source: read.source, age: read.age)
    }
}

extension RecordPage {
    init(_ page: ObjectPage) {
        self.init(records: page.results.map(CRMRecord.init), next: page.nextAfter, total: nil)
    }

    init(_ page: SearchPage) {
        self.init(records: page.results.map(CRMRecord.init), next: page.nextAfter, total: page.total)
    }
}

extension SearchRequest {
    init(_ query: RecordQuery) {
        self.init(
            filterGroups: query.filterGroups.map { FilterGroup($0.map(Filter.init)) },
            sorts: query.sorts.map { Sort($0.property, $0.descending ? .descending : .ascending) },
            query: query.text, properties: PropertyNames.normalized(query.properties), limit: query.limit,
            after: query.after)
    }
}

extension Filter {
    init(_ filter: RecordQuery.Filter) {
        let op: Operator =
            switch filter.operator {
            case .eq: .eq
            case .neq: .neq
            case .lt: .lt
            case .lte: .lte
            case .gt: .gt
            case .gte: .gte
            case .between: .between
            case .in: .in
            case .notIn: .notIn
            case .hasProperty: .hasProperty
            case .notHasProperty: .notHasProperty
            case .containsToken: .containsToken
            case .notContainsToken: .notContainsToken
            }
        self.init(filter.property, op, value: filter.value, highValue: filter.highValue, values: filter.values)
    }
}

extension AssociationCategory {
    init(_ category: AssociationKind.Category) {
        switch category {
        case .hubspotDefined: self = .hubspotDefined
        case .userDefined: self = .userDefined
        case .integratorDefined: self = .integratorDefined
        }
    }
}

extension AssociationKind {
    init(_ type: AssociationType) {
        self.init(Category(type.category), type.typeId, label: type.label)
    }

    init(_ label: AssociationLabel) {
        self.init(Category(label.category), label.typeId, label: label.label)
    }

    var spec: AssociationSpec { AssociationSpec(AssociationCategory(category), typeId) }
}

extension AssociationInput {
    init(_ association: NewAssociation) {
        self.init(toId: association.to.id, types: association.kinds.map(\.spec))
    }
}

extension AssociationPage {
    init(_ page: HubSpotAPI.AssociationPage) {
        self.init(
            associations: page.results.map {
                Association(toId: $0.toObjectId, kinds: $0.associationTypes.map(AssociationKind.init))
            }, next: page.nextAfter)
    }
}

extension Association {
    /// A batch association read's answer, keyed by the record asked about.
    static func byRecord(_ batch: AssociationBatchResult) -> [String: [Association]] {
        var found: [String: [Association]] = [:]
        for item in batch.results {
            found[item.from.id, default: []] += item.to.map {
                Association(toId: $0.toObjectId, kinds: $0.associationTypes.map(AssociationKind.init))
            }
        }
        return found
    }
}

extension CRMPipeline {
    init(_ pipeline: Pipeline) {
        self.init(
            id: pipeline.id, label: pipeline.label, displayOrder: pipeline.displayOrder ?? 0,
            stages: pipeline.stages.enumerated().map { index, stage in
                Stage(
                    id: stage.id, label: stage.label, displayOrder: stage.displayOrder ?? index,
                    probability: stage.metadata?["probability"].flatMap(Double.init),
                    isClosed: stage.metadata?["isClosed"].map { $0 == "true" })
            }.sorted { $0.displayOrder < $1.displayOrder })
    }
}

extension CRMOwnerPage {
    init(_ page: OwnerPage) {
        self.init(
            owners: page.results.map {
                CRMOwner(
                    id: $0.id, email: $0.email ?? "", firstName: $0.firstName ?? "", lastName: $0.lastName ?? "",
                    userId: $0.userId, archived: $0.archived ?? false)
            }, next: page.nextAfter)
    }
}

extension CRMProperty {
    init(_ definition: PropertyDefinition) {
        self.init(
            name: definition.name, label: definition.label ?? definition.name, type: definition.type,
            fieldType: definition.fieldType ?? "", groupName: definition.groupName ?? "",
            options: (definition.options ?? []).map { Option(label: $0.label, value: $0.value) },
            hasUniqueValue: definition.hasUniqueValue ?? false, calculated: definition.calculated ?? false,
            readOnly: definition.modificationMetadata?.readOnlyValue ?? false)
    }
}

extension AssociationKind.Category {
    /// HubSpot's name of the category (`HUBSPOT_DEFINED`, `USER_DEFINED`, `INTEGRATOR_DEFINED`).
    public var hubSpotName: String { AssociationCategory(self).rawValue }

    /// The category HubSpot names so; HubSpot's own types for anything else.
    public init(hubSpotName: String?) {
        self.init(hubSpotName.flatMap(AssociationCategory.init(rawValue:)) ?? .hubspotDefined)
    }

    init(_ category: AssociationCategory) {
        self =
            switch category {
            case .hubspotDefined: .hubspotDefined
            case .userDefined: .userDefined
            case .integratorDefined: .integratorDefined
            }
    }
}

extension CRMList {
    init(_ list: HubSpotList) {
        self.init(
            id: list.listId, name: list.name, objectTypeId: list.objectTypeId, processingType: list.processingType,
            size: list.size, updatedAt: list.updatedAt)
    }
}

extension CRMListPage {
    init(_ page: ListSearchPage) {
        self.init(lists: page.lists.map(CRMList.init), nextOffset: page.hasMore ? page.offset : nil, total: page.total)
    }
}

extension CRMListMembers {
    init(_ page: ListMembershipPage) {
        self.init(recordIds: page.results.map(\.recordId), next: page.nextAfter)
    }
}

extension CRMListChange {
    init(_ change: ListMembershipChange, add: Bool) {
        self.init(
            changed: (add ? change.recordIdsAdded : change.recordIdsRemoved) ?? [],
            missing: change.recordIdsMissing ?? [])
    }
}

extension HubSpotUpstream {
    /// One HubSpot call of a domain operation, through the door on the caller's terms (budget,
    /// breaker, the door's retries); objects named in `invalidating` are dropped from the cache
    /// (the call is a write). Its failure comes back as a `CRMError`.
    func perform<T: Sendable>(
        _ terms: CallTerms, _ kind: UpstreamCallKind = .general, idempotent: Bool = true,
        invalidating objects: [(type: String, id: String)] = [],
        _ body: @Sendable (HubSpotClient, CallOptions) async throws -> T
    ) async throws -> T {
        do {
            return try await call(terms, kind, idempotent: idempotent, invalidating: objects, body)
        } catch { throw CRMError.translating(error) }
    }
}
