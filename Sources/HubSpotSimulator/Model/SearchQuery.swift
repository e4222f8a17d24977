import Foundation
import JSONCore

/// A parsed `POST …/search` body, checked against HubSpot's caps.
struct SearchQuery: Sendable {
    enum Operator: String, Sendable, CaseIterable {
        case eq = "EQ", neq = "NEQ", lt = "LT", lte = "LTE", gt = "GT", gte = "GTE", between = "BETWEEN"
        case `in` = "IN", notIn = "NOT_IN", hasProperty = "HAS_PROPERTY", notHasProperty = "NOT_HAS_PROPERTY"
        case containsToken = "CONTAINS_TOKEN", notContainsToken = "NOT_CONTAINS_TOKEN"
    }

    struct Filter: Sendable {
        var propertyName: String
        var op: Operator
        var value: String?
        var highValue: String?
        var values: [String]
    }

    struct Limits: Sendable {
        var maxGroups = 5
        var maxFiltersPerGroup = 6
        var maxFilters = 18
        var maxLimit = 200
        var maxBodyCharacters = 3000
        var maxResults = 10_000
    }

    var filterGroups: [[Filter]] = []
    var sortProperty: String?
    var sortDescending = false
    var query: String?
    var properties: [String]?
    var limit = 10
    var offset = 0

    /// Parses and validates a search body (HubSpot answers every violation with a 400).
    static func parse(_ body: JSONValue, bodySize: Int, limits: Limits, type: ObjectTypeDefinition)
        throws(HubSpotErrorBody) -> SearchQuery
    {
        guard case .object = body else { throw .validation("Search request body must be a JSON object") }
        if bodySize > limits.maxBodyCharacters {
            throw .validation(
                "Search request body is \(bodySize) characters, more than the maximum of \(limits.maxBodyCharacters)")
        }
        var query = SearchQuery()
        if let groups = body["filterGroups"], !groups.isNull {
            guard let array = groups.arrayValue else { throw .validation("filterGroups must be an array") }
            if array.count > limits.maxGroups {
                throw .validation("Too many filter groups: \(array.count). The maximum is \(limits.maxGroups).")
            }
            var total = 0
            for group in array {
                guard let filters = group["filters"]?.arrayValue else {
                    throw .validation("Each filter group needs a filters array")
                }
                if filters.count > limits.maxFiltersPerGroup {
                    throw .validation(
                        "Too many filters in a group: \(filters.count). The maximum is \(limits.maxFiltersPerGroup) per group."
                    )
                }
                total += filters.count
                query.filterGroups.append(
                    try filters.map { (filter: JSONValue) throws(HubSpotErrorBody) in
                        try parseFilter(filter, type: type)
                    })
            }
            if total > limits.maxFilters {
                throw .validation("Too many filters: \(total). The maximum is \(limits.maxFilters) across all groups.")
            }
        }
        if let sorts = body["sorts"], !sorts.isNull {
            guard let array = sorts.arrayValue else { throw .validation("sorts must be an array") }
            if array.count > 1 { throw .validation("Only one sort rule is supported; \(array.count) were given") }
            if let sort = array.first {
                if let name = sort.stringValue {
                    // HubSpot also accepts a bare property name.
                    query.sortProperty = name
                } else {
                    guard let name = sort["propertyName"]?.stringValue else {
                        throw .validation("A sort needs a propertyName")
                    }
                    query.sortProperty = name
                    switch sort["direction"]?.stringValue ?? "ASCENDING" {
                    case "ASCENDING": query.sortDescending = false
                    case "DESCENDING": query.sortDescending = true
                    case let other: throw .validation("Sort direction must be ASCENDING or DESCENDING, was \(other)")
                    }
                }
            }
        }
        if let text = body["query"], !text.isNull {
            guard let string = text.stringValue else { throw .validation("query must be a string") }
            query.query = string.isEmpty ? nil : string
        }
        if let properties = body["properties"], !properties.isNull {
            guard let array = properties.arrayValue, array.allSatisfy({ $0.stringValue != nil }) else {
                throw .validation("properties must be an array of property names")
            }
            query.properties = array.compactMap(\.stringValue)
        }
        if let limit = body["limit"], !limit.isNull {
            guard case .number(let n) = limit, n == n.rounded(), n >= 0 else {
                throw .validation("limit must be a non-negative integer")
            }
            if Int(n) > limits.maxLimit { throw .validation("limit must be at most \(limits.maxLimit), was \(Int(n))") }
            query.limit = Int(n)
        }
        if let after = body["after"], !after.isNull {
            guard let text = after.propertyText, let offset = Int(text), offset >= 0 else {
                throw .validation("after must be the paging cursor of a previous search response")
            }
            query.offset = offset
        }
        if query.offset + query.limit > limits.maxResults {
            throw .validation(
                "Search can page through at most \(limits.maxResults) results; narrow the filters or window on a sorted property (after=\(query.offset), limit=\(query.limit))"
            )
        }
        return query
    }

