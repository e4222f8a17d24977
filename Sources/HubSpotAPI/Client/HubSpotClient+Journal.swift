/// HubSpot's webhooks journal (API version 2026-03): entries read by offset, their data
/// downloaded from the URL each entry names, and the subscriptions that fill the journal. The
/// client's credentials must be `.clientCredentials` with the journal's scopes.
extension HubSpotClient {
    /// The entry at `position`, or nil when there is none yet (caught up: HubSpot answers 204).
    /// An expired or unknown offset throws `HubSpotError` with status 404.
    public func journalEntry(
        _ position: JournalPosition, in scope: JournalScope = .global, options: CallOptions = .init()
    ) async throws -> JournalEntry? {
        var query = QueryItems()
        if case .local(let portal?) = scope { query.add("installPortalId", String(portal)) }
        let (path, endpoint) =
            switch position {
            case .earliest: ("\(scope.pathPrefix)/earliest", "journal.earliest")
            case .latest: ("\(scope.pathPrefix)/latest", "journal.latest")
            case .next(let offset): ("\(scope.pathPrefix)/offset/\(try segment(offset))/next", "journal.next")
            }
        let answer: JournalAnswer = try await call(
            .get, path, query: query, endpoint: endpoint, options: options, idempotentDefault: true)
        return answer.entry
    }

    /// The data of a journal entry, from the (pre-signed) URL the entry named: no credentials
    /// are sent there.
    public func downloadJournalData(from url: String, options: CallOptions = .init()) async throws -> [UInt8] {
        var timeout = configuration.requestTimeout
        if let deadline = options.deadline { timeout = min(timeout, ContinuousClock.now.duration(to: deadline)) }
        guard timeout > .zero else { throw HubSpotClientError.deadlineExceeded(lastError: nil) }
        let response = try await transport.send(HTTPRequest(method: .get, url: url, headers: []), timeout: timeout)
        guard response.status == 200 else { throw HubSpotError(response: response) }
        return response.body
    }

    /// `GET /webhooks-journal/subscriptions/2026-03`: every subscription of the app.
    public func journalSubscriptions(options: CallOptions = .init()) async throws -> [JournalSubscription] {
        struct Page: Decodable { var results: [JournalSubscription] }
        let page: Page = try await call(
            .get, "/webhooks-journal/subscriptions/2026-03", endpoint: "journal.subscriptions.list",
            options: options, idempotentDefault: true)
        return page.results
    }

    /// `POST /webhooks-journal/subscriptions/2026-03`: creates or updates a subscription.
    public func upsertJournalSubscription(_ subscription: JournalSubscription, options: CallOptions = .init())
        async throws -> JournalSubscription
    {
        try await call(
            .post, "/webhooks-journal/subscriptions/2026-03", body: subscription,
            endpoint: "journal.subscriptions.upsert", options: options, idempotentDefault: true)
    }
}

/// A journal lookup's answer: an entry, or an empty 204 when there is none yet.
struct JournalAnswer: Decodable, EmptyBodyDecodable {
    var entry: JournalEntry?

    init() { entry = nil }

    init(from decoder: any Decoder) throws { entry = try JournalEntry(from: decoder) }
}

/// An answer type that an empty 2xx body (a 204) decodes to.
protocol EmptyBodyDecodable {
    init()
}
