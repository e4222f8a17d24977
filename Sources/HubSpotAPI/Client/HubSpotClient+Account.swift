import Foundation
import Time

/// The account-info API: the account's time zone and the daily usage every private app of the
/// account shares (whose midnight ends the daily budget).
extension HubSpotClient {
    /// `GET /account-info/2026-03/details`.
    public func accountDetails(options: CallOptions = .init()) async throws -> AccountDetails {
        try await call(
            .get, path(.accountInfo, "/details"), endpoint: "account.details", options: options,
            idempotentDefault: true)
    }

    /// `GET /account-info/2026-03/api-usage/daily/private-apps`: the account's private-app calls
    /// today (nil when HubSpot reports none).
    public func accountDailyUsage(options: CallOptions = .init()) async throws -> AccountDailyUsage? {
        struct Page: Decodable { var results: [AccountDailyUsage] }
        let page: Page = try await call(
            .get, path(.accountInfo, "/api-usage/daily/private-apps"), endpoint: "account.usage.daily",
            options: options, idempotentDefault: true)
        return page.results.first { $0.name == "private-apps-api-calls-daily" } ?? page.results.first
    }
}

/// The account's facts.
public struct AccountDetails: Decodable, Sendable {
    public var portalId: Int?
    public var timeZone: String?
    /// `-05:00`.
    public var utcOffset: String?
}

/// One daily usage figure of the account.
public struct AccountDailyUsage: Decodable, Sendable {
    public var name: String?
    public var usageLimit: Int?
    public var currentUsage: Int?
    /// When HubSpot counted (ISO-8601).
    public var collectedAt: String?
    /// The account's next midnight (ISO-8601).
    public var resetsAt: String?

    /// How long after `collectedAt` the count resets, by HubSpot's clock (nil: not said).
    public var resetsIn: Duration? {
        guard let resetsAt = resetsAt.flatMap(HubSpotTimestamp.parse),
            let collectedAt = collectedAt.flatMap(HubSpotTimestamp.parse)
        else { return nil }
        return .milliseconds(Int64((resetsAt.timeIntervalSince(collectedAt) * 1000).rounded()))
    }
}
