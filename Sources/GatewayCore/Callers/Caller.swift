/// What a calling service may do, beyond object-type scopes (`ObjectAccess`).
public enum CallerScope: String, Sendable, CaseIterable {
    /// Reading records of every object type.
    case read = "crm.read"
    /// Writing records of every object type.
    case write = "crm.write"
    case admin = "admin"
    /// Subscribing to the change feed (`ChangesService`).
    case changesRead = "changes.read"
}

/// Reading or writing records of one object type, as HubSpot's own scope names say it
/// (`crm.objects.deals.read`): marketing may be allowed contacts but not deals.
public struct ObjectAccess: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let read = ObjectAccess(rawValue: 1)
    public static let write = ObjectAccess(rawValue: 2)

    /// `crm.objects.<type>.read|write` → (type, access); nil for any other text.
    static func parse(_ scope: String) -> (type: String, access: ObjectAccess)? {
        let parts = scope.split(separator: ".")
        guard parts.count == 4, parts[0] == "crm", parts[1] == "objects", !parts[2].isEmpty else { return nil }
        let type = ObjectTypeAliases.canonical(String(parts[2]))
        switch parts[3] {
        case "read": return (type, .read)
        case "write": return (type, .write)
        default: return nil
        }
    }
}

/// An authenticated calling service.
public struct Caller: Sendable, Equatable {
    /// The service's name, as configured with its key (labels logs and metrics).
    public var service: String
    public var scopes: Set<CallerScope>
    /// Per object type: what the service may do beyond `crm.read` / `crm.write`.
    public var objectAccess: [String: ObjectAccess]
    /// The service's weight in the fair sharing of HubSpot's budget among services (default 1).
    public var weight: Double
    /// The HubSpot path prefixes the service may call as they are, through the door
    /// (`hubspot.passthrough:/communication-preferences/,/marketing/`).
    public var passthroughPrefixes: [String] = []
    /// The service's HubSpot calls per account day, fleet-wide (`daily=40000`; nil: no quota).
    public var dailyQuota: Int?

    public init(
        service: String, scopes: Set<CallerScope>, objectAccess: [String: ObjectAccess] = [:], weight: Double = 1
    ) {
        self.service = service
        self.scopes = scopes
        self.objectAccess = objectAccess
        self.weight = weight
    }

    /// Whether the service may read (or write) records of `type`.
    public func may(_ access: ObjectAccess, _ type: String) -> Bool {
        let all: CallerScope = access.contains(.write) ? .write : .read
        return scopes.contains(all) || objectAccess[ObjectTypeAliases.canonical(type)]?.isSuperset(of: access) == true
    }

    /// Whether the service may call HubSpot's `path` as it is (one of its passthrough prefixes).
    public func mayPassThrough(_ path: String) -> Bool { passthroughPrefixes.contains { path.hasPrefix($0) } }

    /// Whether the service may read (or write) records of some type: what an RPC's method
    /// needs before its object type is known.
    public func mayAny(_ access: ObjectAccess) -> Bool {
        let all: CallerScope = access.contains(.write) ? .write : .read
        return scopes.contains(all) || objectAccess.values.contains { $0.isSuperset(of: access) }
    }

    /// The service a request is served for, bound by the API layer around its handler: the
    /// domain checks object-type access against it and the rate limiter shares the budget by
    /// it. Nil for the gateway's own work (the reconciler, cache maintenance), which is trusted.
    @TaskLocal public static var current: Caller?

    /// Refuses with `CallerNotAllowed` when the current caller may not `access` records of `type`.
    public static func authorize(_ access: ObjectAccess, _ type: String) throws {
        guard let caller = current, !caller.may(access, type) else { return }
        throw CallerNotAllowed(
            service: caller.service,
            scope: "crm.objects.\(ObjectTypeAliases.canonical(type)).\(access.contains(.write) ? "write" : "read")")
    }
}

/// The calling service lacks the scope for this object type.
public struct CallerNotAllowed: Error, CustomStringConvertible, Sendable {
    public var service: String
    /// The scope that would allow it (`crm.objects.deals.write`; `crm.write` allows every type).
    public var scope: String
    public var description: String {
        let broader = scope.hasPrefix("crm.objects.") ? " (or crm.\(scope.hasSuffix(".write") ? "write" : "read"))" : ""
        return "service `\(service)` lacks the scope `\(scope)`\(broader) this request needs"
    }
}
