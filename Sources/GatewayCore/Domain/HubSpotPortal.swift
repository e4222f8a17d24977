import Synchronization

/// The HubSpot account (portal) this fleet serves: given (`--hubspot-portal-id`) or learned from
/// HubSpot's account-info API at start. The change intakes keep only its events; a token of
/// another account than the one given is reported.
public final class HubSpotPortal: Sendable {
    private let state: Mutex<(id: Int?, waiters: [CheckedContinuation<Int, Never>])>
    /// Whether the id was given by the operator (HubSpot's answer is then a check, not news).
    public let configured: Bool

    public init(_ id: Int? = nil) {
        state = Mutex((id, []))
        configured = id != nil
    }

    /// The portal id, when known.
    public var id: Int? { state.withLock { $0.id } }

    /// The portal id HubSpot reported for the fleet's token: taken when none was known; the
    /// known id otherwise (nil when they agree, the known one when they do not).
    @discardableResult
    public func learned(_ reported: Int) -> Int? {
        let (known, waiters): (Int?, [CheckedContinuation<Int, Never>]) = state.withLock { state in
            if let id = state.id { return (id, []) }
            state.id = reported
            defer { state.waiters = [] }
            return (nil, state.waiters)
        }
        for waiter in waiters { waiter.resume(returning: reported) }
        return known == reported ? nil : known
    }

    /// The portal id, once it is known.
    public func value() async -> Int {
        await withCheckedContinuation { continuation in
            let known: Int? = state.withLock { state in
                if let id = state.id { return id }
                state.waiters.append(continuation)
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }
}
