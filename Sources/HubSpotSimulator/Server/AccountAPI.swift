import JSONCore
import Time

/// `/account-info/2026-03/…`: the account's facts (its time zone, whose midnight ends the daily
/// budget) and the daily usage every private app of the account shares.
enum AccountAPI {
    /// Matches `/account-info/…` paths (nil: not an account-info path).
    static func match(_ request: APIRequest) -> Result<APIRoute, HubSpotErrorBody>? {
        let s = request.segments
        guard s.first == "account-info" else { return nil }
        switch Array(s.dropFirst()) {
        case ["2026-03", "details"], ["v3", "details"]:
            return APIRoute.route(request, "account.details", ["GET": { _, c throws(HubSpotErrorBody) in details(c) }])
        case ["2026-03", "api-usage", "daily", "private-apps"], ["v3", "api-usage", "daily", "private-apps"]:
            return APIRoute.route(
                request, "account.usage.daily", ["GET": { _, c throws(HubSpotErrorBody) in dailyUsage(c) }])
        default:
            return .failure(APIRoute.unknownPath(request.path))
        }
    }

    static func details(_ ctx: APIContext) -> APIReply {
        var w = JSONWriter()
        w.beginObject()
        w.member("portalId", ctx.configuration.portalId)
        w.member("accountType", "STANDARD")
        w.member("timeZone", ctx.configuration.accountTimeZone)
        w.member("utcOffset", utcOffset(ctx.configuration.dailyResetUTCOffset))
        w.member("companyCurrency", "USD")
        w.member("dataHostingLocation", "na1")
        w.endObject()
        return .json(200, w)
    }

    static func dailyUsage(_ ctx: APIContext) -> APIReply {
        let now = ctx.now
        let usage = ctx.limits.dailyUsage(now: now)
        var w = JSONWriter()
        w.beginObject()
        w.key("results")
        w.beginArray()
        w.beginObject()
        w.member("name", "private-apps-api-calls-daily")
        w.member("usageLimit", ctx.limits.settings.dailyLimit)
        w.member("currentUsage", usage.used)
        w.member("collectedAt", Timestamps.iso8601(now))
        w.member("fetchStatus", "SUCCESS")
        w.member("resetsAt", Timestamps.iso8601(usage.resetsAt))
        w.endObject()
        w.endArray()
        w.endObject()
        return .json(200, w)
    }

    /// `-05:00` for five hours west of UTC.
    static func utcOffset(_ offset: Duration) -> String {
        let minutes = Int(offset.milliseconds / 60_000)
        let sign = minutes < 0 ? "-" : "+"
        let hours = abs(minutes) / 60
        let rest = abs(minutes) % 60
        return sign + (hours < 10 ? "0" : "") + String(hours) + ":" + (rest < 10 ? "0" : "") + String(rest)
    }
}
