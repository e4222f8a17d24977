import ArgumentParser
import HubSpotAPI

/// HubSpot options.
public struct HubSpotOptions: ParsableArguments {
    @Option(help: "HubSpot private-app token (prefer HUBSPOT_GATEWAY_HUBSPOT_TOKEN).")
    public var hubspotToken: String?
    @Option(help: "OAuth client id (with --hubspot-client-secret and --hubspot-refresh-token instead of a token).")
    public var hubspotClientId: String?
    @Option(help: "OAuth client secret.")
    public var hubspotClientSecret: String?
    @Option(help: "OAuth refresh token of the installing account.")
    public var hubspotRefreshToken: String?
    @Option(help: "HubSpot API base URL.")
    public var hubspotBaseUrl = "https://api.hubapi.com"
    @Option(help: "Longest single HTTP exchange with HubSpot, seconds.")
    public var hubspotRequestTimeoutSeconds: Double = 30
    @Option(
        help:
            "HubSpot's API version every call uses: 2026-09 (current), 2026-03, or legacy (/crm/v3, /crm/v4). Per replica; see docs/hubspot-versions.md."
    )
    public var hubspotApiVersion = HubSpotAPIVersion.current
    @Option(
        help:
            "The HubSpot portal (account id) this fleet serves: webhook and journal events of other portals are dropped, and the journal read is its local one. Without it, learned from HubSpot's account-info at start."
    )
    public var hubspotPortalId: Int?

    public init() {}
}

/// Redis options.
public struct RedisOptions: ParsableArguments {
    @Option(
        help:
            "Redis URL shared by all replicas (redis://[:password@]host:port[/db], rediss:// for TLS, redis-sentinel://sentinel:26379,…/master[/db]); without one each replica limits and caches alone."
    )
    public var redisUrl: String?
    @Option(help: "Longest Redis round trip of the limiter and the cache before falling back, milliseconds.")
    public var redisTimeoutMilliseconds = 50
    @Option(
        help: "PEM file of the CAs that sign the Redis server's certificate (rediss:// URLs; default: the system's).")
    public var redisTlsCaFile: String?
    @Option(help: "Name the Redis server's certificate must carry, if not the URL's host (rediss:// URLs).")
    public var redisTlsServerName: String?
    @Option(help: "Client certificate (PEM) for a Redis that requires one (rediss:// URLs; with --redis-tls-key-file).")
    public var redisTlsCertFile: String?
    @Option(help: "Key (PEM) of --redis-tls-cert-file.")
    public var redisTlsKeyFile: String?
    @Option(
        help:
            "Password of the Redis Sentinels (redis-sentinel:// URLs; prefer HUBSPOT_GATEWAY_REDIS_SENTINEL_PASSWORD).")
    public var redisSentinelPassword: String?
    @Option(
        help:
            "Replicas that must confirm (WAIT) a webhook event or job record before the gateway acknowledges it, so a Sentinel failover keeps it (0: the master alone)."
    )
    public var redisDurableReplicas = 0
    @Option(
        help:
            "Prefix of every Redis key and channel of this fleet. Two fleets on one Redis (a sandbox portal's and production's) need their own, e.g. hubspot-gateway:<portal id>; a fleet finding another portal's state under its prefix reports not ready."
    )
    public var redisKeyPrefix = "hubspot-gateway"
    @Option(
        help:
            "The Redis of what must not be lost (feed, jobs, idempotency records, offsets, leases, the budget's state); noeviction and AOF. Default: --redis-url."
    )
    public var stateRedisUrl: String?
    @Option(
        help:
            "The Redis of the object and metadata caches, which may evict (allkeys-lru). Default: --redis-url."
    )
    public var cacheRedisUrl: String?
    @Flag(
        help:
            "Start even when the state Redis's maxmemory-policy evicts keys (acknowledged jobs, events and idempotency records could then be lost)."
    )
    public var allowEvictingStateRedis = false

    public init() {}
}

