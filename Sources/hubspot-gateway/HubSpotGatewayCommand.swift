import ChangeFeed
import ArgumentParser
import Foundation
import GatewayAPI
import GatewayCore
import JSONLogging
import Logging

/// The gateway's command line. Every option can also be set as `HUBSPOT_GATEWAY_<OPTION>`.
@main
struct HubSpotGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hubspot-gateway",
        abstract: "The company's one door to HubSpot: gRPC API, shared rate limit, cache, circuit breaker.",
        discussion:
            "Every option can also be given as an environment variable HUBSPOT_GATEWAY_<OPTION> (e.g. HUBSPOT_GATEWAY_REDIS_URL); the command line wins."
    )

    // MARK: HubSpot
    @Option(help: "HubSpot private-app token (prefer HUBSPOT_GATEWAY_HUBSPOT_TOKEN).")
    var hubspotToken: String?
    @Option(help: "OAuth client id (with --hubspot-client-secret and --hubspot-refresh-token instead of a token).")
    var hubspotClientId: String?
    @Option(help: "OAuth client secret.")
    var hubspotClientSecret: String?
    @Option(help: "OAuth refresh token of the installing account.")
    var hubspotRefreshToken: String?
    @Option(help: "HubSpot API base URL.")
    var hubspotBaseUrl = "https://api.hubapi.com"
    @Option(help: "Longest single HTTP exchange with HubSpot, seconds.")
    var hubspotRequestTimeoutSeconds: Double = 30

    // MARK: Redis
    @Option(
        help:
            "Redis URL shared by all replicas (redis://[:password@]host:port[/db], rediss:// for TLS, redis-sentinel://sentinel:26379,…/master[/db]); without one each replica limits and caches alone."
    )
    var redisUrl: String?
    @Option(help: "Longest Redis round trip of the limiter and the cache before falling back, milliseconds.")
    var redisTimeoutMilliseconds = 50
    @Option(
        help: "PEM file of the CAs that sign the Redis server's certificate (rediss:// URLs; default: the system's).")
    var redisTlsCaFile: String?
    @Option(help: "Name the Redis server's certificate must carry, if not the URL's host (rediss:// URLs).")
    var redisTlsServerName: String?
    @Option(help: "Client certificate (PEM) for a Redis that requires one (rediss:// URLs; with --redis-tls-key-file).")
    var redisTlsCertFile: String?
    @Option(help: "Key (PEM) of --redis-tls-cert-file.")
    var redisTlsKeyFile: String?
    @Option(
        help:
            "Password of the Redis Sentinels (redis-sentinel:// URLs; prefer HUBSPOT_GATEWAY_REDIS_SENTINEL_PASSWORD).")
    var redisSentinelPassword: String?
    @Option(
        help:
            "Replicas that must confirm (WAIT) a webhook event or job record before the gateway acknowledges it, so a Sentinel failover keeps it (0: the master alone)."
    )
    var redisDurableReplicas = 0
    @Option(
        help:
            "Milliseconds an acknowledged write waits for those replicas before it fails (and is retried by its sender)."
    )
    var redisDurableTimeoutMilliseconds = 500

    // MARK: Serving
    @Option(help: "Address the gRPC and HTTP servers listen on.")
    var host = "0.0.0.0"
    @Option(help: "gRPC port (0 picks a free one and prints it).")
    var grpcPort = 50051
    @Option(help: "HTTP port for /healthz, /readyz and /metrics (0 picks a free one).")
    var httpPort = 8080
    @Option(help: "Deadline of calls that send no grpc-timeout, seconds.")
    var defaultTimeoutSeconds: Double = 10
    @Option(help: "Seconds in-flight RPCs get to finish after SIGTERM.")
    var shutdownGraceSeconds: Double = 25
    @Option(help: "Seconds after which a client connection is drained with GOAWAY, so clients rebalance (0: never).")
    var maxConnectionAgeSeconds: Double = 1800
    @Option(help: "PEM certificate chain of the gRPC listener: serves TLS (ALPN h2) instead of cleartext h2c.")
    var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?
    @Option(
        help:
            "PEM CAs of client certificates: every gRPC client must present one (mutual TLS); callers may then be identified by it (cert= in the caller keys)."
    )
    var tlsClientCa: String?
    @Option(help: "Seconds between checks of the TLS files for a renewed certificate.")
    var tlsReloadSeconds: Double = 30

    // MARK: Tracing
    @Option(
        help:
            "OpenTelemetry collector's OTLP/HTTP URL (http://otel-collector:4318): traces of every RPC, REST call, cache lookup, budget wait, batch, HubSpot call and Redis round trip go there (off without it)."
    )
    var otlpEndpoint: String?
    @Option(
        help: "Share of the traces the gateway starts that are recorded (a caller's traceparent decides for its own).")
    var otlpSampleRatio: Double = 1
    @Option(help: "Milliseconds between exports of finished spans.")
    var otlpExportIntervalMilliseconds = 1000
    @Option(help: "Finished spans held while the collector is behind; more are dropped and counted.")
    var otlpMaxQueuedSpans = 4096

    // MARK: Callers
    @Option(help: "File of caller keys: one `service sha256:<hex> scopes` line per calling service.")
    var callerKeysFile: String?
    @Option(
        help: "Caller keys in the same form, lines separated by newlines or ';' (prefer HUBSPOT_GATEWAY_CALLER_KEYS).")
    var callerKeys: String?

    // MARK: Budget
    @Option(help: "Fleet-wide general HubSpot calls per second.")
    var generalPerSecond = 8
    @Option(help: "Fleet-wide search calls per second.")
    var searchPerSecond = 4
    @Option(help: "Fleet-wide HubSpot calls per UTC day (0: no daily budget).")
    var dailyLimit = 250_000
    @Option(help: "General calls per second bulk callers may never take.")
    var interactiveReserve = 2
    @Option(
        help:
            "Milliseconds into each second the interactive reserve is held; what interactive callers left of it then goes to bulk work (1000: never)."
    )
    var reserveHeldMilliseconds = 800
    @Option(
        help:
            "Fair sharing between calling services (weight= in the caller keys): milliseconds a service whose turn it is not waits before asking again."
    )
    var fairShareRetryMilliseconds = 25
    @Option(
        help:
            "Milliseconds after its last refused ask a service still counts as waiting (a share nobody waits for goes to the others after it)."
    )
    var fairShareWaitingMarginMilliseconds = 250
    @Option(
        help:
            "Calls (at weight 1) a service that paused may be behind the others and catch up when it asks again.")
    var fairShareCredit: Double = 2
    @Option(
        help:
            "Refuse a call at once when its expected wait is over this share of its time left: in its service's line (CALLER_SHARE_EXHAUSTED), or, for a read or write merged into batches, in its batch line (GATEWAY_BUDGET_EXHAUSTED) (0: never refuse early)."
    )
    var earlyRefusalShare: Double = 0.5
    @Option(
        help:
            "Milliseconds of its deadline a call that waited for the budget must still have when granted (the HubSpot round trip); otherwise it is refused with retry-after instead of spending a slot it cannot use."
    )
    var callReserveMilliseconds = 100

    // MARK: Cache
    @Option(help: "Seconds a cached record is fresh.")
    var cacheTtlSeconds: Double = 300
    @Option(help: "Seconds a record is kept beyond its freshness, for serving while HubSpot is unavailable.")
    var cacheStaleSeconds: Double = 3600
    @Option(help: "Seconds a HubSpot 404 is remembered.")
    var cacheNotFoundSeconds: Double = 30
    @Option(
        help:
            "Seconds a replica serves a hot record from memory without asking Redis, while it hears other replicas' invalidations (0: always ask Redis)."
    )
    var cacheNearTtlSeconds: Double = 5
    @Option(
        help:
            "Milliseconds between retries of cache invalidations Redis could not take (writes acknowledged during a Redis outage); until one lands, this replica serves no Redis entry of that record."
    )
    var cachePendingRetryMilliseconds: Int = 100
    @Option(
        help:
            "Most records whose invalidation a replica keeps through a Redis outage; past it the whole cache is fenced (a new generation, every entry refetched once)."
    )
    var cachePendingCapacity: Int = 100_000

    // MARK: Change feed
    @Option(help: "HTTP path of the HubSpot webhook intake (on the HTTP port).")
    var webhookPath = "/webhooks/hubspot"
    @Option(
        help:
            "The webhook URL configured in the HubSpot app, which HubSpot signs (e.g. https://gateway.example.com/webhooks/hubspot); needed with signature v2/v3, as behind an ingress the request's Host is not it."
    )
    var webhookPublicUrl: String?
    @Option(
        help:
            "The HubSpot app's client secret(s) that sign webhooks, comma-separated while one is rotated out (prefer HUBSPOT_GATEWAY_WEBHOOK_SECRETS). Without one the webhook intake is off."
    )
    var webhookSecrets: String?
    @Option(
        help: "Webhook signature versions accepted, comma-separated: v3, and v1/v2 only for apps that still sign so.")
    var webhookSignatureVersions = "v3"
    @Option(help: "Oldest X-HubSpot-Request-Timestamp accepted, seconds (HubSpot's rule: 300).")
    var webhookMaxAgeSeconds: Double = 300
    @Option(help: "Largest webhook request body accepted, bytes (413 above).")
    var webhookMaxBodyBytes = 1 << 20
    @Option(help: "Hours the change feed keeps events (subscribers can resume within it).")
    var feedRetentionHours: Double = 168
    @Option(help: "Most events the change feed keeps, whatever their age (0: no cap).")
    var feedMaxLength = 1_000_000
    @Option(help: "Hours a webhook event id is remembered, to drop HubSpot's repeated deliveries.")
    var feedDedupeHours: Double = 48
    @Option(
        help:
            "Seconds an event may stay unhandled by the replica that took it for cache invalidation before another replica takes it."
    )
    var feedInvalidationClaimSeconds: Double = 5
    @Option(
        help:
            "Seconds an event delivered to a member of a subscriber group may stay unacknowledged before another member gets it."
    )
    var changesVisibilityTimeoutSeconds: Double = 30
    @Option(help: "Seconds a subscriber may stop reading before its stream ends with RESOURCE_EXHAUSTED.")
    var changesStallTimeoutSeconds: Double = 30
    @Option(
        help:
            "Object types the reconciler polls for changes webhooks missed, comma-separated (e.g. contacts,companies,deals,tickets; empty: off). It runs on one replica at a time, at bulk priority."
    )
    var reconcileTypes = ""
    @Option(help: "Seconds between the reconciler's passes.")
    var reconcileIntervalSeconds: Double = 30
    @Option(
        help: "Seconds behind its watermark each reconciler pass reads again (HubSpot's search lags behind writes).")
    var reconcileLookbackSeconds: Double = 300
    @Option(
        help:
            "Seconds between the reconciler's scans of archived records for deletions (each scan pages through every archived record of a type: HubSpot cannot filter that list by time)."
    )
    var reconcileDeletionsIntervalSeconds: Double = 300
    @Option(
        help:
            "The reconciler's share of the budget: at most this many HubSpot calls a second (searches and archived-list pages; 0: only bulk priority limits it)."
    )
    var reconcileCallsPerSecond: Double = 1
    @Option(
        help:
            "Seconds the reconciler's lease outlives its holder: another replica takes over within this after the holder dies."
    )
    var reconcileLeaseSeconds: Double = 6
    @Option(
        help:
            "Per type, the properties the reconciler compares, so that its UPDATED events name which changed: type=prop,prop;type=prop (e.g. contacts=email,lifecyclestage;deals=dealstage,amount)."
    )
    var reconcileProperties = ""

    // MARK: Webhooks journal (the pull intake)
    @Option(
        help:
            "Object types read from HubSpot's webhooks journal, comma-separated (e.g. contacts,companies,deals,tickets; empty: off). Needs --journal-client-id and --journal-client-secret of an app on HubSpot's developer platform; one replica at a time reads, at bulk priority."
    )
    var journalTypes = ""
    @Option(help: "Client id of the app whose webhooks journal is read (client-credentials grant).")
    var journalClientId: String?
    @Option(help: "Client secret of that app (better: $HUBSPOT_GATEWAY_JOURNAL_CLIENT_SECRET).")
    var journalClientSecret: String?
    @Option(
        help:
            "Scopes of the journal's client-credentials token, comma-separated (add the object scopes of the subscribed types if HubSpot asks for them)."
    )
    var journalScopes =
        "developer.webhooks_journal.read,developer.webhooks_journal.subscriptions.read,developer.webhooks_journal.subscriptions.write"
    @Option(help: "Read one account's local journal (its portal id) instead of the app's global journal.")
    var journalPortalId: Int?
    @Option(help: "Where a reader without a stored offset starts: earliest (what HubSpot still keeps) or latest.")
    var journalStart = "earliest"
    @Option(
        help: "Milliseconds the journal reader waits after it caught up (each look is a HubSpot call from the budget).")
    var journalPollIntervalMilliseconds = 5000
    @Option(help: "Seconds one journal call (budget wait included) or download may take.")
    var journalCallTimeoutSeconds: Double = 30
    @Option(
        help:
            "Seconds the journal reader's lease outlives its holder: another replica resumes from the stored offset within this after the holder dies."
    )
    var journalLeaseSeconds: Double = 6
    @Option(
        help:
            "Create or update the journal's subscriptions for --journal-types at start (true) or leave them as they are."
    )
    var journalManageSubscriptions = true
    @Option(
        help:
            "Serve the webhook endpoint (true), or not (false: a gateway that hears HubSpot only through the journal and the reconciler)."
    )
    var webhookIntake = true

    // MARK: Write jobs
    @Option(help: "Most records one write job may hold.")
    var jobMaxRecords = 100_000
    @Option(help: "Hours a write job and its per-record results are kept.")
    var jobRetentionHours: Double = 168
    @Option(help: "Seconds before a batch whose worker stopped (its replica died) is taken by another worker.")
    var jobVisibilityTimeoutSeconds: Double = 60
    @Option(help: "Seconds one job batch may wait for the budget (bulk priority) and HubSpot.")
    var jobCallTimeoutSeconds: Double = 45
    @Option(help: "Job workers per replica, each writing one batch of up to 100 records at a time (0: none here).")
    var jobWorkers = 2
    @Option(help: "Times a job batch is taken (after failures or crashes) before its unwritten records fail.")
    var jobMaxBatchAttempts = 5
    @Option(
        help:
            "Jobs of at least this many creates/upserts of one type (one unique property, no associations) are written by one HubSpot import instead of batches (0: never)."
    )
    var jobImportThreshold = 10_000
    @Option(help: "Seconds between polls of a job's HubSpot import (each poll is a HubSpot call).")
    var jobImportPollSeconds: Double = 2
    @Option(help: "Seconds a job's HubSpot import may take before its batch gives up on it (and is taken again).")
    var jobImportTimeoutSeconds: Double = 1800

    // MARK: REST
    @Option(
        help:
            "Seconds a REST request (HubSpot's paths, on the HTTP port) may wait for the budget and HubSpot without an X-Gateway-Timeout-Ms header."
    )
    var restDefaultTimeoutSeconds: Double = 10
    @Option(
        help:
            "Largest REST request body accepted, bytes (413 in HubSpot's error shape above; HubSpot's own limit is about 3 MB)."
    )
    var restMaxBodyBytes = 3 * 1024 * 1024

    // MARK: Metadata
    @Option(help: "Seconds pipelines, owners, properties and association types are served from the cache.")
    var metadataTtlSeconds: Double = 600

    // MARK: Idempotency
    @Option(help: "Hours an idempotency key of a create and its answer are kept (per calling service).")
    var idempotencyRetentionHours: Double = 24

    // MARK: Export
    @Option(
        help:
            "Seconds a change must be old before ExportChanged hands it out (HubSpot's search lags behind writes; younger changes come with the next run)."
    )
    var exportSettleSeconds: Double = 300
    @Option(help: "One export's share of the budget: at most this many HubSpot calls a second (0: bulk priority only).")
    var exportCallsPerSecond: Double = 0
    @Option(help: "Seconds one HubSpot call of an export may wait for the budget and HubSpot.")
    var exportCallTimeoutSeconds: Double = 60

    // MARK: Breaker
    @Option(help: "Failures in the breaker's window before it may open.")
    var breakerMinimumFailures = 5
    @Option(help: "Share of failed calls in the window that opens the breaker (0–1).")
    var breakerFailureRate = 0.5
    @Option(help: "Breaker window, seconds.")
    var breakerWindowSeconds: Double = 10
    @Option(help: "Seconds the breaker stays open before probing.")
    var breakerOpenSeconds: Double = 5

    // MARK: Development
    @Flag(
        help:
            "Run HubSpot's simulator in-process with demo data (no HubSpot credentials needed); prints a development caller key."
    )
    var sandbox = false
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).")
    var logLevel = "info"
    @Option(help: "Log line format: json (one object per line, for log collectors) or text.")
    var logFormat = "json"
    @Option(
        help:
            "Which finished RPCs and REST requests get an access-log line: all, errors (gRPC status other than OK, HTTP status 400 and above) or off."
    )
    var accessLog = "errors"

    static let optionNames = [
        "hubspot-token", "hubspot-client-id", "hubspot-client-secret", "hubspot-refresh-token", "hubspot-base-url",
        "hubspot-request-timeout-seconds",
        "redis-url", "redis-timeout-milliseconds", "redis-tls-ca-file", "redis-tls-server-name",
        "redis-tls-cert-file", "redis-tls-key-file", "redis-sentinel-password", "redis-durable-replicas",
        "redis-durable-timeout-milliseconds", "host", "grpc-port", "http-port", "default-timeout-seconds",
        "shutdown-grace-seconds",
        "max-connection-age-seconds", "otlp-endpoint", "otlp-sample-ratio", "otlp-export-interval-milliseconds",
        "otlp-max-queued-spans", "tls-cert", "tls-key", "tls-client-ca", "tls-reload-seconds", "caller-keys-file",
        "caller-keys", "general-per-second", "search-per-second",
        "daily-limit",
        "interactive-reserve", "reserve-held-milliseconds", "fair-share-retry-milliseconds",
        "fair-share-waiting-margin-milliseconds", "fair-share-credit", "early-refusal-share",
        "call-reserve-milliseconds",
        "cache-ttl-seconds", "cache-stale-seconds",
        "cache-not-found-seconds",
        "cache-near-ttl-seconds", "cache-pending-retry-milliseconds",
        "cache-pending-capacity", "breaker-minimum-failures",
        "breaker-failure-rate", "breaker-window-seconds", "breaker-open-seconds", "log-level", "log-format",
        "access-log", "webhook-path", "webhook-public-url", "webhook-secrets", "webhook-signature-versions",
        "webhook-max-age-seconds", "webhook-max-body-bytes", "feed-retention-hours", "feed-max-length",
        "feed-dedupe-hours", "feed-invalidation-claim-seconds", "changes-visibility-timeout-seconds",
        "changes-stall-timeout-seconds", "reconcile-types", "reconcile-interval-seconds", "reconcile-lookback-seconds",
        "reconcile-deletions-interval-seconds", "reconcile-calls-per-second", "reconcile-lease-seconds",
        "reconcile-properties", "journal-types", "journal-client-id", "journal-client-secret", "journal-scopes",
        "journal-portal-id", "journal-start", "journal-poll-interval-milliseconds", "journal-call-timeout-seconds",
        "journal-lease-seconds", "journal-manage-subscriptions", "webhook-intake",
        "export-settle-seconds", "export-calls-per-second", "export-call-timeout-seconds",
        "idempotency-retention-hours",
        "metadata-ttl-seconds", "rest-default-timeout-seconds", "rest-max-body-bytes", "job-max-records",
        "job-retention-hours",
        "job-visibility-timeout-seconds", "job-call-timeout-seconds", "job-workers", "job-max-batch-attempts",
        "job-import-threshold", "job-import-poll-seconds", "job-import-timeout-seconds",
    ]

    static func main() async {
        let arguments = EnvironmentArguments.merge(
            Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment,
            options: optionNames, flags: ["sandbox"])
        do {
            var command = try parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    func validate() throws {
        // Values that would stall or spin a background job.
        _ = try Self.comparedProperties(reconcileProperties)
        guard JournalReaderConfiguration.Start(rawValue: journalStart) != nil else {
            throw ValidationError("--journal-start must be earliest or latest (got \(journalStart))")
        }
        if !journalTypes.isEmpty, journalClientId == nil || journalClientSecret == nil || redisUrl == nil {
            throw ValidationError(
                "--journal-types needs --journal-client-id, --journal-client-secret (or $HUBSPOT_GATEWAY_JOURNAL_CLIENT_SECRET) and --redis-url (the offset and the feed live in Redis)"
            )
        }
        guard fairShareRetryMilliseconds >= 1, fairShareWaitingMarginMilliseconds >= 0, fairShareCredit >= 0,
            (0...1).contains(earlyRefusalShare), callReserveMilliseconds >= 0, (0...1).contains(otlpSampleRatio),
            otlpExportIntervalMilliseconds >= 1, otlpMaxQueuedSpans >= 1
        else {
            throw ValidationError(
                "--fair-share-retry-milliseconds must be ≥ 1, --fair-share-waiting-margin-milliseconds and --fair-share-credit ≥ 0, --early-refusal-share between 0 and 1, --call-reserve-milliseconds ≥ 0, --otlp-sample-ratio between 0 and 1, --otlp-export-interval-milliseconds and --otlp-max-queued-spans ≥ 1"
            )
        }
        guard (0...1000).contains(reserveHeldMilliseconds) else {
            throw ValidationError("--reserve-held-milliseconds must be between 0 and 1000")
        }
        let positive: [(String, Double)] = [
            ("--reconcile-interval-seconds", reconcileIntervalSeconds),
            ("--reconcile-deletions-interval-seconds", reconcileDeletionsIntervalSeconds),
            ("--reconcile-lease-seconds", reconcileLeaseSeconds),
            ("--journal-call-timeout-seconds", journalCallTimeoutSeconds),
            ("--journal-lease-seconds", journalLeaseSeconds),
            ("--journal-poll-interval-milliseconds", Double(journalPollIntervalMilliseconds)),
            ("--export-call-timeout-seconds", exportCallTimeoutSeconds),
            ("--idempotency-retention-hours", idempotencyRetentionHours),
            ("--metadata-ttl-seconds", metadataTtlSeconds),
            ("--rest-default-timeout-seconds", restDefaultTimeoutSeconds),
            ("--rest-max-body-bytes", Double(restMaxBodyBytes)),
        ]
        for (name, value) in positive where !(value > 0) {
            throw ValidationError("\(name) must be more than 0 (got \(value))")
        }
        let nonNegative: [(String, Double)] = [
            ("--reconcile-lookback-seconds", reconcileLookbackSeconds),
            ("--reconcile-calls-per-second", reconcileCallsPerSecond),
            ("--export-settle-seconds", exportSettleSeconds), ("--export-calls-per-second", exportCallsPerSecond),
        ]
        for (name, value) in nonNegative where !(value >= 0) {
            throw ValidationError("\(name) must be 0 or more (got \(value))")
        }
        guard
            sandbox || hubspotToken != nil
                || (hubspotClientId != nil && hubspotClientSecret != nil && hubspotRefreshToken != nil)
        else {
            throw ValidationError(
                """
                no HubSpot credentials: set HUBSPOT_GATEWAY_HUBSPOT_TOKEN (a private-app token), or the OAuth trio \
                HUBSPOT_GATEWAY_HUBSPOT_CLIENT_ID / _CLIENT_SECRET / _REFRESH_TOKEN — or run with --sandbox to try the gateway \
                against a built-in HubSpot simulator
                """)
        }
        guard sandbox || callerKeysFile != nil || callerKeys != nil else {
            throw ValidationError(
                "no caller keys: set HUBSPOT_GATEWAY_CALLER_KEYS_FILE (or _CALLER_KEYS) with one `service sha256:<hex> scopes` line per calling service"
            )
        }
        guard (0...1).contains(breakerFailureRate) else {
            throw ValidationError("--breaker-failure-rate must be between 0 and 1")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError(
                "--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard ["json", "text"].contains(logFormat) else { throw ValidationError("--log-format must be json or text") }
        guard RequestObservationInterceptor.AccessLog(rawValue: accessLog) != nil else {
            throw ValidationError("--access-log must be all, errors or off")
        }
        for version in webhookSignatureVersions.split(separator: ",") {
            guard
                WebhookIntakeConfiguration.SignatureVersion(rawValue: version.trimmingCharacters(in: .whitespaces))
                    != nil
            else {
                throw ValidationError(
                    "--webhook-signature-versions takes v1, v2 and v3 (comma-separated), not \(version)")
            }
        }
        if !sandbox, webhookSecrets != nil, webhookPublicUrl == nil, webhookSignatureVersions != "v1" {
            throw ValidationError(
                "--webhook-secrets needs --webhook-public-url: the URL configured in the HubSpot app, which HubSpot signs"
            )
        }
        guard webhookPath.hasPrefix("/") else { throw ValidationError("--webhook-path must start with /") }
        guard generalPerSecond > 0, searchPerSecond > 0 else {
            throw ValidationError("--general-per-second and --search-per-second must be positive")
        }
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

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let secrets =
            [hubspotToken, hubspotClientSecret, hubspotRefreshToken, journalClientSecret].compactMap { $0 }
            + (webhookSecrets?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? [])
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                json ? JSONLogHandler(label: label, redacting: secrets) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "hubspot-gateway")
        logger.logLevel = level
        try await GatewayServer(options: self, logger: logger).run()
    }
}
