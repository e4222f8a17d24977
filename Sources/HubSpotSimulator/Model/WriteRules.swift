import JSONCore
import Synchronization

/// A portal's admin-configured rules that HubSpot enforces on API writes from 2026-09 on:
/// conditional required properties ("`closedate` is required when `dealstage` is `closedwon`")
/// and the "create record" form's required fields. Set through `/_sim/write-rules`.
final class WriteRules: Sendable {
    struct Rule: Sendable, Equatable {
        var objectType: String
        var property: String
        /// Required only when this property has this value (nil: the create form's field).
        var when: (property: String, equals: String)?

        static func == (a: Rule, b: Rule) -> Bool {
            a.objectType == b.objectType && a.property == b.property && a.when?.property == b.when?.property
                && a.when?.equals == b.when?.equals
        }
    }

    private let rules = Mutex<[Rule]>([])

    var all: [Rule] { rules.withLock { $0 } }
    func add(_ rule: Rule) { rules.withLock { if !$0.contains(rule) { $0.append(rule) } } }
    func reset() { rules.withLock { $0 = [] } }

    /// The problems of a write of `type` that leaves the record with `after` (a create: its
    /// input; an update: the stored values with the input's over them).
    func problems(_ type: String, creating: Bool, after: [String: String?]) -> [HubSpotErrorBody.PropertyProblem] {
        func has(_ name: String) -> Bool { (after[name] ?? nil).map { !$0.isEmpty } ?? false }
        return all.filter { $0.objectType == type && !has($0.property) }.compactMap { rule in
            if let when = rule.when {
                guard (after[when.property] ?? nil) == when.equals else { return nil }
                return .init(
                    name: rule.property, error: "REQUIRED_PROPERTY",
                    message:
                        "\(rule.property) is required when \(when.property) is \(when.equals) (a rule of this portal)")
            }
            guard creating else { return nil }
            return .init(
                name: rule.property, error: "REQUIRED_PROPERTY",
                message: "\(rule.property) is required to create a record of \(type) (the portal's create form)")
        }
    }

    /// A rule from `{"objectType", "property", "whenProperty"?, "equals"?}`.
    static func parse(_ json: JSONValue) throws(HubSpotErrorBody) -> Rule {
        guard let type = json["objectType"]?.stringValue, let property = json["property"]?.stringValue else {
            throw .validation(
                "a write rule is {\"objectType\": \"deals\", \"property\": \"closedate\", \"whenProperty\": \"dealstage\", \"equals\": \"closedwon\"} (without whenProperty: a required field of the create form)"
            )
        }
        var rule = Rule(objectType: type, property: property)
        if let whenProperty = json["whenProperty"]?.stringValue {
            guard let equals = json["equals"]?.stringValue else { throw .validation("whenProperty needs equals") }
            rule.when = (whenProperty, equals)
        }
        return rule
    }
}