/// Serving options.
public struct ServingOptions: ParsableArguments {
    @Option(help: "Address the gRPC and HTTP servers listen on.")
    public var host = "0.0.0.0"
    @Option(help: "gRPC port (0 picks a free one and prints it).")
    public var grpcPort = 50051
    @Option(help: "HTTP port for /healthz, /readyz and /metrics (0 picks a free one).")
    public var httpPort = 8080
    @Option(help: "Deadline of calls that send no grpc-timeout, seconds.")
    public var defaultTimeoutSeconds: Double = 10
    @Option(help: "Seconds in-flight RPCs get to finish after SIGTERM.")
    public var shutdownGraceSeconds: Double = 25
    @Option(help: "Seconds after which a client connection is drained with GOAWAY, so clients rebalance (0: never).")
    public var maxConnectionAgeSeconds: Double = 1800
    @Option(help: "PEM certificate chain of the gRPC listener: serves TLS (ALPN h2) instead of cleartext h2c.")
    public var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.")
    public var tlsKey: String?
    @Option(
        help:
            "PEM CAs of client certificates: every gRPC client must present one (mutual TLS); callers may then be identified by it (cert= in the caller keys)."
    )
    public var tlsClientCa: String?
    @Option(help: "Seconds between checks of the TLS files for a renewed certificate.")
    public var tlsReloadSeconds: Double = 30

    public init() {}
}

/// Tracing options.
public struct TracingOptions: ParsableArguments {
    @Option(
        help:
            "OpenTelemetry collector's OTLP/HTTP URL (http://otel-collector:4318): traces of every RPC, REST call, cache lookup, budget wait, batch, HubSpot call and Redis round trip go there (off without it)."
    )
    public var otlpEndpoint: String?
    @Option(
        help: "Share of the traces the gateway starts that are recorded (a caller's traceparent decides for its own).")
    public var otlpSampleRatio: Double = 1
    @Option(help: "Milliseconds between exports of finished spans.")
    public var otlpExportIntervalMilliseconds = 1000

    public init() {}
}

/// Callers options.
public struct CallerOptions: ParsableArguments {
    @Option(help: "File of caller keys: one `service sha256:<hex> scopes` line per calling service.")
    public var callerKeysFile: String?
    @Option(
        help: "Caller keys in the same form, lines separated by newlines or ';' (prefer HUBSPOT_GATEWAY_CALLER_KEYS).")
    public var callerKeys: String?

    public init() {}
}

/// Budget and breaker options.
public struct BudgetOptions: ParsableArguments {
    @Option(help: "Fleet-wide general HubSpot calls per second.")
    public var generalPerSecond = 8
    @Option(help: "Fleet-wide search calls per second.")
    public var searchPerSecond = 4
    @Option(
        help:
            "A cap of the fleet's own HubSpot calls per account day, on top of what HubSpot's Daily-Remaining says is left of the account's day (0: HubSpot's figure alone)."
    )
    public var dailyLimit = 0
    @Option(
        help:
            "Calls per HubSpot interval the fleet leaves unspent under X-HubSpot-RateLimit-Max (at most a tenth of Max): room for what the estimate of others' spending misses."
    )
    public var burstMargin = 3
    @Option(
        help:
            "Take the fleet's ceiling from the plan's X-HubSpot-RateLimit-Max (less --burst-share-for-others) instead of --general-per-second."
    )
    public var learnBurst = false
    @Option(help: "With --learn-burst: the share of HubSpot's burst left to callers the gateway cannot see (0–1).")
    public var burstShareForOthers: Double = 0.1
    @Option(
        help:
            "Share of a day (the account's, and each service's daily= quota) only interactive calls may spend: bulk work stops when no more is left (0–1)."
    )
    public var dailyInteractiveReserve: Double = 0.05
    @Option(help: "Seconds between reads of the account's daily usage and midnight (account-info API).")
    public var accountRefreshSeconds: Double = 900
    @Option(help: "General calls per second bulk callers may never take.")
    public var interactiveReserve = 2
    @Option(
        help:
            "Milliseconds into each second the interactive reserve is held; what interactive callers left of it then goes to bulk work (1000: never)."
    )
    public var reserveHeldMilliseconds = 800
    @Option(
        help:
            "Refuse a call at once when its expected wait is over this share of its time left: in its service's line (CALLER_SHARE_EXHAUSTED), or, for a read or write merged into batches, in its batch line (GATEWAY_BUDGET_EXHAUSTED) (0: never refuse early)."
    )
    public var earlyRefusalShare: Double = 0.5
    @Option(help: "Failures in the breaker's window before it may open.")
    public var breakerMinimumFailures = 5
    @Option(help: "Seconds the breaker stays open before probing.")
    public var breakerOpenSeconds: Double = 5

    public init() {}
}