    private static func parseFilter(_ filter: JSONValue, type: ObjectTypeDefinition) throws(HubSpotErrorBody) -> Filter
    {
        guard let name = filter["propertyName"]?.stringValue else { throw .validation("A filter needs a propertyName") }
        let opName = filter["operator"]?.stringValue ?? "EQ"
        guard let op = Operator(rawValue: opName) else {
            throw .validation(
                "Unknown filter operator \(opName); use one of \(Operator.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        var parsed = Filter(
            propertyName: name, op: op, value: filter["value"]?.propertyText,
            highValue: filter["highValue"]?.propertyText, values: [])
        if let values = filter["values"]?.arrayValue { parsed.values = values.compactMap(\.propertyText) }
        switch op {
        case .in, .notIn:
            if parsed.values.isEmpty {
                throw .validation("Operator \(opName) on \(name) needs a non-empty values array")
            }
        case .between:
            if parsed.value == nil || parsed.highValue == nil {
                throw .validation("Operator BETWEEN on \(name) needs value and highValue")
            }
        case .hasProperty, .notHasProperty:
            break
        default:
            if parsed.value == nil { throw .validation("Operator \(opName) on \(name) needs a value") }
        }
        return parsed
    }
}

/// Evaluates a `SearchQuery` over records the way HubSpot's search index does.
enum SearchEvaluator {
    /// - Parameter indexedThrough: records written after this moment are not in the index yet.
    static func run(
        _ query: SearchQuery, type: ObjectTypeDefinition, ids: [Int64], records: [Int64: StoredObject],
        indexedThrough: EpochMilliseconds = .max
    ) -> (total: Int, page: [StoredObject]) {
        let queryTerms = query.query.map { $0.lowercased().split(separator: " ").map(String.init) } ?? []
        var hits: [StoredObject] = []
        for id in ids {
            guard let object = records[id], !object.archived, object.updatedAt <= indexedThrough else { continue }
            if !query.filterGroups.isEmpty,
                !query.filterGroups.contains(where: { group in group.allSatisfy { matches($0, object, type) } })
            {
                continue
            }
            if !queryTerms.isEmpty, !matchesQuery(queryTerms, object, type) { continue }
            hits.append(object)
        }
        if let sortProperty = query.sortProperty {
            // Each record's sort key is computed once (parsing dates per comparison made a
            // sort of 25,000 records take most of a second).
            let propertyType = propertyType(sortProperty, type)
            let keyed = hits.map { object in
                let value = object.properties[sortProperty]
                return (
                    object: object, number: value.flatMap { numeric($0, propertyType) }, text: value?.lowercased(),
                    tie: tieRank(object.id)
                )
            }
            .sorted { a, b in
                let order: Int
                switch (a.text, b.text) {
                case (nil, nil): order = 0
                case (nil, _): order = 1
                case (_, nil): order = -1
                default:
                    if let x = a.number, let y = b.number {
                        order = x < y ? -1 : (x > y ? 1 : 0)
                    } else {
                        order = a.text! < b.text! ? -1 : (a.text! > b.text! ? 1 : 0)
                    }
                }
                // HubSpot orders ties in no documented way: a stable order that is not by id,
                // so that clients cannot come to rely on one.
                if order == 0 { return a.tie < b.tie }
                return query.sortDescending ? order > 0 : order < 0
            }
            hits = keyed.map(\.object)
        }
        let total = hits.count
        guard query.offset < total else { return (total, []) }
        return (total, Array(hits[query.offset..<min(total, query.offset + query.limit)]))
    }

