/// Which events a subscriber wants: by object type, kind and (for updates) property; an empty
/// set lets everything through. An update whose changed properties are not known (the
/// reconciler's, without earlier values) passes a property filter: it may concern them.
public struct ChangeFilter: Sendable, Equatable {
    public var objectTypes: Set<String>
    public var kinds: Set<ChangeEvent.Kind>
    public var propertyNames: Set<String>

    public init(objectTypes: Set<String> = [], kinds: Set<ChangeEvent.Kind> = [], propertyNames: Set<String> = []) {
        self.objectTypes = objectTypes
        self.kinds = kinds
        self.propertyNames = propertyNames
    }

    public func matches(_ event: ChangeEvent) -> Bool {
        if !objectTypes.isEmpty, !objectTypes.contains(event.objectType) { return false }
        if !kinds.isEmpty, !kinds.contains(event.kind) { return false }
        if !propertyNames.isEmpty, event.kind == .updated {
            if let name = event.propertyName { return propertyNames.contains(name) }
            // The reconciler's update: the properties it saw change, or — not known — any.
            guard let changed = event.changedProperties else { return true }
            return changed.contains(where: propertyNames.contains)
        }
        return true
    }
}
