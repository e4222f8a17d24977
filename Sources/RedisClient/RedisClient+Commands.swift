import Time

/// The commands the gateway uses, typed.
extension RedisClient {
    /// How SET expires its key.
    public enum Expiration: Sendable {
        case seconds(Int)
        case milliseconds(Int)
    }

    /// SET's NX / XX.
    public enum SetCondition: Sendable {
        case always, ifNotExists, ifExists
    }

    public func get(_ key: RESPArgument, timeout: Duration? = nil) async throws -> [UInt8]? {
        try await send("GET", [key], timeout: timeout).bytes
    }

    /// SET with options; false when NX/XX kept it from being set.
    @discardableResult
    public func set(
        _ key: RESPArgument, _ value: RESPArgument, expiration: Expiration? = nil, condition: SetCondition = .always,
        timeout: Duration? = nil
    ) async throws -> Bool {
        var arguments = [key, value]
        switch expiration {
        case .seconds(let s)?: arguments += ["EX", RESPArgument(s)]
        case .milliseconds(let ms)?: arguments += ["PX", RESPArgument(ms)]
        case nil: break
        }
        switch condition {
        case .always: break
        case .ifNotExists: arguments.append("NX")
        case .ifExists: arguments.append("XX")
        }
        return try await send("SET", arguments, timeout: timeout) != .null
    }

    /// Deletes keys; returns how many existed.
    @discardableResult
    public func del(_ keys: [RESPArgument], timeout: Duration? = nil) async throws -> Int {
        Int(try await send("DEL", keys, timeout: timeout).integer ?? 0)
    }

    public func incr(_ key: RESPArgument, timeout: Duration? = nil) async throws -> Int64 {
        guard let value = try await send("INCR", [key], timeout: timeout).integer else {
            throw RedisError.protocolError("INCR did not answer an integer")
        }
        return value
    }

    /// EXPIRE in seconds; false when the key does not exist.
    @discardableResult
    public func expire(_ key: RESPArgument, seconds: Int, timeout: Duration? = nil) async throws -> Bool {
        try await send("EXPIRE", [key, RESPArgument(seconds)], timeout: timeout).integer == 1
    }

    public func mget(_ keys: [RESPArgument], timeout: Duration? = nil) async throws -> [[UInt8]?] {
        (try await send("MGET", keys, timeout: timeout).array ?? []).map(\.bytes)
    }

    public func hget(_ key: RESPArgument, field: RESPArgument, timeout: Duration? = nil) async throws -> [UInt8]? {
        try await send("HGET", [key, field], timeout: timeout).bytes
    }

    /// HSET; returns how many fields were new.
    @discardableResult
    public func hset(_ key: RESPArgument, fields: [(RESPArgument, RESPArgument)], timeout: Duration? = nil) async throws
        -> Int
    {
        Int(try await send("HSET", [key] + fields.flatMap { [$0.0, $0.1] }, timeout: timeout).integer ?? 0)
    }

    @discardableResult
    public func hdel(_ key: RESPArgument, fields: [RESPArgument], timeout: Duration? = nil) async throws -> Int {
        Int(try await send("HDEL", [key] + fields, timeout: timeout).integer ?? 0)
    }

    /// PUBLISH; returns how many subscribers received it.
    @discardableResult
    public func publish(_ channel: RESPArgument, _ message: RESPArgument, timeout: Duration? = nil) async throws -> Int
    {
        Int(try await send("PUBLISH", [channel, message], timeout: timeout).integer ?? 0)
    }

    /// Redis's clock (TIME) in microseconds since the epoch: one clock for every replica.
    public func time(timeout: Duration? = nil) async throws -> Int64 {
        guard let parts = try await send("TIME", timeout: timeout).array, parts.count == 2,
            let seconds = parts[0].integer, let micros = parts[1].integer
        else { throw RedisError.protocolError("TIME did not answer [seconds, microseconds]") }
        return seconds * 1_000_000 + micros
    }

    public func ping(timeout: Duration? = nil) async throws -> String {
        try await send("PING", timeout: timeout).string ?? ""
    }

    // MARK: Streams

    /// An entry of a stream: its id and field/value pairs.
    public struct StreamEntry: Sendable, Equatable {
        public var id: String
        public var fields: [(String, [UInt8])]

        public static func == (lhs: StreamEntry, rhs: StreamEntry) -> Bool {
            lhs.id == rhs.id && lhs.fields.map(\.0) == rhs.fields.map(\.0) && lhs.fields.map(\.1) == rhs.fields.map(\.1)
        }
    }

    /// XADD with `*` ids (optionally capped with `MAXLEN ~ n`); returns the new id.
    public func xadd(
        _ stream: RESPArgument, fields: [(RESPArgument, RESPArgument)], maxLength: Int? = nil, timeout: Duration? = nil
    ) async throws -> String {
        var arguments = [stream]
        if let maxLength { arguments += ["MAXLEN", "~", RESPArgument(maxLength)] }
        arguments.append("*")
        arguments += fields.flatMap { [$0.0, $0.1] }
        guard let id = try await send("XADD", arguments, timeout: timeout).string else {
            throw RedisError.protocolError("XADD did not answer an id")
        }
        return id
    }

