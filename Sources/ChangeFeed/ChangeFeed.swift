import RedisClient
import Time

/// The durable, resumable feed of changes: one Redis stream for every object type, so that one
/// cursor orders everything (a subscriber to several types resumes from one place, and one
/// consumer group serves a group of subscribers); filtering by type happens as events are read.
/// Appends drop event ids seen within `deduplicationWindow` and trim by age and length in the
/// same script, so an event is stored once or not at all.
public struct ChangeFeed: Sendable {
    public let configuration: ChangeFeedConfiguration
    let redis: RedisClient

    public init(redis: RedisClient, configuration: ChangeFeedConfiguration = .init()) {
        self.redis = redis
        self.configuration = configuration
    }

    /// What an append did with a request's events.
    public struct Appended: Sendable, Equatable {
        /// Cursors of the events stored, nil for each one already in the feed (in input order).
        public var cursors: [String?]
        /// The same signed request was already accepted (an exact replay); nothing was stored.
        public var replayed = false

        public var storedCount: Int { cursors.count { $0 != nil } }
    }

    /// KEYS[1] stream, KEYS[2] the request's replay key ("" to skip); ARGV: event-id prefix,
    /// dedupe seconds, max length, retention ms, replay seconds, then per event: event id,
    /// change mark ("" or "R:"/"W:" and the change key), association mark ("" or see below),
    /// field count, fields.
    ///
    /// One change can reach the feed through several intakes, under different event ids. The
    /// change key names it (record and millisecond): the reconciler's event is stored only if
    /// no event of that change is; a webhook or journal event is dropped when the reconciler's
    /// came first (HubSpot delivers one change as several events, one per property, all kept),
    /// or when the other of HubSpot's intakes already stored the same event (its delivery key:
    /// change, property or association; within one intake the event id alone decides). A mark
    /// is `R:`, `W:` (webhook) or `J:` (journal), the change key, and for `W:`/`J:` a `\u{1}`
    /// and the delivery key.
    ///
    /// Association changes have no change key (HubSpot's webhook names the moment, the
    /// reconciler's scan only what changed). Their association mark is the intake's letter, the
    /// record (`type:id`), `\u{1}`, the entry (`toType:toId`), `\u{1}` and `+` or `-`. The
    /// reconciler's event applies the entry to the record's kept associations (when kept) and
    /// is dropped when they already say so (a webhook told it first); once stored it leaves a
    /// report the first webhook or journal copy of that change consumes (and is dropped by).
    /// A webhook's or journal's event applies its entry to kept associations too, so the next
    /// scan does not report it again.
    static let appendScript = RedisScript(
        """
        if KEYS[2] ~= '' and not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[5]) then
          return 'replay'
        end
        local ids = {}
        local i = 6
        while i <= #ARGV do
          local eventId = ARGV[i]
          local mark = ARGV[i + 1]
          local association = ARGV[i + 2]
          local n = tonumber(ARGV[i + 3])
          local fresh = true
          if mark ~= '' then
            local by = string.sub(mark, 1, 1)
            local rest = string.sub(mark, 3)
            local split = string.find(rest, '\\1', 1, true)
            local change = split and string.sub(rest, 1, split - 1) or rest
            local delivery = split and string.sub(rest, split + 1) or ''
            local changeKey = ARGV[1] .. 'change:' .. change
            if by == 'R' then
              fresh = redis.call('SET', changeKey, 'R', 'NX', 'EX', ARGV[2])
            elseif change ~= '' and redis.call('GET', changeKey) == 'R' then
              fresh = false
            else
              if change ~= '' then redis.call('SET', changeKey, 'W', 'EX', ARGV[2]) end
              if delivery ~= '' then
                local deliveryKey = ARGV[1] .. 'delivery:' .. delivery
                local heard = redis.call('GET', deliveryKey)
                if heard and heard ~= by then
                  fresh = false
                else
                  redis.call('SET', deliveryKey, by, 'EX', ARGV[2])
                end
              end
            end
          end
          if association ~= '' then
            local by = string.sub(association, 1, 1)
            local rest = string.sub(association, 2)
            local a = string.find(rest, '\\1', 1, true)
            local b = string.find(rest, '\\1', a + 1, true)
            local record = string.sub(rest, 1, a - 1)
            local entry = string.sub(rest, a + 1, b - 1)
            local op = string.sub(rest, b + 1)
            local kept = ARGV[1] .. 'associations:' .. record
            local reported = ARGV[1] .. 'association-reported:' .. record .. ':' .. entry .. ':' .. op
            if by == 'R' then
              if fresh and redis.call('EXISTS', kept) == 1 then
                local changed
                if op == '+' then changed = redis.call('HSETNX', kept, entry, '1') else changed = redis.call('HDEL', kept, entry) end
                fresh = changed == 1
              end
              if fresh then redis.call('SET', reported, '1', 'EX', ARGV[2]) end
            else
              if redis.call('DEL', reported) == 1 then fresh = false end
              if redis.call('EXISTS', kept) == 1 then
                if op == '+' then redis.call('HSET', kept, entry, '1') else redis.call('HDEL', kept, entry) end
              end
            end
          end
          if fresh and redis.call('SET', ARGV[1] .. eventId, '1', 'NX', 'EX', ARGV[2]) then
            local args = {KEYS[1]}
            if ARGV[3] ~= '0' then
              args[#args + 1] = 'MAXLEN'; args[#args + 1] = '~'; args[#args + 1] = ARGV[3]
            end
            args[#args + 1] = '*'
            for j = 1, n * 2 do args[#args + 1] = ARGV[i + 3 + j] end
            ids[#ids + 1] = redis.call('XADD', unpack(args))
          else
            ids[#ids + 1] = ''
          end
          i = i + 4 + n * 2
        end
        if ARGV[4] ~= '0' then
          local now = redis.call('TIME')
          local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[4])
          if oldest > 0 then redis.call('XTRIM', KEYS[1], 'MINID', '~', oldest) end
        end
        return ids
        """)

