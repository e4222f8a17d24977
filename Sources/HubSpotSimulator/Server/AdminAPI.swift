import Synchronization
import JSONCore
import Time

/// The simulator's own API under `/_sim/` (a prefix no HubSpot path uses): observation,
/// faults, limits and reset. It needs no token and is never rate limited or faulted.
struct AdminAPI {
    let core: SimulatorCore

    /// `{"now": ms since 1970}` on the simulator's clock.
    func writeClock() -> JSONWriter {
        var w = JSONWriter()
        w.beginObject()
        w.member("now", core.configuration.time.wallMilliseconds)
        w.endObject()
        return w
    }

    /// `{"rules": [{objectType, property, whenProperty?, equals?}]}`.
    func writeRules() -> JSONWriter {
        var w = JSONWriter()
        w.beginObject()
        w.key("rules")
        w.beginArray()
        for rule in core.writeRules.all {
            w.beginObject()
            w.member("objectType", rule.objectType)
            w.member("property", rule.property)
            if let when = rule.when {
                w.member("whenProperty", when.property)
                w.member("equals", when.equals)
            }
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w
    }

    /// `{delayMilliseconds, perDayLimit, urlLifetimeMilliseconds, tasks: [{id, objectType,
    /// status, rows, downloads, bytesServed}]}`.
    func exports() -> JSONWriter {
        let settings = core.exports.settings
        let now = core.configuration.time.wallMilliseconds
        var w = JSONWriter()
        w.beginObject()
        w.member("delayMilliseconds", settings.delayMilliseconds)
        w.member("perDayLimit", settings.perDayLimit)
        w.member("urlLifetimeMilliseconds", settings.urlLifetimeMilliseconds)
        w.key("tasks")
        w.beginArray()
        for task in core.exports.all {
            w.beginObject()
            w.member("id", task.id)
            w.member("objectType", task.objectType.name)
            w.member("status", task.status(at: now))
            w.member("rows", task.rows)
            w.member("downloads", task.downloads)
            w.member("bytesServed", task.bytesServed)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w
    }

    func handle(method: String, path: String, query: [(String, String)], body: [UInt8]) -> APIReply {
        let request = APIRequest(
            method: method, path: path, segments: APIRequest.pathSegments(path), query: query, body: body)
        do throws(HubSpotErrorBody) {
            switch (method, path) {
            case ("GET", "/_sim/health"):
                var w = JSONWriter()
                w.beginObject(); w.member("status", "ok"); w.endObject()
                return .json(200, w)
            case ("GET", "/_sim/stats"):
                let window = try request.intParameter("windowMs", default: 1000)
                return .json(200, statistics(windowMilliseconds: Int64(max(1, window))))
            case ("POST", "/_sim/stats/reset"), ("DELETE", "/_sim/stats"):
                core.statistics.reset()
                return .noContent
            case ("GET", "/_sim/faults"):
                return .json(200, writeFaults(core.faults.withLock { $0 }))
            case ("PUT", "/_sim/faults"):
                let faults = try Self.parseFaults(try request.json())
                core.faults.withLock { $0 = faults }
                return .json(200, writeFaults(faults))
            case ("GET", "/_sim/scopes"):
                return .json(200, Self.writeScopes(core.scopes.withLock { $0 }))
            case ("PUT", "/_sim/scopes"):
                let body = try request.json()
                guard let list = body["granted"]?.arrayValue else {
                    throw HubSpotErrorBody.validation(
                        "scopes must be {\"granted\": [\"crm.objects.contacts.read\", …]}")
                }
                var granted = Set<String>()
                for item in list { if let scope = item.stringValue { granted.insert(scope) } }
                let scopes = GrantedScopes(granted: granted)
                core.scopes.withLock { $0 = scopes }
                return .json(200, Self.writeScopes(scopes))
            case ("DELETE", "/_sim/scopes"):
                core.scopes.withLock { $0 = GrantedScopes(granted: nil) }
                return .json(200, Self.writeScopes(GrantedScopes(granted: nil)))
            case ("DELETE", "/_sim/faults"):
                core.faults.withLock { $0 = FaultConfiguration() }
                return .noContent
            case ("GET", "/_sim/write-rules"):
                return .json(200, writeRules())
            case ("POST", "/_sim/write-rules"):
                core.writeRules.add(try WriteRules.parse(try request.json()))
                return .json(200, writeRules())
            case ("DELETE", "/_sim/write-rules"):
                core.writeRules.reset()
                return .noContent
            case ("GET", "/_sim/exports"):
                return .json(200, exports())
            case ("PUT", "/_sim/exports"):
                let body = try request.json()
                var settings = core.exports.settings
                func number(_ name: String) -> Double? {
                    if case .number(let value)? = body[name], value >= 0 { return value } else { return nil }
                }
                if let delay = number("delayMilliseconds") { settings.delayMilliseconds = Int64(delay) }
                if let limit = number("perDayLimit") { settings.perDayLimit = Int(limit) }
                if let lifetime = number("urlLifetimeMilliseconds") {
                    settings.urlLifetimeMilliseconds = Int64(lifetime)
                }
                core.exports.settings = settings
                return .json(200, exports())
            case ("GET", "/_sim/clock"):
                return .json(200, writeClock())
            case ("POST", "/_sim/clock"):
                let body = try request.json()
                guard case .number(let milliseconds)? = body["advanceMilliseconds"], milliseconds >= 0,
                    milliseconds == milliseconds.rounded()
                else {
                    throw HubSpotErrorBody.validation(
                        "the clock moves forward only: {\"advanceMilliseconds\": N} with N >= 0")
                }
                core.configuration.time.moveForward(by: .milliseconds(Int64(milliseconds)))
                return .json(200, writeClock())
            case ("GET", "/_sim/limits"):
                return .json(200, writeLimits())
            case ("PUT", "/_sim/limits"):
                try updateLimits(try request.json())
                return .json(200, writeLimits())
            case ("POST", "/_sim/reset"):
                do {
                    try core.reset()
                } catch {
                    return HubSpotErrorBody(status: 500, message: error.description, category: "INTERNAL_ERROR").reply
                }
                return .noContent
            case ("POST", "/_sim/oauth/expire"):
                var w = JSONWriter()
                w.beginObject()
                w.member("expired", core.expireIssuedTokens(now: core.configuration.time.wallMilliseconds))
                w.endObject()
                return .json(200, w)
            case ("GET", "/_sim/webhooks"):
                return .json(200, writeWebhooks())
            case ("PUT", "/_sim/webhooks"):
                let configuration = try Self.parseWebhooks(try request.json())
                do {
                    try core.webhooks.configure(configuration)
                } catch {
                    return HubSpotErrorBody(status: 400, message: error.description, category: "VALIDATION_ERROR").reply
                }
                return .json(200, writeWebhooks())
            case ("DELETE", "/_sim/webhooks"):
                try? core.webhooks.configure(nil)
                return .noContent
            case (_, _) where path.hasPrefix("/_sim/ui/"):
                return uiEdit(request)
            case ("GET", _) where path.hasPrefix("/_sim/journal/files/"):
                // The pre-signed download URL of a journal entry's data (S3 at HubSpot).
                let offset = String(path.dropFirst("/_sim/journal/files/".count))
                guard let file = core.journal.file(offset: offset, now: core.configuration.time.wallMilliseconds) else {
                    return HubSpotErrorBody(
                        status: 404, message: "no journal file \(offset) (expired?)", category: "OBJECT_NOT_FOUND"
                    ).reply
                }
                return APIReply(status: 200, body: file)
            case ("GET", "/_sim/journal"):
                let (entries, journalled, subscriptions) = core.journal.statistics
                var w = JSONWriter()
                w.beginObject()
                w.member("entries", entries)
                w.member("journalled", journalled)
                w.member("subscriptions", subscriptions)
                w.member("retentionSeconds", core.journal.configuration.retention.components.seconds)
                w.endObject()
                return .json(200, w)
            case ("GET", "/_sim/objects"):
                var w = JSONWriter()
                w.beginObject()
                for (name, count) in core.store.counts() { w.member(name, count) }
                w.endObject()
                return .json(200, w)
            default:
                return HubSpotErrorBody(
                    status: 404,
                    message:
                        "Unknown admin endpoint \(method) \(path). Try GET /_sim/stats, GET|PUT|DELETE /_sim/faults, GET|PUT|DELETE /_sim/scopes, GET|PUT /_sim/limits, POST /_sim/reset, POST /_sim/oauth/expire, GET|PUT|DELETE /_sim/webhooks, GET /_sim/objects, GET /_sim/journal, POST|PATCH|DELETE /_sim/ui/objects/….",
                    category: "OBJECT_NOT_FOUND"
                ).reply
            }
        } catch {
            return error.reply
        }
    }

    private func statistics(windowMilliseconds: Int64) -> JSONWriter {
        let snapshot = core.statistics.snapshot()
        let window = RequestStatistics.maxInWindow(snapshot, windowMilliseconds: windowMilliseconds)
        var w = JSONWriter(capacity: 4096)
        w.beginObject()
        w.member("startedAt", Timestamps.iso8601(snapshot.startedAt))
        w.member("received", snapshot.received)
        w.member("total", snapshot.total)
        w.member("rateLimited", snapshot.byStatus[429] ?? 0)
        w.key("byEndpoint")
        w.beginObject()
        for (name, count) in snapshot.byEndpoint.sorted(by: { $0.key < $1.key }) { w.member(name, count) }
        w.endObject()
        w.key("byVersion")
        w.beginObject()
        for (version, count) in snapshot.byVersion.sorted(by: { $0.key < $1.key }) { w.member(version, count) }
        w.endObject()
        w.key("byStatus")
        w.beginObject()
        for (status, count) in snapshot.byStatus.sorted(by: { $0.key < $1.key }) { w.member(String(status), count) }
        w.endObject()
        w.key("byEndpointAndStatus")
        w.beginObject()
        for (name, statuses) in snapshot.byEndpointAndStatus.sorted(by: { $0.key < $1.key }) {
            w.key(name)
            w.beginObject()
            for (status, count) in statuses.sorted(by: { $0.key < $1.key }) { w.member(String(status), count) }
            w.endObject()
        }
        w.endObject()
        w.key("perSecond")
        w.beginArray()
        var maxAdmittedPerSecond = 0
        for (second, bucket) in snapshot.perSecond.sorted(by: { $0.key < $1.key }) {
            maxAdmittedPerSecond = max(maxAdmittedPerSecond, bucket.all - bucket.rateLimited)
            w.beginObject()
            w.member("second", second)
            w.member("requests", bucket.all)
            w.member("rateLimited", bucket.rateLimited)
            w.key("byEndpoint")
            w.beginObject()
            for (name, counts) in bucket.byEndpoint.sorted(by: { $0.key < $1.key }) {
                w.key(name)
                w.beginObject()
                w.member("requests", counts.all)
                w.member("rateLimited", counts.rateLimited)
                w.endObject()
            }
            w.endObject()
            w.endObject()
        }
        w.endArray()
        w.member("maxAdmittedInAnyWallClockSecond", maxAdmittedPerSecond)
        w.key("slidingWindow")
        w.beginObject()
        w.member("windowMilliseconds", windowMilliseconds)
        w.member("maxRequests", window.all)
        w.member("maxAdmitted", window.admitted)
        w.member("maxAdmittedSearches", window.admittedSearches)
        w.member("maxAdmittedOthers", window.admittedOthers)
        w.member("arrivalsDropped", snapshot.arrivalsDropped)
        w.endObject()
        w.endObject()
        return w
    }

    private func writeLimits() -> JSONWriter {
        let settings = core.limits.settings
        let used = core.limits.snapshot(now: core.configuration.time.wallMilliseconds)
        var w = JSONWriter()
        w.beginObject()
        w.member("burstLimit", settings.burstLimit)
        w.member("burstIntervalMs", settings.burstIntervalMilliseconds)
        w.member("dailyLimit", settings.dailyLimit)
        w.member("searchPerSecondLimit", settings.searchPerSecondLimit)
        w.member("searchIntervalMs", settings.searchIntervalMilliseconds)
        w.member("burstUsed", used.burstUsed)
        w.member("searchUsed", used.searchUsed)
        w.member("dailyUsed", used.dailyUsed)
        w.member("refusals", core.limits.refusals)
        w.endObject()
        return w
    }

    private func updateLimits(_ body: JSONValue) throws(HubSpotErrorBody) {
        var settings = core.limits.settings
        func integer(_ name: String) throws(HubSpotErrorBody) -> Int64? {
            guard let value = body[name], !value.isNull else { return nil }
            guard case .number(let n) = value, n >= 0, n == n.rounded() else {
                throw .validation("\(name) must be a non-negative integer")
            }
            return Int64(n)
        }
        if let v = try integer("burstLimit") { settings.burstLimit = Int(v) }
        if let v = try integer("burstIntervalMs") {
            guard v > 0 else { throw .validation("burstIntervalMs must be positive") }
            settings.burstIntervalMilliseconds = v
        }
        if let v = try integer("dailyLimit") { settings.dailyLimit = Int(v) }
        if let v = try integer("searchPerSecondLimit") { settings.searchPerSecondLimit = Int(v) }
        if let v = try integer("searchIntervalMs") {
            guard v > 0 else { throw .validation("searchIntervalMs must be positive") }
            settings.searchIntervalMilliseconds = v
        }
        core.limits.reconfigure(settings)
    }

    /// A change made as a person in HubSpot's UI would: the CRM call's effect without its
    /// budget, statistics or faults, reported in webhooks with changeSource CRM_UI.
    /// `POST /_sim/ui/objects/{type}`, `PATCH|DELETE /_sim/ui/objects/{type}/{id}`,
    /// `POST /_sim/ui/objects/{type}/merge`.
    private func uiEdit(_ request: APIRequest) -> APIReply {
        let apiPath = "/crm/v3/" + request.path.dropFirst("/_sim/ui/".count)
        let api = APIRequest(
            method: request.method, path: apiPath, segments: APIRequest.pathSegments(apiPath), query: request.query,
            body: request.body)
        switch APIRoute.match(api) {
        case .failure(let error): return error.reply
        case .success(let route):
            do {
                return try route.handler(api, core.context(changeSource: "CRM_UI"))
            } catch {
                return error.reply
            }
        }
    }

    static func parseWebhooks(_ body: JSONValue) throws(HubSpotErrorBody) -> WebhookConfiguration {
        guard let url = body["targetURL"]?.stringValue, let secret = body["clientSecret"]?.stringValue, !secret.isEmpty
        else {
            throw HubSpotErrorBody(
                status: 400, message: "targetURL and clientSecret are required", category: "VALIDATION_ERROR")
        }
        var configuration = WebhookConfiguration(targetURL: url, clientSecret: secret)
        configuration.signedURL = body["signedURL"]?.stringValue
        if let size = body["maxBatchSize"]?.propertyText.flatMap({ Int($0) }) { configuration.maxBatchSize = size }
        if let ms = body["batchIntervalMs"]?.propertyText.flatMap({ Int64($0) }) {
            configuration.batchInterval = .milliseconds(ms)
        }
        if let attempts = body["maxAttempts"]?.propertyText.flatMap({ Int($0) }) {
            configuration.maxAttempts = attempts
        }
        if let ms = body["retryBaseDelayMs"]?.propertyText.flatMap({ Int64($0) }) {
            configuration.retryBaseDelay = .milliseconds(ms)
        }
        if let rate = body["duplicateRate"]?.propertyText.flatMap({ Double($0) }) {
            configuration.faults.duplicateRate = rate
        }
        if let reorder = body["reorder"]?.boolValue { configuration.faults.reorder = reorder }
        if let ms = body["delayMs"]?.propertyText.flatMap({ Int64($0) }) {
            configuration.faults.delay = .milliseconds(ms)
        }
        return configuration
    }

    private func writeWebhooks() -> JSONWriter {
        var w = JSONWriter()
        w.beginObject()
        if let configuration = core.webhooks.configuration {
            let stats = core.webhooks.statistics
            w.member("enabled", true)
            w.member("targetURL", configuration.targetURL)
            w.member("eventsQueued", stats.eventsQueued)
            w.member("pendingEvents", core.webhooks.pendingEvents)
            w.member("deliveries", stats.deliveries)
            w.member("failedAttempts", stats.failedAttempts)
            w.member("droppedBatches", stats.droppedBatches)
            w.key("lastStatus")
            if let last = stats.lastStatus { w.int(last) } else { w.null() }
        } else {
            w.member("enabled", false)
        }
        w.endObject()
        return w
    }

    /// `{"granted": [...]}`, or `{"granted": null}` for every scope.
    static func writeScopes(_ scopes: GrantedScopes) -> JSONWriter {
        var w = JSONWriter()
        w.beginObject()
        w.key("granted")
        if let granted = scopes.granted {
            w.beginArray()
            for scope in granted.sorted() { w.string(scope) }
            w.endArray()
        } else {
            w.null()
        }
        w.endObject()
        return w
    }

    private func writeFaults(_ faults: FaultConfiguration) -> JSONWriter {
        var w = JSONWriter()
        w.beginObject()
        w.member("outage", faults.outage)
        w.key("rules")
        w.beginArray()
        for rule in faults.rules {
            w.beginObject()
            w.key("endpoint")
            w.optionalString(rule.endpoint)
            w.member("latency", rule.latency.description)
            w.key("errorRate"); w.value(.number(rule.errorRate))
            w.key("errorStatuses"); w.value(.array(rule.errorStatuses.map { .number(Double($0)) }))
            w.key("dropRate"); w.value(.number(rule.dropRate))
            w.key("slowBodyChunkDelayMs")
            if let delay = rule.slowBodyChunkDelay { w.int(delay.milliseconds) } else { w.null() }
            w.member("slowBodyChunkBytes", rule.slowBodyChunkBytes)
            w.member("afterRequests", rule.afterRequests)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w
    }

    /// Parses `{"outage": false, "rules": [{"endpoint": "objects.get", "latency": "20-80", "errorRate": 0.1, …}]}`.
    static func parseFaults(_ body: JSONValue) throws(HubSpotErrorBody) -> FaultConfiguration {
        guard case .object = body else { throw .validation("faults must be a JSON object with outage and rules") }
        var faults = FaultConfiguration()
        if let outage = body["outage"] {
            guard case .bool(let value) = outage else { throw .validation("outage must be true or false") }
            faults.outage = value
        }
        for (index, element) in (body["rules"]?.arrayValue ?? []).enumerated() {
            guard case .object = element else { throw .validation("rules[\(index)] must be an object") }
            var rule = FaultRule(endpoint: element["endpoint"]?.stringValue)
            if let latency = element["latency"] {
                guard let text = latency.propertyText, let parsed = LatencySpec.parse(text) else {
                    throw .validation(
                        "rules[\(index)].latency must be milliseconds: 50, 20-80 (uniform) or 50~10 (normal)")
                }
                rule.latency = parsed
            }
            func fraction(_ name: String) throws(HubSpotErrorBody) -> Double? {
                guard let value = element[name] else { return nil }
                guard case .number(let n) = value, n >= 0, n <= 1 else {
                    throw .validation("rules[\(index)].\(name) must be a number from 0 to 1")
                }
                return n
            }
            rule.errorRate = try fraction("errorRate") ?? 0
            rule.dropRate = try fraction("dropRate") ?? 0
            if let statuses = element["errorStatuses"]?.arrayValue {
                rule.errorStatuses = statuses.compactMap { value -> Int? in
                    if case .number(let n) = value { return Int(n) }
                    return nil
                }
                guard !rule.errorStatuses.isEmpty, rule.errorStatuses.allSatisfy({ (400...599).contains($0) }) else {
                    throw .validation("rules[\(index)].errorStatuses must be HTTP error statuses (400–599)")
                }
            }
            if case .number(let ms)? = element["slowBodyChunkDelayMs"], ms > 0 {
                rule.slowBodyChunkDelay = .milliseconds(Int64(ms))
            }
            if case .number(let bytes)? = element["slowBodyChunkBytes"], bytes >= 1 {
                rule.slowBodyChunkBytes = Int(bytes)
            }
            if let after = element["afterRequests"] {
                guard case .number(let n) = after, n >= 0, n == n.rounded() else {
                    throw .validation("rules[\(index)].afterRequests must be a whole number of requests (0 or more)")
                }
                rule.afterRequests = Int(n)
            }
            faults.rules.append(rule)
        }
        return faults
    }
}
