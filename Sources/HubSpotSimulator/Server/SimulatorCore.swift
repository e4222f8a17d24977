import Foundation
import Logging
import Synchronization
import Digests
import JSONCore
import Time

/// The shared parts of one running simulator: state, limits, faults, statistics, webhooks.
final class SimulatorCore: Sendable {
    let configuration: SimulatorConfiguration
    let store: ObjectStore
    let lists = ListStore()
    let imports = ImportStore()
    let exports: ExportTasks
    let preferences = CommunicationPreferences()
    let writeRules = WriteRules()
    let limits: HubSpotRateLimits
    let faults: Mutex<FaultConfiguration>
    let scopes: Mutex<GrantedScopes>
    /// Draws of the fault rules, seeded by `seedValue`.
    let faultRandom: Mutex<SplitMix64>
    let statistics: RequestStatistics
    let webhooks: WebhookDispatcher
    let journal: WebhookJournal
    let logger: Logger
    let baseURL = Mutex("http://127.0.0.1")
    /// OAuth access tokens issued by `/oauth/v1/token`, with their expiry (epoch ms).
    let issuedTokens = Mutex<[String: Int64]>([:])
    /// Client-credentials tokens (the webhooks journal's), with their scopes.
    let clientTokens = Mutex<[String: (expiresAt: Int64, scopes: Set<String>)]>([:])

    init(configuration: SimulatorConfiguration, logger: Logger) throws(SimulatorConfigurationError) {
        guard configuration.burstLimit >= 0, configuration.dailyLimit >= 0, configuration.searchPerSecondLimit >= 0
        else {
            throw SimulatorConfigurationError("rate limits must be zero (unlimited) or positive")
        }
        guard configuration.burstInterval > .zero, configuration.searchInterval > .zero else {
            throw SimulatorConfigurationError("burst and search intervals must be positive")
        }
        guard !configuration.token.isEmpty else { throw SimulatorConfigurationError("the token must not be empty") }
        var configuration = configuration
        // The machine's time, which `/_sim/clock` can move forward (a test of a retention or a
        // delay, against the simulator as a separate process).
        if configuration.time.isSystem { configuration.time = .shifted(ClockShift()) }
        self.configuration = configuration
        self.logger = logger
        store = ObjectStore(
            schema: ObjectSchema(customTypes: configuration.customObjectTypes), portalId: configuration.portalId)
        limits = HubSpotRateLimits(Self.limitSettings(configuration))
        exports = ExportTasks(
            ExportTasks.Settings(
                delayMilliseconds: configuration.exportDelay.milliseconds, perDayLimit: configuration.exportsPerDay,
                urlLifetimeMilliseconds: configuration.exportURLLifetime.milliseconds))
        faults = Mutex(configuration.faults)
        scopes = Mutex(GrantedScopes(granted: configuration.grantedScopes))
        faultRandom = Mutex(SplitMix64(seed: configuration.seedValue ^ 0x5EED_FA17))
        statistics = RequestStatistics(capacity: configuration.statisticsCapacity, time: configuration.time)
        webhooks = try WebhookDispatcher(
            configuration: configuration.webhook, portalId: configuration.portalId, appId: configuration.appId,
            logger: logger)
        journal = WebhookJournal(
            configuration: configuration.journal, portalId: configuration.portalId, appId: configuration.appId)
        try seed()
    }

    static func limitSettings(_ configuration: SimulatorConfiguration) -> HubSpotRateLimits.Settings {
        HubSpotRateLimits.Settings(
            burstLimit: configuration.burstLimit,
            burstIntervalMilliseconds: configuration.burstInterval.milliseconds,
            dailyLimit: configuration.dailyLimit,
            dailyResetOffsetMilliseconds: configuration.dailyResetUTCOffset.milliseconds,
            searchPerSecondLimit: configuration.searchPerSecondLimit,
            searchIntervalMilliseconds: configuration.searchInterval.milliseconds)
    }

    func seed() throws(SimulatorConfigurationError) {
        do {
            try SeedData.seed(
                store, contacts: configuration.seedContacts, seed: configuration.seedValue,
                distinctTimestamps: configuration.seedDistinctTimestamps)
        } catch {
            throw SimulatorConfigurationError("seeding failed: \(error.message)")
        }
    }

    var apiContext: APIContext { context(changeSource: "API") }

    /// The API's context, with the changes it makes reported as made by `changeSource`
    /// (`CRM_UI` for the `/_sim/ui/` edits a person would make in HubSpot's UI).
    func context(changeSource: String) -> APIContext {
        let webhooks = webhooks
        let journal = journal
        return APIContext(
            store: store, lists: lists, imports: imports, exports: exports, configuration: configuration,
            baseURL: baseURL.withLock { $0 },
            emit: { events in
                let events = events.map { event in
                    var event = event
                    event.changeSource = changeSource
                    return event
                }
                webhooks.enqueue(events)
                journal.record(events)
            }, journal: journal, limits: limits, preferences: preferences, writeRules: writeRules)
    }

    /// Back to the start-up state: data reseeded, counters, limits and faults as configured.
    func reset() throws(SimulatorConfigurationError) {
        store.reset()
        lists.reset()
        exports.reset()
        preferences.reset()
        writeRules.reset()
        journal.reset()
        try seed()
        statistics.reset()
        limits.reconfigure(Self.limitSettings(configuration))
        faults.withLock { $0 = configuration.faults }
        faultRandom.withLock { $0 = SplitMix64(seed: configuration.seedValue ^ 0x5EED_FA17) }
    }