    /// XREAD from one stream after `id` (`0` for the start, `$` for new entries only). With
    /// `block`, it waits up to that long on a connection of its own, so the pool never stalls.
    public func xread(
        _ stream: RESPArgument, after id: String, count: Int? = nil, block: Duration? = nil, timeout: Duration? = nil
    ) async throws -> [StreamEntry] {
        var arguments: [RESPArgument] = []
        if let count { arguments += ["COUNT", RESPArgument(count)] }
        if let block { arguments += ["BLOCK", RESPArgument(block.milliseconds)] }
        arguments += ["STREAMS", stream, RESPArgument(id)]
        return try await readStreams("XREAD", arguments, block: block, timeout: timeout)
    }

    /// XREADGROUP for one stream (`>` for never-delivered entries).
    public func xreadgroup(
        group: String, consumer: String, _ stream: RESPArgument, after id: String = ">", count: Int? = nil,
        block: Duration? = nil, timeout: Duration? = nil
    ) async throws -> [StreamEntry] {
        var arguments: [RESPArgument] = ["GROUP", RESPArgument(group), RESPArgument(consumer)]
        if let count { arguments += ["COUNT", RESPArgument(count)] }
        if let block { arguments += ["BLOCK", RESPArgument(block.milliseconds)] }
        arguments += ["STREAMS", stream, RESPArgument(id)]
        return try await readStreams("XREADGROUP", arguments, block: block, timeout: timeout)
    }

    /// XACK; returns how many entries were acknowledged.
    @discardableResult
    public func xack(_ stream: RESPArgument, group: String, ids: [String], timeout: Duration? = nil) async throws -> Int
    {
        Int(
            try await send("XACK", [stream, RESPArgument(group)] + ids.map { RESPArgument($0) }, timeout: timeout)
                .integer ?? 0)
    }

    /// XAUTOCLAIM: entries pending longer than `minIdle` move to `consumer`. Returns the cursor
    /// for the next call and the claimed entries.
    public func xautoclaim(
        _ stream: RESPArgument, group: String, consumer: String, minIdle: Duration, start: String = "0-0",
        count: Int? = nil, timeout: Duration? = nil
    ) async throws -> (next: String, entries: [StreamEntry]) {
        var arguments: [RESPArgument] = [
            stream, RESPArgument(group), RESPArgument(consumer),
            RESPArgument(minIdle.milliseconds), RESPArgument(start),
        ]
        if let count { arguments += ["COUNT", RESPArgument(count)] }
        guard let parts = try await send("XAUTOCLAIM", arguments, timeout: timeout).array, parts.count >= 2 else {
            throw RedisError.protocolError("XAUTOCLAIM answered an unexpected shape")
        }
        return (parts[0].string ?? "0-0", Self.entries(parts[1]))
    }

    /// XGROUP CREATE … MKSTREAM, ignoring "group already exists".
    public func createGroup(_ stream: RESPArgument, group: String, startAt id: String = "$", timeout: Duration? = nil)
        async throws
    {
        do {
            try await send(
                "XGROUP", ["CREATE", stream, RESPArgument(group), RESPArgument(id), "MKSTREAM"], timeout: timeout)
        } catch let error as RedisServerError where error.message.hasPrefix("BUSYGROUP") {
            return
        }
    }

    private func readStreams(_ command: String, _ arguments: [RESPArgument], block: Duration?, timeout: Duration?)
        async throws -> [StreamEntry]
    {
        let reply: RESPValue
        if let block {
            let wait = (timeout ?? configuration.commandTimeout) + block
            reply = try await withDedicatedConnection { connection in
                try await connection.send([[RESPArgument(command).bytes] + arguments.map(\.bytes)], timeout: wait)[0]
            }
        } else {
            reply = try await pipeline([[RESPArgument(command)] + arguments], timeout: timeout)[0]
        }
        if case .error(let error) = reply { throw error }
        // [[stream, [[id, [field, value, …]], …]]] or nil when nothing arrived.
        guard let streams = reply.array, let first = streams.first?.array, first.count == 2 else { return [] }
        return Self.entries(first[1])
    }

    static func entries(_ value: RESPValue) -> [StreamEntry] {
        (value.array ?? []).compactMap { entry in
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string else { return nil }
            let flat = parts[1].array ?? []
            var fields: [(String, [UInt8])] = []
            var index = 0
            while index + 1 < flat.count {
                fields.append((flat[index].string ?? "", flat[index + 1].bytes ?? []))
                index += 2
            }
            return StreamEntry(id: id, fields: fields)
        }
    }
}
