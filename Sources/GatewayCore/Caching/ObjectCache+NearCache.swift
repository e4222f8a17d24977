import ServiceLifecycle
import Foundation
import HubSpotAPI
import Logging
import RedisClient
import Synchronization
import Time

/// The near cache's coherence: invalidations heard through Redis pub/sub.
extension ObjectCache {
    // MARK: Near cache

    /// The pub/sub channel invalidations are published on.
    var invalidationChannel: String { "\(configuration.keyPrefix):invalidations" }

    static func invalidationMessage(type: String, id: String) -> [UInt8] { Array("\(type)\u{0}\(id)".utf8) }
    /// Published when the cache generation moves: every replica drops all its copies.
    static let everythingMessage = Array("*".utf8)

    /// Sizes of the in-process bookkeeping: copies held, objects with copies, invalidations
    /// remembered. Each is bounded whatever the fleet invalidates.
    var localFootprint: (entries: Int, objects: Int, invalidations: Int) {
        local.withLock { ($0.entries.count, $0.copies.count, $0.invalidations.count) }
    }

    /// Whether this replica hears invalidations now (the near cache is on).
    public var isListening: Bool { local.withLock { $0.listening } }

    /// The cache's background work until cancelled or the replica shuts down: the invalidation
    /// listener (the near cache's coherence) and the retries of invalidations a Redis outage
    /// held back (so writes acknowledged during it are not followed by reads of old entries).
    public func run() async {
        await cancelWhenGracefulShutdown {
            async let listening: Void = self.runInvalidationListener()
            async let retrying: Void = self.runPendingInvalidations()
            _ = await (listening, retrying)
        }
    }

    /// Listens for invalidations published by every replica (this one included) and keeps the
    /// near cache on while it hears them; resubscribes after Redis comes back. Runs until
    /// cancelled; returns at once without Redis or with `nearTTL` zero.
    public func runInvalidationListener() async {
        guard let redis, configuration.nearTTL > .zero else { return }
        var failures = 0
        while !Task.isCancelled {
            do {
                let subscription = try await redis.subscribe(to: [invalidationChannel])
                // SUBSCRIBE is sent without waiting for Redis: the near cache turns on only once
                // a probe published after it comes back, proving that messages arrive.
                let probe = Array("probe\u{0}\(UUID().uuidString)".utf8)
                let prober = Task {
                    while !Task.isCancelled, !self.isListening {
                        _ = try? await redis.publish(
                            .init(self.invalidationChannel), .init(probe), timeout: self.configuration.redisTimeout)
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                }
                defer { prober.cancel() }
                for try await message in subscription.messages {
                    if message.payload == probe {
                        if local.withLock({ $0.startListening() }) {
                            failures = 0
                            logger.debug("near cache on: hearing invalidations")
                        }
                    } else if message.payload == Self.everythingMessage {
                        local.withLock { $0.removeAll() }
                    } else if let separator = message.payload.firstIndex(of: 0) {
                        let type = String(decoding: message.payload[..<separator], as: UTF8.self)
                        let id = String(decoding: message.payload[(separator + 1)...], as: UTF8.self)
                        local.withLock { $0.bump(type: type, id: id) }
                    }
                }
                await subscription.close()
            } catch {
                if failures == 0 {
                    logger.notice(
                        "near cache off: the invalidation subscription failed", metadata: ["error": "\(error)"])
                }
            }
            local.withLock { $0.stopListening() }
            failures += 1
            if Task.isCancelled { break }
            try? await Task.sleep(
                for: .milliseconds(Int64(min(5000, 100 << min(failures, 6)))) * Double.random(in: 0.5...1))
        }
        local.withLock { $0.stopListening() }
    }
}
