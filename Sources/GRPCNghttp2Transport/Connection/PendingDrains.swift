import Synchronization

/// The streams of one connection whose response writers queued parts for the event loop. The
/// first stream to add itself after a drain schedules the one hop that drains them all, so a
/// busy connection wakes its event loop once per tick instead of once per response part.
final class PendingDrains: Sendable {
    private struct State {
        var streams: [Int32] = []
        var scheduled = false
    }
    private let state = Mutex(State())

    /// Adds a stream; true when the caller must schedule the drain hop.
    func add(_ streamID: Int32) -> Bool {
        state.withLock { state in
            state.streams.append(streamID)
            defer { state.scheduled = true }
            return !state.scheduled
        }
    }

    /// On the event loop: the streams to drain now (each once per `add`).
    func take() -> [Int32] {
        state.withLock { state in
            state.scheduled = false
            defer { state.streams.removeAll(keepingCapacity: true) }
            return state.streams
        }
    }
}
