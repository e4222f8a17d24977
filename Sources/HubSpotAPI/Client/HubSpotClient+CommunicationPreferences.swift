import Foundation

/// HubSpot's communication preferences: the account's subscription types and each email
/// address's status in them (what a marketing sender checks before it sends).
extension HubSpotClient {
    /// One subscription type of the account.
    public struct SubscriptionDefinition: Decodable, Sendable {
        public var id: String
        public var name: String
        public var description: String?
        public var purpose: String?
        public var communicationMethod: String?
        public var isActive: Bool?
        public var isDefault: Bool?
    }

    /// A recipient's status in one subscription type.
    public struct SubscriptionStatus: Decodable, Sendable {
        public var id: String
        public var name: String?
        /// `SUBSCRIBED`, `UNSUBSCRIBED`, `NOT_SPECIFIED` (v4's batch read); v3's subscribe and
        /// unsubscribe answer `SUBSCRIBED` or `NOT_SUBSCRIBED`.
        public var status: String
        public var legalBasis: String?
        public var legalBasisExplanation: String?

        enum CodingKeys: String, CodingKey {
            case id, subscriptionId, name, status, legalBasis, legalBasisExplanation
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            // v3 says `id` (text), v4 `subscriptionId` (a number).
            if let id = try? c.decode(String.self, forKey: .id) {
                self.id = id
            } else if let number = try? c.decode(Int64.self, forKey: .subscriptionId) {
                id = String(number)
            } else {
                id = try c.decode(String.self, forKey: .subscriptionId)
            }
            name = try c.decodeIfPresent(String.self, forKey: .name)
            status = try c.decode(String.self, forKey: .status)
            legalBasis = try c.decodeIfPresent(String.self, forKey: .legalBasis)
            legalBasisExplanation = try c.decodeIfPresent(String.self, forKey: .legalBasisExplanation)
        }
    }

    /// `GET /communication-preferences/v3/definitions`.
    public func subscriptionDefinitions(options: CallOptions = .init()) async throws -> [SubscriptionDefinition] {
        struct Answer: Decodable { var subscriptionDefinitions: [SubscriptionDefinition] }
        let answer: Answer = try await call(
            .get, path(.communicationPreferences, "/definitions"), endpoint: "preferences.definitions",
            options: options, idempotentDefault: true)
        return answer.subscriptionDefinitions
    }

    /// `POST /communication-preferences/v4/statuses/batch/read?channel=EMAIL` (dated 2026-03):
    /// the statuses of up to 100 addresses, keyed by the address as HubSpot wrote it.
    public func subscriptionStatuses(of emails: [String], options: CallOptions = .init()) async throws
        -> [String: [SubscriptionStatus]]
    {
        struct Body: Encodable { var inputs: [String] }
        struct Result: Decodable {
            var subscriberIdString: String
            var statuses: [SubscriptionStatus]
        }
        struct Answer: Decodable { var results: [Result] }
        var query = QueryItems()
        query.add("channel", "EMAIL")
        let answer: Answer = try await call(
            .post, path(.subscriptionStatuses, "/statuses/batch/read"), query: query, body: Body(inputs: emails),
            endpoint: "preferences.statuses.batch.read", options: options, idempotentDefault: true)
        return Dictionary(answer.results.map { ($0.subscriberIdString, $0.statuses) }) { first, _ in first }
    }

    /// `POST /communication-preferences/v3/subscribe` or `…/unsubscribe`. A subscription states
    /// its lawful basis (HubSpot requires it where GDPR is on). Not idempotent: HubSpot answers
    /// 400 to a change already made.
    public func changeSubscription(
        _ email: String, subscriptionId: String, subscribe: Bool, legalBasis: String?,
        legalBasisExplanation: String?, options: CallOptions = .init()
    ) async throws -> SubscriptionStatus {
        struct Body: Encodable {
            var emailAddress: String
            var subscriptionId: String
            var legalBasis: String?
            var legalBasisExplanation: String?
        }
        return try await call(
            .post, path(.communicationPreferences, subscribe ? "/subscribe" : "/unsubscribe"),
            body: Body(
                emailAddress: email, subscriptionId: subscriptionId, legalBasis: legalBasis,
                legalBasisExplanation: legalBasisExplanation),
            endpoint: subscribe ? "preferences.subscribe" : "preferences.unsubscribe", options: options,
            idempotentDefault: false)
    }
}
