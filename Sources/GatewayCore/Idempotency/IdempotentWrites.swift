import Foundation
import RedisClient
import Time

/// Runs a write at most once per idempotency key (scoped per calling service) for a day: the
/// key, a fingerprint of the request, its state and its answer live in Redis, shared by the
/// fleet. The same key and request get the first answer without HubSpot being called again; a
/// different request with the key is refused; a second call while the first is in flight waits
/// for it; and a first attempt whose outcome cannot be known (its replica died mid-call, or
/// HubSpot's answer was lost) is reported as such instead of being tried again into a
/// duplicate.
public struct IdempotentWrites: Sendable {
    public struct Configuration: Sendable {
        /// Prefix of every key.
        public var keyPrefix = "hubspot-gateway:idempotency"
        /// How long a key and its answer are kept.
        public var retention: Duration = .seconds(24 * 3600)
        /// How long past its deadline a first attempt may stay in flight before a retry
        /// takes its outcome as unknown (its replica stopped).
        public var inFlightGrace: Duration = .seconds(5)
        /// How often a waiting retry looks whether the first attempt finished.
        public var pollInterval: Duration = .milliseconds(50)
        /// Longest wait for one Redis command.
        public var redisTimeout: Duration = .seconds(2)

        public init() {}
    }

    /// Why a keyed write did not run or answer.
    public enum Refusal: Error, Sendable, Equatable {
        /// The key was used with another request.
        case conflict(key: String)
        /// The first attempt with the key may or may not have been applied.
        case outcomeUnknown(key: String)
        /// The first attempt with the key is still in flight at the caller's deadline.
        case stillInFlight(key: String)
        /// Redis cannot be asked: nothing can be promised about the key.
        case storeUnavailable(key: String)
        /// The state Redis is out of memory: the key could not be recorded, nothing was written.
        case storeFull(key: String)
    }

    public let configuration: Configuration
    let redis: RedisClient

    public init(redis: RedisClient, configuration: Configuration = .init()) {
        self.redis = redis
        self.configuration = configuration
    }

    /// KEYS[1] the key's record; ARGV: fingerprint, owner, in-flight deadline (ms after now),
    /// retention seconds. Returns {'claimed'}, {'conflict'}, {'done', answer}, {'unknown'} or
    /// {'pending'}. A pending attempt past its deadline becomes unknown.
    static let claimScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local f = redis.call('HMGET', KEYS[1], 'fingerprint', 'state', 'answer', 'deadline')
        if not f[1] then
          redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'state', 'pending', 'owner', ARGV[2],
            'deadline', now + tonumber(ARGV[3]))
          redis.call('EXPIRE', KEYS[1], ARGV[4])
          return {'claimed'}
        end
        if f[1] ~= ARGV[1] then return {'conflict'} end
        if f[2] == 'done' then return {'done', f[3]} end
        if f[2] == 'unknown' then return {'unknown'} end
        if tonumber(f[4]) < now then
          redis.call('HSET', KEYS[1], 'state', 'unknown')
          return {'unknown'}
        end
        return {'pending'}
        """)

    /// KEYS[1] the key's record; ARGV: owner, outcome ('done', 'unknown' or 'release'), answer,
    /// retention seconds. Only the attempt that claimed the key settles it.
    static let settleScript = RedisScript(
        """
        if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
        if ARGV[2] == 'release' then
          redis.call('DEL', KEYS[1])
        else
          redis.call('HSET', KEYS[1], 'state', ARGV[2], 'answer', ARGV[3])
          redis.call('EXPIRE', KEYS[1], ARGV[4])
        end
        return 1
        """)

    /// The answer of the write keyed `key` in `scope`: `body`'s (run only by the first attempt)
    /// or the stored one. `fingerprint` names the request (the same key with another
    /// fingerprint is a conflict). `body` answers the bytes to store; a failure that
    /// `mayHaveBeenApplied` accepts marks the key's outcome unknown, any other frees the key.
    public func run(
        scope: String, key: String, fingerprint: String, deadline: ContinuousClock.Instant,
        mayHaveBeenApplied: @Sendable (any Error) -> Bool, _ body: () async throws -> [UInt8]
    ) async throws -> [UInt8] {
        let recordKey = RESPArgument("\(configuration.keyPrefix):\(scope):\(key)")
        let owner = UUID().uuidString
        let inFlight = max(Duration.zero, deadline - .now) + configuration.inFlightGrace
        let retention = RESPArgument(max(1, configuration.retention.components.seconds))
        while true {
            let reply: RESPValue
            do {
                reply = try await redis.evaluate(
                    Self.claimScript, keys: [recordKey],
                    arguments: [.init(fingerprint), .init(owner), RESPArgument(inFlight.milliseconds), retention],
                    timeout: configuration.redisTimeout)
            } catch let error as RedisServerError where error.kind == .outOfMemory {
                throw Refusal.storeFull(key: key)
            } catch {
                throw Refusal.storeUnavailable(key: key)
            }
            let values = reply.array ?? []
            switch values.first?.string {
            case "claimed":
                return try await runClaimed(recordKey, owner, retention, mayHaveBeenApplied, body)
            case "done":
                guard values.count > 1, case .bulkString(let answer) = values[1] else {
                    throw Refusal.storeUnavailable(key: key)
                }
                return answer
            case "conflict": throw Refusal.conflict(key: key)
            case "unknown": throw Refusal.outcomeUnknown(key: key)
            default:
                guard ContinuousClock.now + configuration.pollInterval < deadline else {
                    throw Refusal.stillInFlight(key: key)
                }
                try await Task.sleep(for: configuration.pollInterval)
            }
        }
    }

    private func runClaimed(
        _ recordKey: RESPArgument, _ owner: String, _ retention: RESPArgument,
        _ mayHaveBeenApplied: @Sendable (any Error) -> Bool, _ body: () async throws -> [UInt8]
    ) async throws -> [UInt8] {
        let answer: [UInt8]
        do {
            answer = try await body()
        } catch {
            let outcome = mayHaveBeenApplied(error) ? "unknown" : "release"
            try? await settle(recordKey, owner, outcome, [], retention)
            throw error
        }
        // The write happened: if this cannot be stored, a retry finds the key pending and,
        // past its deadline, unknown — never free to create a second record.
        try? await settle(recordKey, owner, "done", answer, retention)
        return answer
    }

    private func settle(
        _ recordKey: RESPArgument, _ owner: String, _ outcome: String, _ answer: [UInt8], _ retention: RESPArgument
    ) async throws {
        _ = try await redis.evaluate(
            Self.settleScript, keys: [recordKey], arguments: [.init(owner), .init(outcome), .init(answer), retention],
            timeout: configuration.redisTimeout)
    }
}
