import HubSpotAPI
import Logging
import ServiceLifecycle
import Time

/// Learns the account from HubSpot's account-info API — its portal id, when not given, and its
/// day: when its daily count resets (the
/// account's midnight, in its time zone) and how much of it every app of the account has
/// spent — at start and every `refreshInterval`, and gives it to the limiter, which counts days
/// and holds spent days to that midnight. The calls go through the door at bulk priority.
public struct AccountDayFollower: Service {
    public struct Configuration: Sendable {
        /// How often the account's usage and midnight are read again (the headers of every
        /// answer keep Daily-Remaining current between reads).
        public var refreshInterval: Duration = .seconds(900)
        /// After a failed read, how long before the next try.
        public var retryInterval: Duration = .seconds(30)

        public init() {}
    }

    let upstream: HubSpotUpstream
    let configuration: Configuration
    let time: TimeSource
    let logger: Logger
    /// The fleet's portal, learned from the same details when not given (nil: not followed).
    let portal: HubSpotPortal?

    public init(
        upstream: HubSpotUpstream, configuration: Configuration = .init(), time: TimeSource = .system,
        portal: HubSpotPortal? = nil, logger: Logger = Logger(label: "account-day")
    ) {
        self.upstream = upstream
        self.portal = portal
        self.configuration = configuration
        self.time = time
        self.logger = logger
    }

    public func run() async throws {
        var timeZone: String?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var wait = configuration.refreshInterval
            do {
                if timeZone == nil { timeZone = try await readTimeZone() }
                try await refresh(timeZone: timeZone)
            } catch is CancellationError {
                return
            } catch {
                wait = configuration.retryInterval
                logger.notice(
                    "could not read the account's daily usage from HubSpot; days end at UTC midnight until it is read",
                    metadata: ["error": "\(error)", "retryInSeconds": "\(wait.components.seconds)"])
            }
            let until = time.now + wait
            try? await cancelWhenGracefulShutdown { try await time.sleep(until: until) }
        }
    }

    /// The account's time zone; its portal id goes to `portal` (a token of another portal than
    /// the one configured is an error in the log: its events would all be dropped).
    private func readTimeZone() async throws -> String? {
        let details = try await upstream.call(CallTerms(priority: .bulk, deadline: time.now + .seconds(30))) {
            client, options in
            try await client.accountDetails(options: options)
        }
        if let reported = details.portalId, let portal, let configured = portal.learned(reported) {
            logger.error(
                "the HubSpot token belongs to another portal than --hubspot-portal-id says; its change events are dropped as another portal's",
                metadata: ["tokenPortal": "\(reported)", "configuredPortal": "\(configured)"])
        }
        return details.timeZone
    }

    /// Reads the account's usage once and tells the limiter when its day ends.
    public func refresh(timeZone: String? = nil) async throws {
        let usage = try await upstream.call(CallTerms(priority: .bulk, deadline: time.now + .seconds(30))) {
            client, options in
            try await client.accountDailyUsage(options: options)
        }
        guard let usage, let resetsIn = usage.resetsIn else { return }
        let endsAt = time.wallMilliseconds + resetsIn.milliseconds
        try await upstream.limiter.setAccountDay(
            endsAt: endsAt, timeZone: timeZone, usageLimit: usage.usageLimit, currentUsage: usage.currentUsage)
        logger.debug(
            "the account's day", metadata: ["endsAtMs": "\(endsAt)", "timeZone": "\(timeZone ?? "-")"])
    }
}
