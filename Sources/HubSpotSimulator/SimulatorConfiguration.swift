import Time
/// Everything that shapes one simulated HubSpot portal. Every value has HubSpot's default.
public struct SimulatorConfiguration: Sendable {
    /// Interface to bind (`127.0.0.1` by default: the simulator is a development tool).
    public var host: String = "127.0.0.1"
    /// Port to bind; 0 picks a free one (see `HubSpotSimulator.boundPort`).
    public var port: Int = 0
    /// The private-app token clients must present as `Authorization: Bearer <token>`.
    public var token: String = "pat-sim-token"
    /// Tokens of the account's other private apps: each has a burst window of its own, and
    /// all share the account's daily limit (a service still calling HubSpot directly).
    public var otherPrivateAppTokens: [String] = []
    /// The portal (account) id shown in webhooks and errors.
    public var portalId: Int = 62515
    /// The account's time zone name, as `/account-info/2026-03/details` reports it (its offset
    /// is `dailyResetUTCOffset`).
    public var accountTimeZone: String = "Etc/UTC"
    /// The app id shown in webhooks.
    public var appId: Int = 54321
    /// Custom object types, e.g. parsed from `cars:vin!,make,year:number`.
    public var customObjectTypes: [ObjectTypeDefinition] = []
    /// The scopes the token was granted, e.g. `crm.objects.contacts.read` (nil: every scope).
    /// Object calls outside them are answered 403 `MISSING_SCOPES`, as HubSpot does.
    public var grantedScopes: Set<String>? = nil
    /// Requests admitted per rolling window per app (HubSpot Free/Starter: 100; 0 = unlimited).
    public var burstLimit: Int = 100
    /// The rolling window of the burst limit.
    public var burstInterval: Duration = .seconds(10)
    /// Requests per account per day (0 = unlimited).
    public var dailyLimit: Int = 250_000
    /// UTC offset of the account's time zone; the daily counter resets at its midnight.
    public var dailyResetUTCOffset: Duration = .zero
    /// Search requests per `searchInterval` (HubSpot today: 5 per second; 0 = unlimited).
    public var searchPerSecondLimit: Int = 5
    /// The window of the search limit (HubSpot: one second).
    public var searchInterval: Duration = .seconds(1)
    /// Search caps: groups, filters, limit, body size, result window.
    var searchLimits = SearchQuery.Limits()
    /// How long a written record stays out of search results, as HubSpot's search index lags
    /// behind writes (by seconds); zero: searchable at once.
    public var searchIndexDelay: Duration = .zero
    /// The simulator's clock: what it stamps records with, counts its rate-limit windows and
    /// its statistics' seconds by, and judges the search index's delay on. Tests pass a
    /// `ManualClock` to move time by hand; webhook signatures keep the real time.
    public var time: TimeSource = .system
    /// Largest request body accepted, in bytes.
    public var maxBodyBytes: Int = 4 * 1024 * 1024
    /// Inputs per batch call.
    public var maxBatchInputs: Int = 100
    /// Page size caps of list calls (50 when `propertiesWithHistory` is asked for).
    public var maxListLimit: Int = 100
    public var maxListLimitWithHistory: Int = 50
    /// Records to seed at start (contacts; companies and deals in proportion); 0 = none.
    public var seedContacts: Int = 0
    /// Seed of the pseudo-random generators behind seeded data and fault decisions (latency
    /// samples, drops, errors), so a run with the same requests in the same order repeats.
    public var seedValue: UInt64 = 42
    /// Seeded records of each type share this many modification times, in contiguous blocks
    /// (0: each record a minute after the previous one). Few times and many records put more
    /// than search's 10,000 results in one millisecond.
    public var seedDistinctTimestamps: Int = 0
    /// Faults and latency at start-up; the admin API can replace them at run time.
    public var faults = FaultConfiguration()
    /// Where webhooks go; nil disables them.
    public var webhook: WebhookConfiguration?
    /// OAuth app credentials for `POST /oauth/v1/token`; nil disables the endpoint.
    public var oauth: OAuthConfiguration?
    /// The webhooks journal (subscriptions made through its API fill it).
    public var journal = JournalConfiguration()
    /// How long one CRM export takes to build its file (exports run one at a time).
    public var exportDelay: Duration = .seconds(2)
    /// CRM exports an account may start per rolling 24 hours.
    public var exportsPerDay = 30
    /// How long an export's download URL works after a status read hands it out.
    public var exportURLLifetime: Duration = .seconds(300)
    /// Arrivals kept for `/_sim/stats` sliding-window analysis.
    public var statisticsCapacity: Int = 200_000

    public init() {}
}

/// Where and how the simulator delivers webhooks.
public struct WebhookConfiguration: Sendable {
    /// An `http://host:port/path` URL, or several separated by commas: batches go to each in
    /// turn (replicas behind a load balancer).
    public var targetURL: String
    /// The URL the app has configured, which HubSpot signs, when deliveries reach the receiver
    /// at another (an ingress in front of it); nil: the target URL.
    public var signedURL: String?
    /// The app's client secret, the key of `X-HubSpot-Signature-v3`.
    public var clientSecret: String
    /// Events per delivery (HubSpot sends up to 100).
    public var maxBatchSize: Int = 100
    /// How long events gather before a delivery.
    public var batchInterval: Duration = .milliseconds(200)
    /// Delivery timeout (HubSpot: 5 s).
    public var timeout: Duration = .seconds(5)
    /// Attempts per batch before it is dropped (HubSpot: 10 over 24 hours).
    public var maxAttempts: Int = 10
    /// Delay before the first retry; doubled each time.
    public var retryBaseDelay: Duration = .seconds(1)
    /// Faults of delivery, to test a receiver against HubSpot's at-least-once, unordered ways.
    public var faults = WebhookDeliveryFaults()

    public init(targetURL: String, clientSecret: String) {
        self.targetURL = targetURL
        self.clientSecret = clientSecret
    }
}

/// How deliveries misbehave on purpose.
public struct WebhookDeliveryFaults: Sendable, Equatable {
    /// Share of batches delivered a second time (newly signed, as HubSpot's retries are).
    public var duplicateRate: Double = 0
    /// Deliver batches pairwise in reverse order.
    public var reorder = false
    /// Extra wait before each delivery.
    public var delay: Duration = .zero

    public init() {}
}

/// The OAuth app the simulator issues access tokens for (refresh-token grant only).
public struct OAuthConfiguration: Sendable {
    public var clientId: String
    public var clientSecret: String
    public var refreshToken: String
    /// Lifetime of issued access tokens (HubSpot: 30 minutes).
    public var accessTokenLifetime: Duration = .seconds(1800)

    public init(clientId: String, clientSecret: String, refreshToken: String) {
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.refreshToken = refreshToken
    }
}
