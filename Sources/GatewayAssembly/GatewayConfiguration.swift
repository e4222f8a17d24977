import ChangeFeed
import GatewayAPI
import GatewayCore
import GatewayREST
import WriteJobs

/// Everything the gateway is configured with: one configuration per component, each with its
/// own defaults. The executable maps its command line onto it; tests and benchmarks set what
/// they need.
public struct GatewayConfiguration: Sendable {
    /// The door to HubSpot: client, limiter, breaker, caches, batching.
    public var door: DoorConfiguration
    /// Deadline of gRPC calls that send no `grpc-timeout`.
    public var defaultTimeout: Duration = .seconds(10)
    /// Which finished RPCs get an access-log line (REST's is `rest.accessLog`).
    public var accessLog: AccessLogPolicy = .errors
    /// Whether callers may be identified by their client certificate (mutual TLS on).
    public var trustsCertificateIdentity = false
    /// Whether RPCs are traced (a tracer is bootstrapped).
    public var tracing = false
    public var rest = RESTConfiguration()
    public var feed = ChangeFeedConfiguration()
    /// The webhook intake (on when it has a client secret and `webhookIntake` is true).
    public var webhooks = WebhookIntakeConfiguration()
    public var webhookIntake = true
    public var invalidation = FeedInvalidator.Configuration()
    public var changes = ChangesService.Configuration()
    public var exports = ExportConfiguration()
    public var idempotency = IdempotentWrites.Configuration()
    public var jobs = WriteJobsConfiguration()
    /// How often JobsService's WatchJob looks at a job's progress.
    public var jobWatchInterval: Duration = .milliseconds(500)
    /// The reconciler (off when it has no object types).
    public var reconciler = ReconcilerConfiguration()
    /// How long the reconciler's and the journal reader's leases outlive their holder.
    public var reconcilerLease: Duration = .seconds(6)
    /// The webhooks-journal reader (off when it has no object types; needs developer credentials).
    public var journal = JournalReaderConfiguration()
    public var journalLease: Duration = .seconds(6)
    /// The HubSpot portal this fleet serves (nil: learned from HubSpot's account-info at start).
    /// The change intakes drop other portals' events; the journal reads its local journal.
    public var portalId: Int?
    /// Where every Redis key of the fleet lives (`prefixKeys`), recorded as the portal's: a
    /// second fleet of another portal on the same Redis needs its own.
    public var keyPrefix = "hubspot-gateway"
    /// Reading the account's day (its midnight, its usage) from HubSpot's account-info API.
    public var accountDay = AccountDayFollower.Configuration()
    /// Where the leases' keys live.
    public var leaseKeyPrefix = "hubspot-gateway:lease"

    public init(baseURL: String = "https://api.hubapi.com") {
        door = DoorConfiguration(baseURL: baseURL)
        reconciler.objectTypes = []
        journal.objectTypes = []
    }

    /// Every Redis key and channel of the gateway under `prefix` (a fleet of its own on a shared
    /// Redis; each test).
    public mutating func prefixKeys(_ prefix: String) {
        keyPrefix = prefix
        door.prefixKeys(prefix)
        feed.keyPrefix = prefix + ":feed"
        idempotency.keyPrefix = prefix + ":idempotency"
        jobs.keyPrefix = prefix + ":jobs"
        reconciler.keyPrefix = prefix + ":reconciler"
        journal.keyPrefix = prefix + ":journal"
        leaseKeyPrefix = prefix + ":lease"
    }
}