    /// Stores `events` in order, each at most once across deliveries. `requestKey` (e.g. the
    /// request's signature) makes an exact replay of an accepted request store nothing.
    public func append(_ events: [ChangeEvent], requestKey: String? = nil, replayWindow: Duration = .seconds(300))
        async throws -> Appended
    {
        var arguments: [RESPArgument] = [
            .init(configuration.eventIdPrefix),
            RESPArgument(max(1, configuration.deduplicationWindow.components.seconds)),
            RESPArgument(configuration.maxLength), RESPArgument(configuration.retention.milliseconds),
            RESPArgument(max(1, replayWindow.components.seconds)),
        ]
        for event in events {
            let fields = event.streamFields
            arguments.append(.init(event.eventId))
            arguments.append(.init(Self.mark(of: event)))
            arguments.append(.init(Self.associationMark(of: event)))
            arguments.append(RESPArgument(fields.count))
            for (name, value) in fields {
                arguments.append(.init(name))
                arguments.append(.init(value))
            }
        }
        let reply = try await redis.evaluate(
            Self.appendScript,
            keys: [.init(configuration.streamKey), .init(requestKey.map { configuration.requestPrefix + $0 } ?? "")],
            arguments: arguments, timeout: configuration.redisTimeout, durable: true)
        if reply.string == "replay" { return Appended(cursors: events.map { _ in nil }, replayed: true) }
        guard let values = reply.array, values.count == events.count else {
            throw RedisError.protocolError("the feed's append answered an unexpected shape")
        }
        return Appended(cursors: values.map { value in value.string.flatMap { $0.isEmpty ? nil : $0 } })
    }

    /// How `appendScript` tells the intakes' copies of one change apart (see there).
    static func mark(of event: ChangeEvent) -> String {
        if event.source == .reconciler { return event.changeKey.map { "R:" + $0 } ?? "" }
        return (event.source == .journal ? "J:" : "W:") + (event.changeKey ?? "") + "\u{1}" + event.deliveryKey
    }

    /// How `appendScript` applies an association change to the record's kept associations.
    static func associationMark(of event: ChangeEvent) -> String {
        guard let change = event.associationEntry else { return "" }
        let by = event.source == .reconciler ? "R" : event.source == .journal ? "J" : "W"
        return by + change.record + "\u{1}" + change.entry + "\u{1}" + (change.added ? "+" : "-")
    }

