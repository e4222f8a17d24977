/// Which events a subscriber wants: by object type, kind and (for updates) property; an empty
/// set lets everything through.
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
            guard let name = event.propertyName, propertyNames.contains(name) else { return false }
        }
        return true
    }
}
