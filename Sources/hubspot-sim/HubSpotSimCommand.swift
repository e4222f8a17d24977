import ArgumentParser
import Foundation
import HubSpotSimulator
import Logging
import ServiceLifecycle
import UnixSignals

/// `hubspot-sim`: a stateful local HubSpot CRM API for development, tests and benchmarks.
@main
struct HubSpotSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hubspot-sim",
        abstract: "A stateful local HubSpot CRM API with HubSpot's rate limits, errors, faults and webhooks.",
        discussion: """
            Clients use it like https://api.hubapi.com: point their base URL at the printed address and send \
            'Authorization: Bearer <token>'. The simulator's own API lives under /_sim/ (stats, faults, limits, reset).
            Secrets may come from the environment: HUBSPOT_SIM_TOKEN, HUBSPOT_SIM_WEBHOOK_SECRET.
            """
    )

    @Option(help: "Interface to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free port).")
    var port = 8090

    @Option(help: "Private-app token clients must send (default: $HUBSPOT_SIM_TOKEN or pat-sim-token).")
    var token: String?

    @Option(help: "Milliseconds one CRM export takes to build its file (exports run one at a time).")
    var exportDelayMs = 2_000

    @Option(help: "CRM exports the account may start per rolling 24 hours.")
    var exportsPerDay = 30

    @Option(help: "Portal (account) id shown in webhooks and errors.")
    var portalId = 62515

    @Option(help: "Seed this many contacts, with companies (1 per 5) and deals (1 per 2), deterministically.")
    var seed = 0

    @Option(help: "Seed of the pseudo-random generator behind --seed data.")
    var seedValue: UInt64 = 42

    @Option(
        help:
            "Seeded records of each type share this many modification times, in contiguous blocks (0: a minute apart each); few times put over 10,000 search results in one millisecond."
    )
    var seedDistinctTimestamps = 0

    @Option(
        help:
            "Requests allowed per rolling burst interval (HubSpot Free/Starter 100, Pro/Enterprise 190; 0 = unlimited)."
    )
    var burstLimit = 100

    @Option(help: "Length of the rolling burst window in milliseconds.")
    var burstIntervalMs = 10_000

    @Option(help: "Requests allowed per day (0 = unlimited).")
    var dailyLimit = 250_000

    @Option(help: "Hours east of UTC of the account's time zone (the daily limit resets at its midnight).")
    var dailyResetUtcOffsetHours = 0

    @Option(
        help:
            "The account's time zone name in /account-info/2026-03/details (its offset: --daily-reset-utc-offset-hours)."
    )
    var accountTimeZone = "Etc/UTC"

    @Option(
        help:
            "Token of another private app of the account (repeatable): its own burst window, the account's daily limit shared."
    )
    var otherPrivateAppToken: [String] = []

    @Option(help: "Search requests allowed per search interval (0 = unlimited).")
    var searchPerSecond = 5

    @Option(
        help: "Milliseconds a written record stays out of search results, as HubSpot's search index lags (0: none).")
    var searchIndexDelayMs = 0

    @Option(help: "The window of the search limit in milliseconds (HubSpot: 1000).")
    var searchIntervalMs = 1000

    @Option(help: "Latency added to every API request in ms: 50, 20-80 (uniform) or 50~10 (normal).")
    var latency = "0"

    @Option(help: "Fraction (0–1) of API requests answered with a 5xx.")
    var errorRate = 0.0

    @Option(help: "Statuses used by --error-rate, comma-separated.")
    var errorStatuses = "500,502,503,504"

    @Option(help: "Fraction (0–1) of API requests whose connection is closed without an answer.")
    var dropRate = 0.0

    @Option(help: "Send response bodies in 64-byte pieces with this many ms between them (0 = off).")
    var slowBodyMs = 0

    @Flag(help: "Start in a full outage: every API request is answered 503.")
    var outage = false

    @Option(
        name: .customLong("custom-object"),
        help: "Declare a custom object type, e.g. cars:vin!,make,year:number (! = unique). Repeatable.")
    var customObjects: [String] = []

    @Option(
        help:
            "Scopes the token was granted, comma-separated (e.g. crm.objects.contacts.read); object calls outside them get HubSpot's 403 MISSING_SCOPES. Default: every scope."
    )
    var grantedScopes: String?

    @Option(help: "Deliver webhooks for API changes to this http:// URL.")
    var webhookURL: String?

    @Option(help: "Client secret that signs webhooks (X-HubSpot-Signature-v3); default $HUBSPOT_SIM_WEBHOOK_SECRET.")
    var webhookSecret: String?

    @Option(help: "Milliseconds events gather before a webhook delivery.")
    var webhookBatchMs = 200

    @Option(help: "Enable POST /oauth/v1/token for this OAuth client id.")
    var oauthClientId: String?

    @Option(help: "OAuth client secret (default $HUBSPOT_SIM_OAUTH_CLIENT_SECRET).")
    var oauthClientSecret: String?

    @Option(help: "The refresh token the token endpoint accepts (default $HUBSPOT_SIM_OAUTH_REFRESH_TOKEN).")
    var oauthRefreshToken: String?

    @Option(help: "Lifetime of issued OAuth access tokens in seconds (HubSpot: 1800).")
    var oauthTokenLifetimeS = 1800

    @Option(
        help:
            "How long webhooks-journal entries are kept, in seconds (HubSpot: 3 days); shorten it to test an expired offset."
    )
    var journalRetentionSeconds = 3 * 24 * 3600

    @Option(help: "Events per webhooks-journal entry (an entry is sealed when full or when a reader asks).")
    var journalEntryMaxEvents = 100

    @Option(help: "Largest request body accepted, in bytes.")
    var maxBodyBytes = 4 * 1024 * 1024

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func makeConfiguration() throws -> SimulatorConfiguration {
        let environment = ProcessInfo.processInfo.environment
        var configuration = SimulatorConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.token = token ?? environment["HUBSPOT_SIM_TOKEN"] ?? "pat-sim-token"
        configuration.portalId = portalId
        configuration.seedContacts = seed
        configuration.seedValue = seedValue
        configuration.seedDistinctTimestamps = seedDistinctTimestamps
        configuration.exportDelay = .milliseconds(exportDelayMs)
        configuration.exportsPerDay = exportsPerDay
        configuration.burstLimit = burstLimit
        configuration.burstInterval = .milliseconds(burstIntervalMs)
        configuration.dailyLimit = dailyLimit
        configuration.dailyResetUTCOffset = .seconds(dailyResetUtcOffsetHours * 3600)
        configuration.accountTimeZone = accountTimeZone
        configuration.otherPrivateAppTokens = otherPrivateAppToken
        configuration.searchPerSecondLimit = searchPerSecond
        configuration.searchIndexDelay = .milliseconds(max(0, searchIndexDelayMs))
        configuration.searchInterval = .milliseconds(max(1, searchIntervalMs))
        configuration.maxBodyBytes = maxBodyBytes
        guard journalRetentionSeconds > 0, journalEntryMaxEvents > 0 else {
            throw ValidationError("--journal-retention-seconds and --journal-entry-max-events must be positive")
        }
        configuration.journal.retention = .seconds(journalRetentionSeconds)
        configuration.journal.maxEventsPerEntry = journalEntryMaxEvents
        configuration.customObjectTypes = try customObjects.enumerated().map { index, declaration in
            try ObjectTypeDefinition.parseCustom(declaration, index: index + 1)
        }
        guard let latencySpec = LatencySpec.parse(latency) else {
            throw ValidationError("--latency must be milliseconds: 50, 20-80 (uniform) or 50~10 (normal)")
        }
        guard (0...1).contains(errorRate), (0...1).contains(dropRate) else {
            throw ValidationError("--error-rate and --drop-rate are fractions from 0 to 1")
        }
        let statuses = errorStatuses.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !statuses.isEmpty, statuses.allSatisfy({ (400...599).contains($0) }) else {
            throw ValidationError("--error-statuses must list HTTP error statuses, e.g. 500,502,503,504")
        }
        var rule = FaultRule()
        rule.latency = latencySpec
        rule.errorRate = errorRate
        rule.errorStatuses = statuses
        rule.dropRate = dropRate
        if slowBodyMs > 0 { rule.slowBodyChunkDelay = .milliseconds(slowBodyMs) }
        if rule != FaultRule() { configuration.faults.rules = [rule] }
        configuration.faults.outage = outage
        configuration.grantedScopes = grantedScopes.map { Set($0.split(separator: ",").map(String.init)) }
        if let webhookURL {
            guard let secret = webhookSecret ?? environment["HUBSPOT_SIM_WEBHOOK_SECRET"], !secret.isEmpty else {
                throw ValidationError(
                    "--webhook-url needs a client secret: --webhook-secret or HUBSPOT_SIM_WEBHOOK_SECRET")
            }
            var webhook = WebhookConfiguration(targetURL: webhookURL, clientSecret: secret)
            webhook.batchInterval = .milliseconds(max(1, webhookBatchMs))
            configuration.webhook = webhook
        }
        if let oauthClientId {
            guard let secret = oauthClientSecret ?? environment["HUBSPOT_SIM_OAUTH_CLIENT_SECRET"],
                let refresh = oauthRefreshToken ?? environment["HUBSPOT_SIM_OAUTH_REFRESH_TOKEN"]
            else {
                throw ValidationError(
                    "--oauth-client-id needs --oauth-client-secret and --oauth-refresh-token (or their environment variables)"
                )
            }
            var oauth = OAuthConfiguration(clientId: oauthClientId, clientSecret: secret, refreshToken: refresh)
            oauth.accessTokenLifetime = .seconds(max(1, oauthTokenLifetimeS))
            configuration.oauth = oauth
        }
        return configuration
    }

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "hubspot-sim")
        let simulator: HubSpotSimulator
        do {
            simulator = try HubSpotSimulator(configuration: try makeConfiguration(), logger: logger)
        } catch let error as SimulatorConfigurationError {
            throw ValidationError(error.description)
        }
        let group = ServiceGroup(
            services: [simulator],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        let announce = Task {
            guard let port = try? await simulator.listeningPort() else { return }  // run() reports why
            FileHandle.standardOutput.write(Data("hubspot-sim listening on http://\(host):\(port)\n".utf8))
        }
        defer { announce.cancel() }
        try await group.run()
    }
}
