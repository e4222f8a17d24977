import GatewayCore
import GatewayProto
import GRPCCore

/// The API's typed search query as the domain's, checked against HubSpot's caps.
enum SearchTranslation {
    static func query(
        _ query: Hubspot_Gateway_V1_SearchQuery, page: Hubspot_Gateway_V1_PageRequest, properties: [String]
    ) throws(RPCError) -> RecordQuery {
        guard query.filterGroups.count <= InputValidation.maxFilterGroups else {
            throw InputValidation.invalid(
                "query.filter_groups has \(query.filterGroups.count) groups; HubSpot allows at most \(InputValidation.maxFilterGroups)"
            )
        }
        var total = 0
        var groups: [[RecordQuery.Filter]] = []
        for (groupIndex, group) in query.filterGroups.enumerated() {
            guard group.filters.count <= InputValidation.maxFiltersPerGroup else {
                throw InputValidation.invalid(
                    "query.filter_groups[\(groupIndex)] has \(group.filters.count) filters; HubSpot allows at most \(InputValidation.maxFiltersPerGroup) per group"
                )
            }
            total += group.filters.count
            var filters: [RecordQuery.Filter] = []
            for (filterIndex, filter) in group.filters.enumerated() {
                let field = "query.filter_groups[\(groupIndex)].filters[\(filterIndex)]"
                try InputValidation.propertyName(filter.propertyName, field: field + ".property_name")
                let op = try self.operator(filter.operator, field: field)
                switch op {
                case .between where filter.value.isEmpty || filter.highValue.isEmpty:
                    throw InputValidation.invalid(field: field, "\(field): BETWEEN needs value and high_value")
                case .in where filter.values.isEmpty, .notIn where filter.values.isEmpty:
                    throw InputValidation.invalid(field: field, "\(field): IN and NOT_IN need values")
                default: break
                }
                filters.append(
                    RecordQuery.Filter(
                        filter.propertyName, op, value: filter.value.isEmpty ? nil : filter.value,
                        highValue: filter.highValue.isEmpty ? nil : filter.highValue,
                        values: filter.values.isEmpty ? nil : filter.values))
            }
            groups.append(filters)
        }
        guard total <= InputValidation.maxFilters else {
            throw InputValidation.invalid(
                "query has \(total) filters in all; HubSpot allows at most \(InputValidation.maxFilters)")
        }
        var sorts: [RecordQuery.Sort] = []
        for (index, sort) in query.sorts.enumerated() {
            try InputValidation.propertyName(sort.propertyName, field: "query.sorts[\(index)].property_name")
            sorts.append(RecordQuery.Sort(sort.propertyName, descending: sort.direction == .descending))
        }
        let limit = try InputValidation.pageSize(page.pageSize, search: true)
        return RecordQuery(
            filterGroups: groups, sorts: sorts, text: query.query.isEmpty ? nil : query.query, properties: properties,
            limit: limit, after: page.cursor.isEmpty ? nil : page.cursor)
    }

    private static func `operator`(_ value: Hubspot_Gateway_V1_FilterOperator, field: String) throws(RPCError)
        -> RecordQuery.Filter.Operator
    {
        switch value {
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
        case .unspecified, .UNRECOGNIZED:
            throw InputValidation.invalid(field: "\(field).operator", "\(field).operator must be set")
        }
    }
}
