/// A search over the records of one type: the groups are ORed, the filters of a group ANDed.
/// HubSpot's caps (groups, filters, page size) are checked by the API layer against its input.
public struct RecordQuery: Sendable, Equatable {
    public struct Filter: Sendable, Equatable {
        public enum Operator: Sendable, Equatable, CaseIterable {
            case eq, neq, lt, lte, gt, gte, between, `in`, notIn, hasProperty, notHasProperty
            case containsToken, notContainsToken
        }

        public var property: String
        public var `operator`: Operator
        public var value: String?
        /// `between`'s upper bound.
        public var highValue: String?
        /// `in` and `notIn`.
        public var values: [String]?

        public init(
            _ property: String, _ op: Operator, value: String? = nil, highValue: String? = nil,
            values: [String]? = nil
        ) {
            self.property = property
            self.operator = op
            self.value = value
            self.highValue = highValue
            self.values = values
        }
    }

    public struct Sort: Sendable, Equatable {
        public var property: String
        public var descending: Bool

        public init(_ property: String, descending: Bool = false) {
            self.property = property
            self.descending = descending
        }
    }

    public var filterGroups: [[Filter]]
    public var sorts: [Sort]
    /// Free text over the type's default searchable properties.
    public var text: String?
    public var properties: [String]
    public var limit: Int
    public var after: String?

    public init(
        filterGroups: [[Filter]] = [], sorts: [Sort] = [], text: String? = nil, properties: [String] = [],
        limit: Int = 10, after: String? = nil
    ) {
        self.filterGroups = filterGroups
        self.sorts = sorts
        self.text = text
        self.properties = properties
        self.limit = limit
        self.after = after
    }
}
