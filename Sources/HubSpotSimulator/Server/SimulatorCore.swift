import Logging
import Synchronization

/// The shared parts of one running simulator: state, limits, faults, statistics, webhooks.
final class SimulatorCore: Sendable {
    let configuration: SimulatorConfiguration
    let store: ObjectStore
    let limits: HubSpotRateLimits
    let faults: Mutex<FaultConfiguration>
    let statistics: RequestStatistics
    let webhooks: WebhookDispatcher?
    let logger: Logger
    let baseURL = Mutex("http://127.0.0.1")

    init(configuration: SimulatorConfiguration, logger: Logger) throws(SimulatorConfigurationError) {
        guard configuration.burstLimit >= 0, configuration.dailyLimit >= 0, configuration.searchPerSecondLimit >= 0 else {
            throw SimulatorConfigurationError("rate limits must be zero (unlimited) or positive")
        }
        guard configuration.burstInterval > .zero else { throw SimulatorConfigurationError("burst interval must be positive") }
        guard !configuration.token.isEmpty else { throw SimulatorConfigurationError("the token must not be empty") }
        self.configuration = configuration
        self.logger = logger
        store = ObjectStore(schema: ObjectSchema(customTypes: configuration.customObjectTypes), portalId: configuration.portalId)
        limits = HubSpotRateLimits(Self.limitSettings(configuration))
        faults = Mutex(configuration.faults)
        statistics = RequestStatistics(capacity: configuration.statisticsCapacity)
        webhooks = try configuration.webhook.map { config throws(SimulatorConfigurationError) in
            try WebhookDispatcher(configuration: config, portalId: configuration.portalId, appId: configuration.appId, logger: logger)
        }
        try seed()
    }

    static func limitSettings(_ configuration: SimulatorConfiguration) -> HubSpotRateLimits.Settings {
        HubSpotRateLimits.Settings(
            burstLimit: configuration.burstLimit,
            burstIntervalMilliseconds: configuration.burstInterval.milliseconds,
            dailyLimit: configuration.dailyLimit,
            dailyResetOffsetMilliseconds: configuration.dailyResetUTCOffset.milliseconds,
            searchPerSecondLimit: configuration.searchPerSecondLimit)
    }

    func seed() throws(SimulatorConfigurationError) {
        do {
            try SeedData.seed(store, contacts: configuration.seedContacts, seed: configuration.seedValue)
        } catch {
            throw SimulatorConfigurationError("seeding failed: \(error.message)")
        }
    }

    var apiContext: APIContext {
        let webhooks = webhooks
        return APIContext(store: store, configuration: configuration, baseURL: baseURL.withLock { $0 }, emit: { events in webhooks?.enqueue(events) })
    }

    /// Back to the start-up state: data reseeded, counters, limits and faults as configured.
    func reset() throws(SimulatorConfigurationError) {
        store.reset()
        try seed()
        statistics.reset()
        limits.reconfigure(Self.limitSettings(configuration))
        faults.withLock { $0 = configuration.faults }
    }

    var admin: AdminAPI { AdminAPI(core: self) }
}

extension Duration {
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
