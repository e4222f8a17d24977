import ServiceLifecycle
import Foundation
import Synchronization

/// Tells open subscriptions that the replica is shutting down, so they end at once with
/// UNAVAILABLE (their clients reconnect to another replica and resume) instead of holding the
/// shutdown until the grace period runs out.
public final class SubscriptionDrain: Service, Sendable {
    private struct State {
        var draining = false
        var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public var isDraining: Bool { state.withLock { $0.draining } }

    /// Begins draining when the replica begins shutting down.
    public func run() async {
        try? await gracefulShutdown()
        begin()
    }

    /// Ends every subscription (now and later ones).
    public func begin() {
        let waiters = state.withLock { state in
            state.draining = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when draining begins, or when the calling task is cancelled.
    func wait() async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.draining || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
