import ArgumentParser
import ChangeFeed
import Foundation
import GatewayAPI
import GatewayAssembly
import GatewayCore
import GatewayREST
import HubSpotAPI
import JSONLogging
import Logging
import WriteJobs

/// The gateway's command line, grouped as its configuration is. Every option can also be set
/// as `HUBSPOT_GATEWAY_<OPTION>` (`EnvironmentArguments`); the command line wins.
public struct GatewayOptions: ParsableArguments {
    @OptionGroup(title: "HubSpot") public var hubspot: HubSpotOptions
    @OptionGroup(title: "Redis") public var redis: RedisOptions
    @OptionGroup(title: "Serving") public var serving: ServingOptions
    @OptionGroup(title: "Tracing") public var tracing: TracingOptions
    @OptionGroup(title: "Callers") public var callers: CallerOptions
    @OptionGroup(title: "Budget and breaker") public var budget: BudgetOptions
    @OptionGroup(title: "Cache") public var cache: CacheOptions
    @OptionGroup(title: "Change feed") public var changes: ChangeFeedOptions
    @OptionGroup(title: "Webhooks journal") public var journal: JournalOptions
    @OptionGroup(title: "Writes, jobs and exports") public var writes: WriteOptions
    @OptionGroup(title: "REST") public var rest: RESTOptions
    @OptionGroup(title: "Logging") public var logging: LoggingOptions

    public init() {}

    /// The scopes of the journal's client-credentials token.
    static let journalScopes = [
        "developer.webhooks_journal.read", "developer.webhooks_journal.subscriptions.read",
        "developer.webhooks_journal.subscriptions.write",
    ]

