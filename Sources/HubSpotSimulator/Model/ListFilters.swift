import JSONCore

/// A DYNAMIC list's filters (HubSpot's `filterBranch`), parsed once and evaluated against
/// records: an OR or AND branch of branches and PROPERTY filters. The operators the simulator
/// knows: IS_EQUAL_TO, IS_NOT_EQUAL_TO, CONTAINS (MULTISTRING, case-insensitive), IS_KNOWN,
/// IS_UNKNOWN (ALL_PROPERTY); anything else is HubSpot's 400.
indirect enum ListFilters: Sendable {
    case any([ListFilters])
    case all([ListFilters])
    case property(name: String, operator: String, values: [String])

    static func parse(_ branch: JSONValue, type: ObjectTypeDefinition) throws(HubSpotErrorBody) -> ListFilters {
        guard let kind = branch["filterBranchType"]?.stringValue, kind == "OR" || kind == "AND" else {
            throw .validation("filterBranch.filterBranchType must be OR or AND")
        }
        var parts: [ListFilters] = []
        for child in branch["filterBranches"]?.arrayValue ?? [] { parts.append(try parse(child, type: type)) }
        for filter in branch["filters"]?.arrayValue ?? [] {
            guard filter["filterType"]?.stringValue == "PROPERTY" else {
                throw .validation("the simulator's list filters are PROPERTY filters only")
            }
            guard let name = filter["property"]?.stringValue, type.properties[name] != nil else {
                throw .validation(
                    "filter property \(filter["property"]?.stringValue ?? "") is not a property of \(type.name)")
            }
            guard let op = filter["operation"]?["operator"]?.stringValue,
                ["IS_EQUAL_TO", "IS_NOT_EQUAL_TO", "CONTAINS", "IS_KNOWN", "IS_UNKNOWN"].contains(op)
            else {
                throw .validation(
                    "operation.operator must be IS_EQUAL_TO, IS_NOT_EQUAL_TO, CONTAINS, IS_KNOWN or IS_UNKNOWN")
            }
            let values = (filter["operation"]?["values"]?.arrayValue ?? []).compactMap(\.stringValue)
            if ["IS_EQUAL_TO", "IS_NOT_EQUAL_TO", "CONTAINS"].contains(op), values.isEmpty {
                throw .validation("operation.values must hold at least one value for \(op)")
            }
            parts.append(.property(name: name, operator: op, values: values.map { $0.lowercased() }))
        }
        guard !parts.isEmpty else { throw .validation("filterBranch holds no filter") }
        return kind == "OR" ? .any(parts) : .all(parts)
    }

    func matches(_ record: StoredObject) -> Bool {
        switch self {
        case .any(let parts): return parts.contains { $0.matches(record) }
        case .all(let parts): return parts.allSatisfy { $0.matches(record) }
        case .property(let name, let op, let values):
            let value = record.properties[name].flatMap { $0.isEmpty ? nil : $0.lowercased() }
            switch op {
            case "IS_KNOWN": return value != nil
            case "IS_UNKNOWN": return value == nil
            case "IS_EQUAL_TO": return value.map(values.contains) ?? false
            case "IS_NOT_EQUAL_TO": return value.map { !values.contains($0) } ?? true
            default: return value.map { v in values.contains { v.contains($0) } } ?? false
            }
        }
    }
}