    var admin: AdminAPI { AdminAPI(core: self) }

    /// The private app whose token this is: 0 for the main token, 1… for the other apps.
    func privateApp(presenting token: String) -> Int? {
        ([configuration.token] + configuration.otherPrivateAppTokens).firstIndex {
            constantTimeEquals(Array(token.utf8), Array($0.utf8))
        }
    }

    /// The private app a request spends the burst window of (OAuth and client tokens: the main one).
    func privateApp(_ header: String?) -> Int {
        guard let header, header.count > 7 else { return 0 }
        return privateApp(presenting: String(header.dropFirst(7))) ?? 0
    }

    /// Why a bearer token is refused, or nil when it is accepted.
    func authenticationFailure(_ header: String?, now: Int64) -> HubSpotErrorBody? {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return .unauthorized }
        let presented = String(header.dropFirst(7))
        if privateApp(presenting: presented) != nil { return nil }
        if let client = clientTokens.withLock({ $0[presented] }) {
            guard client.expiresAt <= now else { return nil }
            var expired = HubSpotErrorBody.unauthorized
            expired.category = "EXPIRED_AUTHENTICATION"
            return expired
        }
        guard let expiresAt = issuedTokens.withLock({ $0[presented] }) else { return .unauthorized }
        if expiresAt > now { return nil }
        var expired = HubSpotErrorBody.unauthorized
        expired.category = "EXPIRED_AUTHENTICATION"
        expired.message =
            "The OAuth token used to make this call expired \(max(1, (now - expiresAt) / 1000)) second(s) ago."
        return expired
    }

    /// `POST /oauth/v1/token` with the refresh-token grant, as HubSpot answers it.
    func issueToken(form: [(String, String)], now: Int64) -> APIReply {
        func value(_ name: String) -> String? { form.last { $0.0 == name }?.1 }
        guard let oauth = configuration.oauth else {
            return HubSpotErrorBody(
                status: 404, message: "OAuth is not configured on this simulator (start it with --oauth-client-id …)",
                category: "OBJECT_NOT_FOUND"
            ).reply
        }
        let grant = value("grant_type")
        guard grant == "refresh_token" || grant == "client_credentials" else {
            return HubSpotErrorBody(
                status: 400, message: "grant_type must be refresh_token or client_credentials",
                category: "BAD_GRANT_TYPE"
            ).reply
        }
        guard let clientId = value("client_id"), let secret = value("client_secret"),
            constantTimeEquals(Array(clientId.utf8), Array(oauth.clientId.utf8)),
            constantTimeEquals(Array(secret.utf8), Array(oauth.clientSecret.utf8))
        else {
            return HubSpotErrorBody(
                status: 400, message: "missing or unknown client id or secret", category: "BAD_CLIENT_ID"
            ).reply
        }
        if grant == "client_credentials" {
            let scopes = Set((value("scope") ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init))
            let token = "sim-cc-" + UUID().uuidString.lowercased()
            let lifetime = oauth.accessTokenLifetime.milliseconds
            clientTokens.withLock { tokens in
                tokens = tokens.filter { $0.value.expiresAt > now - 86_400_000 }
                tokens[token] = (now + lifetime, scopes)
            }
            var w = JSONWriter()
            w.beginObject()
            w.member("token_type", "bearer")
            w.member("access_token", token)
            w.member("expires_in", lifetime / 1000)
            w.member("scope", scopes.sorted().joined(separator: " "))
            w.endObject()
            return .json(200, w)
        }
        guard let refresh = value("refresh_token"),
            constantTimeEquals(Array(refresh.utf8), Array(oauth.refreshToken.utf8))
        else {
            return HubSpotErrorBody(
                status: 400, message: "missing or unknown refresh token", category: "BAD_REFRESH_TOKEN"
            ).reply
        }
        let token = "sim-oauth-" + UUID().uuidString.lowercased()
        let lifetime = oauth.accessTokenLifetime.milliseconds
        issuedTokens.withLock { tokens in
            tokens = tokens.filter { $0.value > now - 86_400_000 }
            tokens[token] = now + lifetime
        }
        var w = JSONWriter()
        w.beginObject()
        w.member("token_type", "bearer")
        w.member("refresh_token", oauth.refreshToken)
        w.member("access_token", token)
        w.member("expires_in", lifetime / 1000)
        w.endObject()
        return .json(200, w)
    }

    /// Expires every issued OAuth token now (admin API), to exercise refresh-on-401.
    func expireIssuedTokens(now: Int64) -> Int {
        let installs = issuedTokens.withLock { tokens in
            for key in tokens.keys { tokens[key] = now - 1000 }
            return tokens.count
        }
        let apps = clientTokens.withLock { tokens in
            for key in tokens.keys { tokens[key]?.expiresAt = now - 1000 }
            return tokens.count
        }
        return installs + apps
    }

    /// The scopes of a client-credentials bearer token (nil for any other token).
    func clientScopes(_ header: String?) -> Set<String>? {
        guard let header, header.count > 7 else { return nil }
        return clientTokens.withLock { $0[String(header.dropFirst(7))]?.scopes }
    }
}