/// Cache options.
public struct CacheOptions: ParsableArguments {
    @Option(help: "Seconds a cached record is fresh.")
    public var cacheTtlSeconds: Double = 300
    @Option(help: "Seconds a record is kept beyond its freshness, for serving while HubSpot is unavailable.")
    public var cacheStaleSeconds: Double = 3600
    @Option(help: "Seconds a HubSpot 404 is remembered.")
    public var cacheNotFoundSeconds: Double = 30
    @Option(
        help:
            "Seconds a replica serves a hot record from memory without asking Redis, while it hears other replicas' invalidations (0: always ask Redis)."
    )
    public var cacheNearTtlSeconds: Double = 5
    @Option(help: "Seconds pipelines, owners, properties and association types are served from the cache.")
    public var metadataTtlSeconds: Double = 600
    @Option(
        help:
            "Seconds a contact's subscription statuses (communication preferences) are served from the cache; never served older (a consent check that cannot ask HubSpot fails)."
    )
    public var preferencesTtlSeconds: Double = 60

    public init() {}
}

/// Change feed options.
public struct ChangeFeedOptions: ParsableArguments {
    @Option(help: "HTTP path of the HubSpot webhook intake (on the HTTP port).")
    public var webhookPath = "/webhooks/hubspot"
    @Option(
        help:
            "The webhook URL configured in the HubSpot app, which HubSpot signs (e.g. https://gateway.example.com/webhooks/hubspot); needed with signature v2/v3, as behind an ingress the request's Host is not it."
    )
    public var webhookPublicUrl: String?
    @Option(
        help:
            "The HubSpot app's client secret(s) that sign webhooks, comma-separated while one is rotated out (prefer HUBSPOT_GATEWAY_WEBHOOK_SECRETS). Without one the webhook intake is off."
    )
    public var webhookSecrets: String?
    @Option(
        help: "Webhook signature versions accepted, comma-separated: v3, and v1/v2 only for apps that still sign so.")
    public var webhookSignatureVersions = "v3"
    @Option(help: "Hours the change feed keeps events (subscribers can resume within it).")
    public var feedRetentionHours: Double = 168
    @Option(help: "Most events the change feed keeps, whatever their age (0: no cap).")
    public var feedMaxLength = 1_000_000
    @Option(
        help:
            "Seconds an event may stay unhandled by the replica that took it for cache invalidation before another replica takes it."
    )
    public var feedInvalidationClaimSeconds: Double = 5
    @Option(
        help:
            "Seconds an event delivered to a member of a subscriber group may stay unacknowledged before another member gets it."
    )
    public var changesVisibilityTimeoutSeconds: Double = 30
    @Option(help: "Seconds a subscriber may stop reading before its stream ends with RESOURCE_EXHAUSTED.")
    public var changesStallTimeoutSeconds: Double = 30
    @Option(
        help:
            "Object types the reconciler polls for changes webhooks missed, comma-separated (e.g. contacts,companies,deals,tickets; empty: off). It runs on one replica at a time, at bulk priority."
    )
    public var reconcileTypes = ""
    @Option(help: "Seconds between the reconciler's passes.")
    public var reconcileIntervalSeconds: Double = 30
    @Option(
        help: "Seconds behind its watermark each reconciler pass reads again (HubSpot's search lags behind writes).")
    public var reconcileLookbackSeconds: Double = 300
    @Option(
        help:
            "Seconds between the reconciler's scans of archived records for deletions (each scan pages through every archived record of a type: HubSpot cannot filter that list by time)."
    )
    public var reconcileDeletionsIntervalSeconds: Double = 300
    @Option(
        help:
            "Seconds between the reconciler's scans of every record's associations for changes (HubSpot does not move a record's modification time when only its associations change; a scan costs one call per 100 records, 5 pages a pass; 0: no scan)."
    )
    public var reconcileAssociationScanSeconds: Double = 600
    @Option(
        help:
            "The reconciler's share of the budget: at most this many HubSpot calls a second (searches and archived-list pages; 0: only bulk priority limits it)."
    )
    public var reconcileCallsPerSecond: Double = 1
    @Option(
        help:
            "Seconds the reconciler's lease outlives its holder: another replica takes over within this after the holder dies."
    )
    public var reconcileLeaseSeconds: Double = 6
    @Option(
        help:
            "Per type, the properties the reconciler compares, so that its UPDATED events name which changed: type=prop,prop;type=prop (e.g. contacts=email,lifecyclestage;deals=dealstage,amount)."
    )
    public var reconcileProperties = ""