    /// Where the associations of record `type:id` are kept (the reconciler's scan compares
    /// with them; every intake's association events keep them current).
    func keptAssociationsKey(_ type: String, _ id: String) -> String {
        configuration.eventIdPrefix + "associations:\(type):\(id)"
    }

    /// A number of milliseconds its intakes keep beside the feed (a watermark), nil when unset.
    func storedMilliseconds(_ key: String) async throws -> Int64? {
        try await redis.get(.init(key), timeout: configuration.redisTimeout)
            .flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
    }

    /// Up to `count` events after `cursor` ("0": from the oldest), waiting up to `block` for
    /// new ones when there are none.
    public func read(after cursor: String, count: Int = 100, block: Duration? = nil) async throws -> [ChangeEvent] {
        try await redis.xread(
            .init(configuration.streamKey), after: cursor, count: count, block: block,
            timeout: block.map { $0 + configuration.redisTimeout } ?? configuration.redisTimeout
        ).compactMap(ChangeEvent.init)
    }

    /// The feed's extent: its length, the oldest and newest cursors retained, and whether
    /// anything was ever trimmed from it.
    public struct Extent: Sendable, Equatable {
        public var length: Int
        public var oldest: String?
        public var newest: String?
        /// Events were removed by retention: a cursor older than `oldest` may have missed some.
        public var trimmed: Bool
        /// The newest cursor ever given (also when the feed is empty now).
        public var lastGenerated: String?
    }

    public func extent() async throws -> Extent {
        let key = RESPArgument(configuration.streamKey)
        let info: RESPValue
        do {
            info = try await redis.send("XINFO", ["STREAM", key], timeout: configuration.redisTimeout)
        } catch let error as RedisServerError where error.message.contains("no such key") {
            return Extent(length: 0, oldest: nil, newest: nil, trimmed: false, lastGenerated: nil)
        }
        var values: [String: RESPValue] = [:]
        let fields = info.array ?? []
        for index in stride(from: 0, to: fields.count - 1, by: 2) {
            if let name = fields[index].string { values[name] = fields[index + 1] }
        }
        let length = Int(values["length"]?.integer ?? 0)
        let added = values["entries-added"]?.integer.map(Int.init) ?? length
        func entryId(_ name: String) -> String? { values[name]?.array?.first?.string }
        return Extent(
            length: length, oldest: entryId("first-entry"), newest: entryId("last-entry"),
            // Entries added but no longer there were trimmed (the feed never deletes otherwise).
            trimmed: added > length, lastGenerated: values["last-generated-id"]?.string)
    }
}

/// Stream ids (`<ms>-<seq>`) in order.
public enum FeedCursor {
    /// Whether `text` is a stream id.
    public static func isValid(_ text: String) -> Bool { parse(text) != nil }

    static func parse(_ text: String) -> (Int64, Int64)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let ms = Int64(parts[0]), let seq = Int64(parts[1]), ms >= 0, seq >= 0 else {
            return nil
        }
        return (ms, seq)
    }

    /// `a` < `b`.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        guard let a = parse(a), let b = parse(b) else { return false }
        return a < b
    }
}

extension ChangeFeed {
    /// A consumer group's position, as `XINFO GROUPS` reports it.
    public struct GroupInfo: Sendable, Equatable {
        public var name: String
        public var consumers: Int
        /// Delivered and not yet acknowledged.
        public var pending: Int
        /// Events not yet delivered to the group (nil when Redis cannot tell, after trimming).
        public var lag: Int?
    }

    /// Every consumer group of the feed (subscriber groups and the fleet's invalidation).
    public func groups() async throws -> [GroupInfo] {
        let reply = try await redis.send(
            "XINFO", ["GROUPS", .init(configuration.streamKey)], timeout: configuration.redisTimeout)
        return (reply.array ?? []).compactMap { group in
            guard let fields = group.array else { return nil }
            var values: [String: RESPValue] = [:]
            for index in stride(from: 0, to: fields.count - 1, by: 2) {
                if let name = fields[index].string { values[name] = fields[index + 1] }
            }
            guard let name = values["name"]?.string else { return nil }
            return GroupInfo(
                name: name, consumers: Int(values["consumers"]?.integer ?? 0),
                pending: Int(values["pending"]?.integer ?? 0), lag: values["lag"]?.integer.map(Int.init))
        }
    }
}
