#if canImport(Glibc)
    import Glibc
#endif
import ChangeFeed
import Foundation
import GatewayCore
import Metrics

/// Gauges read when Prometheus scrapes `/metrics`: the process's own figures, under the names
/// every Prometheus client library uses, and the fleet's HubSpot budget use, read from Redis
/// (the same on every replica; alert on its `max`).
struct ScrapeTimeMetrics: Sendable {
    enum Name {
        static let residentMemory = "process_resident_memory_bytes"
        static let cpuSeconds = "process_cpu_seconds_total"
        static let openFileDescriptors = "process_open_fds"
        static let startTime = "process_start_time_seconds"
        /// Fleet-wide calls counted in the current window of `bucket` (`general`, `search`, `daily`).
        static let budgetUsed = "gateway_ratelimit_budget_used"
        /// The limit of that window.
        static let budgetLimit = "gateway_ratelimit_budget_limit"
        /// HubSpot's own figures as its latest answer said them (`X-HubSpot-RateLimit-*`), by
        /// `window` (`burst`, `daily`): what is left, and the limit.
        static let hubSpotRemaining = "gateway_hubspot_ratelimit_remaining"
        static let hubSpotMax = "gateway_hubspot_ratelimit_max"
        /// Calls others (services still calling HubSpot directly) made, by the fleet's estimate,
        /// by `window`: `burst` (per HubSpot interval) and `daily` (today).
        static let othersEstimate = "gateway_budget_others_estimate"
        /// General calls per second the fleet allows itself now (lower while others spend).
        static let fleetRate = "gateway_budget_fleet_rate"
        /// Each service's HubSpot calls today (the account's day), fleet-wide, by `service`.
        static let serviceSpendToday = "gateway_budget_service_spend_today"
        /// 1, labelled with the HubSpot API `version` this replica calls (`--hubspot-api-version`).
        static let hubSpotAPIVersion = "gateway_hubspot_api_version"
        /// Events in the change feed.
        static let feedLength = "gateway_feed_length"
        /// Age of the oldest event retained (how far back a subscriber can resume).
        static let feedOldestAge = "gateway_feed_oldest_age_seconds"
        /// Events not yet delivered to a consumer group (`group`; the fleet's cache
        /// invalidation is `hubspot-gateway-cache`).
        static let consumerLag = "gateway_feed_consumer_lag"
        /// Events delivered to a group and not yet acknowledged.
        static let consumerPending = "gateway_feed_consumer_pending"
    }

    let limiter: FixedWindowRateLimiter
    let feed: ChangeFeed?
    let apiVersion: String
    private let started = Date().timeIntervalSince1970

    init(limiter: FixedWindowRateLimiter, feed: ChangeFeed?, apiVersion: String) {
        self.limiter = limiter
        self.feed = feed
        self.apiVersion = apiVersion
    }

    func update() async {
        Gauge(label: Name.startTime).record(started)
        Gauge(label: Name.hubSpotAPIVersion, dimensions: [("version", apiVersion)]).record(1)
        if let figures = ProcessFigures.read() {
            Gauge(label: Name.residentMemory).record(figures.residentBytes)
            Gauge(label: Name.cpuSeconds).record(figures.cpuSeconds)
            Gauge(label: Name.openFileDescriptors).record(figures.openFileDescriptors)
        }
        let budget = await limiter.fleetBudget()
        for usage in budget.usage {
            Gauge(label: Name.budgetUsed, dimensions: [("bucket", usage.bucket)]).record(usage.used)
            Gauge(label: Name.budgetLimit, dimensions: [("bucket", usage.bucket)]).record(usage.limit)
        }
        let view = budget.hubSpot
        for (window, remaining, max) in [
            ("burst", view.remaining, view.max), ("daily", view.dailyRemaining, view.dailyMax),
        ] {
            if let remaining { Gauge(label: Name.hubSpotRemaining, dimensions: [("window", window)]).record(remaining) }
            if let max { Gauge(label: Name.hubSpotMax, dimensions: [("window", window)]).record(max) }
        }
        if let others = view.othersPerInterval {
            Gauge(label: Name.othersEstimate, dimensions: [("window", "burst")]).record(others)
        }
        if let others = budget.othersToday {
            Gauge(label: Name.othersEstimate, dimensions: [("window", "daily")]).record(others)
        }
        Gauge(label: Name.fleetRate).record(budget.fleetRate)
        for (service, spent) in budget.spendToday {
            Gauge(label: Name.serviceSpendToday, dimensions: [("service", service)]).record(spent)
        }
        guard let feed else { return }
        if let extent = try? await feed.extent() {
            Gauge(label: Name.feedLength).record(extent.length)
            let oldestMs = extent.oldest.flatMap { $0.split(separator: "-").first.flatMap { Double($0) } }
            Gauge(label: Name.feedOldestAge).record(
                oldestMs.map { max(0, Date().timeIntervalSince1970 - $0 / 1000) } ?? 0)
        }
        for group in (try? await feed.groups()) ?? [] {
            if let lag = group.lag { Gauge(label: Name.consumerLag, dimensions: [("group", group.name)]).record(lag) }
            Gauge(label: Name.consumerPending, dimensions: [("group", group.name)]).record(group.pending)
        }
    }
}

/// This process's memory, CPU time and open descriptors, from /proc/self (Linux only).
struct ProcessFigures {
    var residentBytes: Int
    var cpuSeconds: Double
    var openFileDescriptors: Int

    static func read() -> ProcessFigures? {
        #if os(Linux)
            guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
                let end = stat.lastIndex(of: ")")
            else { return nil }
            // Fields after "pid (comm)": state is field 3; utime 14, stime 15, rss 24 (pages).
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            guard fields.count > 21, let userTicks = Double(fields[11]), let systemTicks = Double(fields[12]),
                let pages = Int(fields[21])
            else { return nil }
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
            return ProcessFigures(
                residentBytes: pages * Int(sysconf(Int32(_SC_PAGESIZE))), cpuSeconds: (userTicks + systemTicks) / ticks,
                openFileDescriptors: descriptors)
        #else
            return nil
        #endif
    }
}