    public init() {}
}

/// Webhooks journal options.
public struct JournalOptions: ParsableArguments {
    @Option(
        help:
            "Object types read from HubSpot's webhooks journal, comma-separated (e.g. contacts,companies,deals,tickets; empty: off). Needs --journal-client-id and --journal-client-secret of an app on HubSpot's developer platform; one replica at a time reads, at bulk priority."
    )
    public var journalTypes = ""
    @Option(help: "Client id of the app whose webhooks journal is read (client-credentials grant).")
    public var journalClientId: String?
    @Option(help: "Client secret of that app (better: $HUBSPOT_GATEWAY_JOURNAL_CLIENT_SECRET).")
    public var journalClientSecret: String?
    @Option(
        help:
            "Read this account's local journal (its portal id) instead of the fleet's portal's (--hubspot-portal-id, or learned from HubSpot)."
    )
    public var journalPortalId: Int?
    @Flag(
        help:
            "Read the app's global journal (every installing account's events; other portals' are dropped) instead of the portal's local one."
    )
    public var journalGlobal = false
    @Option(help: "Where a reader without a stored offset starts: earliest (what HubSpot still keeps) or latest.")
    public var journalStart = "earliest"
    @Option(
        help: "Milliseconds the journal reader waits after it caught up (each look is a HubSpot call from the budget).")
    public var journalPollIntervalMilliseconds = 5000
    @Option(
        help:
            "Seconds the journal reader's lease outlives its holder: another replica resumes from the stored offset within this after the holder dies."
    )
    public var journalLeaseSeconds: Double = 6
    @Option(
        help:
            "Serve the webhook endpoint (true), or not (false: a gateway that hears HubSpot only through the journal and the reconciler)."
    )
    public var webhookIntake = true

    public init() {}
}

/// Writes, jobs and exports options.
public struct WriteOptions: ParsableArguments {
    @Option(help: "Most records one write job may hold.")
    public var jobMaxRecords = 100_000
    @Option(help: "Hours a write job and its per-record results are kept.")
    public var jobRetentionHours: Double = 168
    @Option(help: "Seconds before a batch whose worker stopped (its replica died) is taken by another worker.")
    public var jobVisibilityTimeoutSeconds: Double = 60
    @Option(help: "Seconds one job batch may wait for the budget (bulk priority) and HubSpot.")
    public var jobCallTimeoutSeconds: Double = 45
    @Option(help: "Job workers per replica, each writing one batch of up to 100 records at a time (0: none here).")
    public var jobWorkers = 2
    @Option(
        help:
            "Jobs of at least this many creates/upserts of one type (one unique property, no associations) are written by one HubSpot import instead of batches (0: never)."
    )
    public var jobImportThreshold = 10_000
    @Option(help: "Seconds between polls of a job's HubSpot import (each poll is a HubSpot call).")
    public var jobImportPollSeconds: Double = 2
    @Option(help: "Hours an idempotency key of a create and its answer are kept (per calling service).")
    public var idempotencyRetentionHours: Double = 24
    @Option(
        help:
            "Seconds a change must be old before ExportChanged hands it out (HubSpot's search lags behind writes; younger changes come with the next run)."
    )
    public var exportSettleSeconds: Double = 300
    @Option(help: "One export's share of the budget: at most this many HubSpot calls a second (0: bulk priority only).")
    public var exportCallsPerSecond: Double = 0

    public init() {}
}

/// REST options.
public struct RESTOptions: ParsableArguments {
    @Option(
        help:
            "Seconds a REST request (HubSpot's paths, on the HTTP port) may wait for the budget and HubSpot without an X-Gateway-Timeout-Ms header."
    )
    public var restDefaultTimeoutSeconds: Double = 10

    public init() {}
}

/// Logging options.
public struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).")
    public var logLevel = "info"
    @Option(help: "Log line format: json (one object per line, for log collectors) or text.")
    public var logFormat = "json"
    @Option(
        help:
            "Which finished RPCs and REST requests get an access-log line: all, errors (gRPC status other than OK, HTTP status 400 and above) or off."
    )
    public var accessLog = "errors"

    public init() {}
}

extension HubSpotAPIVersion: ExpressibleByArgument {}
