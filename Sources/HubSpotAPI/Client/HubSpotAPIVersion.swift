/// The family of HubSpot paths the client speaks: the numeric (legacy) ones, `/crm/v3/…` and
/// `/crm/v4/…`, or a dated version, `/crm/objects/2026-09/…` (HubSpot's versions since
/// 2026-03-30; docs/hubspot-versions.md).
public enum HubSpotAPIVersion: String, Sendable, CaseIterable, CustomStringConvertible {
    case legacy
    case v2026_03 = "2026-03"
    case v2026_09 = "2026-09"

    /// The version HubSpot calls current (and the gateway's default).
    public static let current = HubSpotAPIVersion.v2026_09

    public var description: String { rawValue }

    /// A dated version (not the numeric paths).
    public var isDated: Bool { self != .legacy }

    /// 2026-09 and later enforce the portal's write rules (conditional required properties, the
    /// create form's required fields) and take association types by id or label only.
    public var enforcesWriteRules: Bool { self >= .v2026_09 }
}

extension HubSpotAPIVersion: Comparable {
    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// One HubSpot API: where its paths start in each version. The one table of the client's
/// paths (each call adds its own tail to the API's root); an API HubSpot has not released in
/// a version is reached on the newest one it has before it. (The webhooks journal has dated
/// paths only, `/webhooks-journal/journal/2026-03`, whatever the version.)
public enum HubSpotAPIFamily: String, Sendable, CaseIterable {
    /// CRM records: `/crm/v3/objects` · `/crm/objects/{v}`.
    case objects
    /// One record's associations: `/crm/v4/objects` · `/crm/objects/{v}` (`…/{id}/associations/…`).
    case recordAssociations
    /// Associations in batches and their labels: `/crm/v4/associations` · `/crm/associations/{v}`.
    case associations
    case properties
    case pipelines
    case owners
    case lists
    case imports
    case exports
    /// `/oauth/v1` · `/oauth/2026-03` (the token endpoint has no 2026-09 release).
    case oauth
    /// `/account-info/v3` · `/account-info/2026-03`.
    case accountInfo
    /// Subscription types, one recipient's statuses, subscribe and unsubscribe:
    /// `/communication-preferences/v3` on every version (no dated release of these).
    case communicationPreferences
    /// Many recipients' statuses at once: `/communication-preferences/v4` ·
    /// `/communication-preferences/2026-03`.
    case subscriptionStatuses

    /// The dated versions HubSpot has released this API in.
    var datedVersions: [HubSpotAPIVersion] {
        switch self {
        case .oauth, .accountInfo, .subscriptionStatuses: [.v2026_03]
        case .communicationPreferences: []
        default: [.v2026_03, .v2026_09]
        }
    }

    /// The version of this API a client on `version` calls: the newest released at or before it.
    public func version(for version: HubSpotAPIVersion) -> HubSpotAPIVersion {
        datedVersions.last { $0 <= version } ?? .legacy
    }

    /// The path this API starts with on `version` (no trailing slash).
    public func root(_ version: HubSpotAPIVersion) -> String {
        let used = self.version(for: version)
        guard used.isDated else {
            return switch self {
            case .objects: "/crm/v3/objects"
            case .recordAssociations: "/crm/v4/objects"
            case .associations: "/crm/v4/associations"
            case .properties: "/crm/v3/properties"
            case .pipelines: "/crm/v3/pipelines"
            case .owners: "/crm/v3/owners"
            case .lists: "/crm/v3/lists"
            case .imports: "/crm/v3/imports"
            case .exports: "/crm/v3/exports"
            case .oauth: "/oauth/v1"
            case .accountInfo: "/account-info/v3"
            case .communicationPreferences: "/communication-preferences/v3"
            case .subscriptionStatuses: "/communication-preferences/v4"
            }
        }
        let v = used.rawValue
        return switch self {
        case .objects, .recordAssociations: "/crm/objects/\(v)"
        case .associations: "/crm/associations/\(v)"
        case .properties: "/crm/properties/\(v)"
        case .pipelines: "/crm/pipelines/\(v)"
        case .owners: "/crm/owners/\(v)"
        case .lists: "/crm/lists/\(v)"
        case .imports: "/crm/imports/\(v)"
        case .exports: "/crm/exports/\(v)"
        case .oauth: "/oauth/\(v)"
        case .accountInfo: "/account-info/\(v)"
        case .communicationPreferences: "/communication-preferences/v3"
        case .subscriptionStatuses: "/communication-preferences/\(v)"
        }
    }
}

extension HubSpotClient {
    /// The path of `tail` under `api`'s root on the configured version.
    func path(_ api: HubSpotAPIFamily, _ tail: String) -> String {
        api.root(configuration.apiVersion) + tail
    }
}