    /// A stable, scrambled rank of an id among records whose sort values are equal.
    static func tieRank(_ id: Int64) -> UInt64 {
        var x = UInt64(bitPattern: id) &+ 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    private static func propertyType(_ name: String, _ type: ObjectTypeDefinition) -> PropertyType {
        type.properties[name]?.type ?? .string
    }

    /// Orders two stored values: nulls last, numbers and dates numerically, text case-insensitively.
    static func compare(_ a: String?, _ b: String?, _ type: PropertyType) -> Int {
        switch (a, b) {
        case (nil, nil): return 0
        case (nil, _): return 1
        case (_, nil): return -1
        case (let a?, let b?):
            if let x = numeric(a, type), let y = numeric(b, type) { return x < y ? -1 : (x > y ? 1 : 0) }
            let x = a.lowercased()
            let y = b.lowercased()
            return x < y ? -1 : (x > y ? 1 : 0)
        }
    }

    /// A comparable number for number and date properties (dates as epoch milliseconds).
    private static func numeric(_ value: String, _ type: PropertyType) -> Double? {
        switch type {
        case .number: Double(value)
        case .datetime, .date: Timestamps.parse(value).map(Double.init)
        default: nil
        }
    }

    private static func matches(_ filter: SearchQuery.Filter, _ object: StoredObject, _ type: ObjectTypeDefinition)
        -> Bool
    {
        let propertyType = propertyType(filter.propertyName, type)
        let stored: String? =
            filter.propertyName == "hs_object_id" ? String(object.id) : object.properties[filter.propertyName]
        // Enumerations match case-sensitively; everything else ignores case.
        func equal(_ value: String) -> Bool {
            guard let stored else { return false }
            if let x = numeric(stored, propertyType), let y = numeric(value, propertyType) { return x == y }
            return propertyType == .enumeration ? stored == value : stored.lowercased() == value.lowercased()
        }
        func order(_ value: String) -> Int? {
            guard stored != nil else { return nil }
            return compare(stored, value, propertyType)
        }
        switch filter.op {
        case .eq: return equal(filter.value!)
        case .neq: return !equal(filter.value!)
        case .lt: return order(filter.value!).map { $0 < 0 } ?? false
        case .lte: return order(filter.value!).map { $0 <= 0 } ?? false
        case .gt: return order(filter.value!).map { $0 > 0 } ?? false
        case .gte: return order(filter.value!).map { $0 >= 0 } ?? false
        case .between:
            guard let low = order(filter.value!), let high = order(filter.highValue!) else { return false }
            return low >= 0 && high <= 0
        case .in, .notIn:
            // HubSpot compares IN values against the lower-cased stored string for text.
            let found: Bool
            if let stored {
                let probe = propertyType == .enumeration ? stored : stored.lowercased()
                found = filter.values.contains { value in
                    if let x = numeric(stored, propertyType), let y = numeric(value, propertyType) { return x == y }
                    return value == probe
                        || (propertyType == .enumeration && value.split(separator: ";").contains(Substring(stored)))
                }
            } else {
                found = false
            }
            return filter.op == .in ? found : !found
        case .hasProperty: return stored != nil
        case .notHasProperty: return stored == nil
        case .containsToken, .notContainsToken:
            let found = stored.map { containsToken($0, pattern: filter.value!) } ?? false
            return filter.op == .containsToken ? found : !found
        }
    }

    /// Matches a token pattern (`*` wildcard) against the whole value or any of its word tokens.
    static func containsToken(_ value: String, pattern: String) -> Bool {
        let lowered = value.lowercased()
        let patternLowered = pattern.lowercased()
        if wildcardMatch(lowered, patternLowered) { return true }
        let tokens = lowered.split(whereSeparator: { !$0.isLetter && !$0.isNumber })
        return tokens.contains { wildcardMatch(String($0), patternLowered) }
    }

    static func wildcardMatch(_ text: String, _ pattern: String) -> Bool {
        guard pattern.contains("*") else { return text == pattern }
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        var rest = Substring(text)
        for (index, part) in parts.enumerated() {
            if part.isEmpty { continue }
            if index == 0 {
                guard rest.hasPrefix(part) else { return false }
                rest = rest.dropFirst(part.count)
            } else if index == parts.count - 1 {
                return rest.hasSuffix(part)
            } else {
                guard let range = rest.range(of: part) else { return false }
                rest = rest[range.upperBound...]
            }
        }
        return parts.last?.isEmpty == true || rest.isEmpty
    }

    /// Free-text query: every term is a prefix of a word, or a substring of an email, in the
    /// type's searchable properties.
    private static func matchesQuery(_ terms: [String], _ object: StoredObject, _ type: ObjectTypeDefinition) -> Bool {
        let texts = type.queryProperties.compactMap { object.properties[$0]?.lowercased() }
        return terms.allSatisfy { term in
            texts.contains { text in
                text.contains("@")
                    ? text.contains(term)
                    : text.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).contains { $0.hasPrefix(term) }
            }
        }
    }
}
