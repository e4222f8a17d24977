import HubSpotAPI

/// Communication preferences — the account's subscription types and each email address's
/// status in them — what a marketing sender checks before it sends. Statuses are kept in the
/// shared cache for a short TTL and never served stale: a consent check that cannot ask HubSpot
/// fails rather than answer with an old yes. A change made through the gateway forgets the
/// address fleet-wide at once; one made elsewhere (a person's unsubscribe link) shows within
/// the TTL, as HubSpot sends the gateway no event for it.
public struct SubscriptionPreferences: Sendable {
    let upstream: HubSpotUpstream
    let cache: MetadataCache

    /// A recipient's state in one subscription type.
    public enum State: String, Codable, Sendable {
        case subscribed = "SUBSCRIBED"
        /// Opted out: HubSpot will not send, and v3 cannot subscribe the address again.
        case unsubscribed = "UNSUBSCRIBED"
        /// Never opted in or out.
        case notSpecified = "NOT_SPECIFIED"
    }

    public struct Status: Codable, Sendable, Equatable {
        public var subscriptionId: String
        public var name: String
        public var state: State
        public var legalBasis: String?
        public var legalBasisExplanation: String?
    }

    public struct SubscriptionType: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var description: String
        public var purpose: String
        public var isActive: Bool
        public var isDefault: Bool
    }

    /// How the cache keeps statuses: 60 s, never stale. (Statuses are looked up with
    /// `freshValues`, which reads the shared copies each time: a change through any replica is
    /// seen by the next check.)
    public static var defaultCacheConfiguration: MetadataCache.Configuration {
        var configuration = MetadataCache.Configuration()
        configuration.keyPrefix = "hubspot-gateway:preferences"
        configuration.ttl = .seconds(60)
        configuration.staleTTL = .zero
        return configuration
    }

    /// HubSpot's batch status read takes at most this many addresses.
    public static let batchLimit = 100

    static func key(_ email: String) -> String { "email:" + email.lowercased() }

    /// The account's subscription types (cached like the statuses).
    public func types(_ terms: CallTerms) async throws -> [SubscriptionType] {
        try Caller.authorize(.read, "contacts")
        return try await cache.value("types") {
            try await upstream.perform(terms) { try await $0.subscriptionDefinitions(options: $1) }.map {
                SubscriptionType(
                    id: $0.id, name: $0.name, description: $0.description ?? "", purpose: $0.purpose ?? "",
                    isActive: $0.isActive ?? true, isDefault: $0.isDefault ?? false)
            }
        }.0
    }

    /// The statuses of each address (at most 100), from the cache when younger than its TTL
    /// (and `maxStaleness`, when given: zero asks HubSpot), the rest in one HubSpot call.
    /// Keyed by the address as asked.
    public func statuses(of emails: [String], maxStaleness: Duration? = nil, _ terms: CallTerms) async throws
        -> [String: [Status]]
    {
        try Caller.authorize(.read, "contacts")
        let asked = Array(Set(emails))
        // Asked fresh (zero staleness): HubSpot for all, and the copies kept are replaced.
        let cached = maxStaleness == .zero ? [:] : await cache.freshValues(asked.map(Self.key), as: [Status].self)
        var found: [String: [Status]] = [:]
        for email in asked { found[email] = cached[Self.key(email)] }
        let missing = asked.filter { found[$0] == nil }
        guard !missing.isEmpty else { return found }
        let read = try await upstream.perform(terms) { try await $0.subscriptionStatuses(of: missing, options: $1) }
        let byAddress = Dictionary(read.map { ($0.key.lowercased(), $0.value) }) { first, _ in first }
        var fetched: [String: [Status]] = [:]
        for email in missing {
            let statuses = (byAddress[email.lowercased()] ?? []).map {
                Status(
                    subscriptionId: $0.id, name: $0.name ?? "", state: State(hubSpot: $0.status),
                    legalBasis: $0.legalBasis, legalBasisExplanation: $0.legalBasisExplanation)
            }
            found[email] = statuses
            fetched[Self.key(email)] = statuses
        }
        await cache.store(fetched)
        return found
    }

    /// Subscribes `email` to a type, with the lawful basis HubSpot requires, or unsubscribes it;
    /// the address is forgotten fleet-wide, so the next check reads the change.
    public func change(
        _ email: String, subscriptionId: String, subscribe: Bool, legalBasis: String?, legalBasisExplanation: String?,
        _ terms: CallTerms
    ) async throws -> Status {
        try Caller.authorize(.write, "contacts")
        // Forgotten before and after: a check racing the change cannot keep the old status.
        await cache.forget([Self.key(email)])
        let changed: HubSpotClient.SubscriptionStatus
        do {
            changed = try await upstream.perform(terms, idempotent: false) {
                try await $0.changeSubscription(
                    email, subscriptionId: subscriptionId, subscribe: subscribe, legalBasis: legalBasis,
                    legalBasisExplanation: legalBasisExplanation, options: $1)
            }
        } catch let error as CRMError {
            // HubSpot's 400 to a valid change: the address already has that status, or opted out.
            guard case .invalidInput = error.reason else { throw error }
            throw CRMError(.stateConflict, error.message, correlationId: error.correlationId)
        }
        await cache.forget([Self.key(email)])
        return Status(
            subscriptionId: changed.id, name: changed.name ?? "", state: subscribe ? .subscribed : .unsubscribed,
            legalBasis: legalBasis, legalBasisExplanation: legalBasisExplanation)
    }
}

extension SubscriptionPreferences.State {
    /// HubSpot's v3 `NOT_SUBSCRIBED` says only "not subscribed": read as not specified.
    init(hubSpot status: String) {
        self = Self(rawValue: status) ?? .notSpecified
    }
}