    public func validate() throws {
        _ = try Self.comparedProperties(changes.reconcileProperties)
        guard JournalReaderConfiguration.Start(rawValue: journal.journalStart) != nil else {
            throw ValidationError("--journal-start must be earliest or latest (got \(journal.journalStart))")
        }
        if !journal.journalTypes.isEmpty,
            journal.journalClientId == nil || journal.journalClientSecret == nil || redis.redisUrl == nil
        {
            throw ValidationError(
                "--journal-types needs --journal-client-id, --journal-client-secret (or $HUBSPOT_GATEWAY_JOURNAL_CLIENT_SECRET) and --redis-url (the offset and the feed live in Redis)"
            )
        }
        guard (0...1).contains(budget.earlyRefusalShare), (0...1).contains(tracing.otlpSampleRatio),
            tracing.otlpExportIntervalMilliseconds >= 1
        else {
            throw ValidationError(
                "--early-refusal-share and --otlp-sample-ratio must be between 0 and 1, --otlp-export-interval-milliseconds ≥ 1"
            )
        }
        guard (0...1000).contains(budget.reserveHeldMilliseconds) else {
            throw ValidationError("--reserve-held-milliseconds must be between 0 and 1000")
        }
        let positive: [(String, Double)] = [
            ("--reconcile-interval-seconds", changes.reconcileIntervalSeconds),
            ("--reconcile-deletions-interval-seconds", changes.reconcileDeletionsIntervalSeconds),
            ("--reconcile-lease-seconds", changes.reconcileLeaseSeconds),
            ("--journal-lease-seconds", journal.journalLeaseSeconds),
            ("--journal-poll-interval-milliseconds", Double(journal.journalPollIntervalMilliseconds)),
            ("--idempotency-retention-hours", writes.idempotencyRetentionHours),
            ("--metadata-ttl-seconds", cache.metadataTtlSeconds),
            ("--preferences-ttl-seconds", cache.preferencesTtlSeconds),
            ("--rest-default-timeout-seconds", rest.restDefaultTimeoutSeconds),
            ("--tls-reload-seconds", serving.tlsReloadSeconds),
        ]
        for (name, value) in positive where !(value > 0) {
            throw ValidationError("\(name) must be more than 0 (got \(value))")
        }
        let nonNegative: [(String, Double)] = [
            ("--reconcile-lookback-seconds", changes.reconcileLookbackSeconds),
            ("--reconcile-calls-per-second", changes.reconcileCallsPerSecond),
            ("--reconcile-association-scan-seconds", changes.reconcileAssociationScanSeconds),
            ("--export-settle-seconds", writes.exportSettleSeconds),
            ("--export-calls-per-second", writes.exportCallsPerSecond),
        ]
        for (name, value) in nonNegative where !(value >= 0) {
            throw ValidationError("\(name) must be 0 or more (got \(value))")
        }
        guard Logger.Level(rawValue: logging.logLevel) != nil else {
            throw ValidationError(
                "--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard ["json", "text"].contains(logging.logFormat) else {
            throw ValidationError("--log-format must be json or text")
        }
        guard AccessLogPolicy(rawValue: logging.accessLog) != nil else {
            throw ValidationError("--access-log must be all, errors or off")
        }
        _ = try signatureVersions()
        guard changes.webhookPath.hasPrefix("/") else { throw ValidationError("--webhook-path must start with /") }
        guard budget.generalPerSecond > 0, budget.searchPerSecond > 0 else {
            throw ValidationError("--general-per-second and --search-per-second must be positive")
        }
        guard budget.dailyLimit >= 0, budget.burstMargin >= 0 else {
            throw ValidationError("--daily-limit and --burst-margin must be zero or positive")
        }
        guard (0...1).contains(budget.burstShareForOthers), (0...1).contains(budget.dailyInteractiveReserve) else {
            throw ValidationError("--burst-share-for-others and --daily-interactive-reserve are shares from 0 to 1")
        }
        guard budget.accountRefreshSeconds > 0 else {
            throw ValidationError("--account-refresh-seconds must be positive")
        }
    }

    /// What a gateway in front of the real HubSpot needs besides valid values: credentials,
    /// caller keys, and the URL webhooks are signed for.
    public func validateForHubSpot() throws {
        guard credentials() != nil else {
            throw ValidationError(
                """
                no HubSpot credentials: set HUBSPOT_GATEWAY_HUBSPOT_TOKEN (a private-app token), or the OAuth trio \
                HUBSPOT_GATEWAY_HUBSPOT_CLIENT_ID / _CLIENT_SECRET / _REFRESH_TOKEN — or run hubspot-gateway-sandbox \
                (or scripts/run) to try the gateway against a HubSpot simulator
                """)
        }
        guard callers.callerKeysFile != nil || callers.callerKeys != nil else {
            throw ValidationError(
                "no caller keys: set HUBSPOT_GATEWAY_CALLER_KEYS_FILE (or _CALLER_KEYS) with one `service sha256:<hex> scopes` line per calling service"
            )
        }
        if changes.webhookSecrets != nil, changes.webhookPublicUrl == nil, changes.webhookSignatureVersions != "v1" {
            throw ValidationError(
                "--webhook-secrets needs --webhook-public-url: the URL configured in the HubSpot app, which HubSpot signs"
            )
        }
    }

    /// The HubSpot credentials given (nil: none).
    public func credentials() -> HubSpotCredentials? {
        if let token = hubspot.hubspotToken { return .privateAppToken(Secret(token)) }
        guard let id = hubspot.hubspotClientId, let secret = hubspot.hubspotClientSecret,
            let refresh = hubspot.hubspotRefreshToken
        else { return nil }
        return .oauth(OAuthCredentials(clientId: id, clientSecret: Secret(secret), refreshToken: Secret(refresh)))
    }

    /// The journal app's client credentials, when the journal is on.
    func developerCredentials() -> ClientCredentials? {
        guard !journal.journalTypes.isEmpty, let id = journal.journalClientId, let secret = journal.journalClientSecret
        else { return nil }
        return ClientCredentials(clientId: id, clientSecret: Secret(secret), scopes: Self.journalScopes)
    }

    /// The secrets the logs must never show.
    var secrets: [String] {
        [hubspot.hubspotToken, hubspot.hubspotClientSecret, hubspot.hubspotRefreshToken, journal.journalClientSecret]
            .compactMap { $0 } + Self.list(changes.webhookSecrets ?? "")
    }

    func signatureVersions() throws -> Set<WebhookIntakeConfiguration.SignatureVersion> {
        Set(
            try Self.list(changes.webhookSignatureVersions).map { version in
                guard let known = WebhookIntakeConfiguration.SignatureVersion(rawValue: version) else {
                    throw ValidationError(
                        "--webhook-signature-versions takes v1, v2 and v3 (comma-separated), not \(version)")
                }
                return known
            })
    }

    /// The gateway's configuration from these options, for HubSpot at `baseURL`.
    public func configuration(baseURL: String) throws -> GatewayConfiguration {
        var configuration = GatewayConfiguration(baseURL: baseURL)
        configuration.door.hubspot.requestTimeout = .seconds(hubspot.hubspotRequestTimeoutSeconds)
        configuration.door.hubspot.apiVersion = hubspot.hubspotApiVersion
        configuration.portalId = hubspot.hubspotPortalId
        configuration.door.redisTimeout = .milliseconds(redis.redisTimeoutMilliseconds)
        configuration.door.metadata.ttl = .seconds(cache.metadataTtlSeconds)
        configuration.door.preferences.ttl = .seconds(cache.preferencesTtlSeconds)

        var limits = configuration.door.limits
        limits.generalPerSecond = budget.generalPerSecond
        limits.searchPerSecond = budget.searchPerSecond
        limits.dailyLimit = budget.dailyLimit
        limits.interactiveReserve = budget.interactiveReserve
        limits.burstMargin = budget.burstMargin
        limits.learnBurst = budget.learnBurst
        limits.burstShareForOthers = budget.burstShareForOthers
        limits.dailyInteractiveReserve = budget.dailyInteractiveReserve
        limits.reserveHeldFor = .milliseconds(budget.reserveHeldMilliseconds)
        limits.earlyRefusal = budget.earlyRefusalShare > 0
        limits.earlyRefusalShare = budget.earlyRefusalShare
        configuration.door.limits = limits
        configuration.accountDay.refreshInterval = .seconds(budget.accountRefreshSeconds)
        configuration.door.breaker.minimumFailures = budget.breakerMinimumFailures
        configuration.door.breaker.openInterval = .seconds(budget.breakerOpenSeconds)
        configuration.door.cache.ttl = .seconds(cache.cacheTtlSeconds)
        configuration.door.cache.staleTTL = .seconds(cache.cacheStaleSeconds)
        configuration.door.cache.notFoundTTL = .seconds(cache.cacheNotFoundSeconds)
        configuration.door.cache.nearTTL = .seconds(cache.cacheNearTtlSeconds)

        configuration.defaultTimeout = .seconds(serving.defaultTimeoutSeconds)
        let accessLog = AccessLogPolicy(rawValue: logging.accessLog) ?? .errors
        configuration.accessLog = accessLog
        configuration.trustsCertificateIdentity = serving.tlsClientCa != nil
        configuration.tracing = tracing.otlpEndpoint != nil
        configuration.rest.defaultTimeout = .seconds(rest.restDefaultTimeoutSeconds)
        configuration.rest.accessLog = accessLog

        configuration.feed.retention = .seconds(changes.feedRetentionHours * 3600)
        configuration.feed.maxLength = max(0, changes.feedMaxLength)
        configuration.webhooks.path = changes.webhookPath
        configuration.webhooks.publicURL = changes.webhookPublicUrl
        configuration.webhooks.clientSecrets = Self.list(changes.webhookSecrets ?? "")
        configuration.webhooks.signatureVersions = try signatureVersions()
        configuration.webhookIntake = journal.webhookIntake
        configuration.invalidation.claimAfter = .seconds(changes.feedInvalidationClaimSeconds)
        configuration.changes.visibilityTimeout = .seconds(changes.changesVisibilityTimeoutSeconds)
        configuration.changes.stallTimeout = .seconds(changes.changesStallTimeoutSeconds)

        configuration.reconciler.objectTypes = Self.list(changes.reconcileTypes)
        configuration.reconciler.interval = .seconds(changes.reconcileIntervalSeconds)
        configuration.reconciler.lookback = .seconds(changes.reconcileLookbackSeconds)
        configuration.reconciler.deletionsInterval = .seconds(changes.reconcileDeletionsIntervalSeconds)
        configuration.reconciler.callsPerSecond = changes.reconcileCallsPerSecond
        configuration.reconciler.associationScanInterval =
            changes.reconcileAssociationScanSeconds > 0 ? .seconds(changes.reconcileAssociationScanSeconds) : nil
        configuration.reconciler.comparedProperties = try Self.comparedProperties(changes.reconcileProperties)
        configuration.reconcilerLease = .seconds(changes.reconcileLeaseSeconds)
        configuration.journal.objectTypes = Self.list(journal.journalTypes)
        configuration.journal.scope = journal.journalGlobal ? .global : .local(portalId: journal.journalPortalId)
        configuration.journal.start = JournalReaderConfiguration.Start(rawValue: journal.journalStart) ?? .earliest
        configuration.journal.pollInterval = .milliseconds(journal.journalPollIntervalMilliseconds)
        configuration.journalLease = .seconds(journal.journalLeaseSeconds)

        configuration.exports.settle = .seconds(writes.exportSettleSeconds)
        configuration.exports.callsPerSecond = writes.exportCallsPerSecond
        configuration.idempotency.retention = .seconds(writes.idempotencyRetentionHours * 3600)
        configuration.jobs.maxRecords = writes.jobMaxRecords
        configuration.jobs.retention = .seconds(writes.jobRetentionHours * 3600)
        configuration.jobs.visibilityTimeout = .seconds(writes.jobVisibilityTimeoutSeconds)
        configuration.jobs.callTimeout = .seconds(writes.jobCallTimeoutSeconds)
        configuration.jobs.workersPerReplica = writes.jobWorkers
        configuration.jobs.importThreshold = max(0, writes.jobImportThreshold)
        configuration.jobs.importPollInterval = .seconds(max(0.05, writes.jobImportPollSeconds))
        // Last, so that no component configured above keeps the default prefix.
        if redis.redisKeyPrefix != configuration.keyPrefix { configuration.prefixKeys(redis.redisKeyPrefix) }
        return configuration
    }

    /// Sets up logging as `--log-level` and `--log-format` say, secrets redacted.
    public func bootstrapLogging() -> Logger {
        let level = Logger.Level(rawValue: logging.logLevel) ?? .info
        let secrets = secrets
        let json = logging.logFormat == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                json ? JSONLogHandler(label: label, redacting: secrets) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "hubspot-gateway")
        logger.logLevel = level
        return logger
    }

    /// A comma-separated list, trimmed, without empty items.
    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// `--reconcile-properties`: `type=prop,prop;type=prop`.
    static func comparedProperties(_ text: String) throws -> [String: [String]] {
        var compared: [String: [String]] = [:]
        for part in text.split(separator: ";") where !part.trimmingCharacters(in: .whitespaces).isEmpty {
            let pieces = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let names =
                pieces.count == 2 ? pieces[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : []
            guard pieces.count == 2, !pieces[0].isEmpty, !names.isEmpty, !names.contains(where: \.isEmpty) else {
                throw ValidationError(
                    "--reconcile-properties: '\(part)' is not type=property,property (e.g. contacts=email,lifecyclestage)"
                )
            }
            compared[pieces[0], default: []] += names
        }
        return compared
    }
}
