import RedisClient
import Time

/// A lease in Redis that one replica at a time holds (the reconciler's, the journal reader's):
/// taken when free, renewed by its holder, taken over by another replica once the holder stops
/// renewing for `timeToLive`. Each take hands out a *fencing token*, a number that only grows:
/// state written on the lease's behalf (a watermark, an offset) goes through `write`, which
/// refuses a token that is no longer the newest — so a holder that paused (a long GC, a
/// partition) and lost the lease cannot overwrite its successor's progress.
public struct FeedLease: Sendable {
    public let name: String
    public let timeToLive: Duration
    let redis: RedisClient
    let keyPrefix: String
    let redisTimeout: Duration

    public init(
        name: String, redis: RedisClient, keyPrefix: String = "hubspot-gateway:lease",
        timeToLive: Duration = .seconds(10), redisTimeout: Duration = .seconds(2)
    ) {
        self.name = name
        self.redis = redis
        self.keyPrefix = keyPrefix
        self.timeToLive = timeToLive
        self.redisTimeout = redisTimeout
    }

    var holderKey: String { "\(keyPrefix):\(name):holder" }
    var tokenKey: String { "\(keyPrefix):\(name):token" }

    /// KEYS: holder, token; ARGV: holder id, ttl ms. Returns the token when `holder` holds the
    /// lease (taken now, or already its own and extended), else 0.
    static let takeScript = RedisScript(
        """
        local current = redis.call('GET', KEYS[1])
        if current == false then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
          return redis.call('INCR', KEYS[2])
        elseif current == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return tonumber(redis.call('GET', KEYS[2]) or '0')
        end
        return 0
        """)

    /// KEYS: holder, token; ARGV: holder id, token, ttl ms. 1 when renewed.
    static let renewScript = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then
          redis.call('PEXPIRE', KEYS[1], ARGV[3])
          return 1
        end
        return 0
        """)

    /// KEYS: holder, token; ARGV: holder id, token. Frees the lease if still held with the token.
    static let releaseScript = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then
          redis.call('DEL', KEYS[1])
          return 1
        end
        return 0
        """)

    /// KEYS: token, target; ARGV: token, value. Writes only with the newest token.
    static let fencedWriteScript = RedisScript(
        """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('SET', KEYS[2], ARGV[2])
        return 1
        """)

    /// Takes the lease for `holder` when it is free (or already `holder`'s); the fencing token,
    /// or nil when another replica holds it.
    public func take(as holder: String) async throws -> Int64? {
        let token =
            try await redis.evaluate(
                Self.takeScript, keys: [.init(holderKey), .init(tokenKey)],
                arguments: [.init(holder), RESPArgument(timeToLive.milliseconds)], timeout: redisTimeout
            ).integer ?? 0
        return token > 0 ? token : nil
    }

    /// Extends the lease; false when `holder` no longer holds it with `token`.
    public func renew(as holder: String, token: Int64) async throws -> Bool {
        try await redis.evaluate(
            Self.renewScript, keys: [.init(holderKey), .init(tokenKey)],
            arguments: [.init(holder), RESPArgument(token), RESPArgument(timeToLive.milliseconds)],
            timeout: redisTimeout
        ).integer == 1
    }

    /// Frees the lease at once (a replica shutting down hands over without the wait).
    public func release(as holder: String, token: Int64) async throws {
        _ = try await redis.evaluate(
            Self.releaseScript, keys: [.init(holderKey), .init(tokenKey)],
            arguments: [.init(holder), RESPArgument(token)], timeout: redisTimeout)
    }

    /// Sets `key` to `value` only while `token` is the newest fencing token; false when a
    /// newer holder exists (the caller lost the lease and must stop).
    public func write(_ key: String, _ value: String, token: Int64) async throws -> Bool {
        try await redis.evaluate(
            Self.fencedWriteScript, keys: [.init(tokenKey), .init(key)],
            arguments: [RESPArgument(token), .init(value)], timeout: redisTimeout
        ).integer == 1
    }

    /// While this replica holds the lease, runs `body` with the token; renews every third of
    /// the time to live and cancels `body` when a renewal fails. Tries to take the lease every
    /// `retryInterval` while another holds it. Returns when cancelled (releasing the lease).
    public func hold(
        as holder: String, retryInterval: Duration = .seconds(1),
        _ body: @escaping @Sendable (Int64) async throws -> Void
    ) async {
        while !Task.isCancelled {
            guard let token = try? await take(as: holder) else {
                try? await Task.sleep(for: retryInterval)
                continue
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await body(token) }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: timeToLive / 3)
                        guard !Task.isCancelled else { return }
                        guard (try? await renew(as: holder, token: token)) == true else { return }
                    }
                }
                // Whichever ends first (the body, or the lease lost) ends both.
                await group.next()
                group.cancelAll()
            }
            if Task.isCancelled { try? await release(as: holder, token: token) }
        }
    }
}
