import Foundation
import Synchronization

/// HubSpot's CRM export tasks: asynchronous, one processed at a time (the others wait their
/// turn), a limit per rolling day, and a CSV file behind a download URL that expires. The file
/// is written when a status read first finds the task complete: what the store holds then.
final class ExportTasks: Sendable {
    struct Settings: Sendable {
        /// How long HubSpot takes to build one file.
        var delayMilliseconds: Int64
        /// Exports an account may start per rolling 24 hours.
        var perDayLimit: Int
        /// How long a download URL works after a status read handed it out.
        var urlLifetimeMilliseconds: Int64
    }

    struct Task: Sendable {
        var id: String
        var objectType: ObjectTypeDefinition
        var properties: [String]
        var requestedAt: Int64
        var startedAt: Int64
        var completedAt: Int64
        var file: [UInt8]?
        var rows = 0
        /// Download tokens handed out, with their expiry.
        var tokens: [String: Int64] = [:]
        var downloads = 0
        var bytesServed = 0

        func status(at now: Int64) -> String {
            now < startedAt ? "PENDING" : now < completedAt ? "PROCESSING" : "COMPLETE"
        }
    }

    private struct State {
        var next = 5_000
        var tasks: [String: Task] = [:]
        var settings: Settings
    }

    private let state: Mutex<State>
    private let configured: Settings

    init(_ settings: Settings) {
        configured = settings
        state = Mutex(State(settings: settings))
    }

    var settings: Settings {
        get { state.withLock { $0.settings } }
        set { state.withLock { $0.settings = newValue } }
    }

    /// Starts a task after the ones before it; HubSpot's 429 when the day's exports are spent.
    func start(
        _ type: ObjectTypeDefinition, properties: [String], now: Int64
    ) throws(HubSpotErrorBody) -> Task {
        let result: Result<Task, HubSpotErrorBody> = state.withLock { state in
            let day = state.tasks.values.filter { now - $0.requestedAt < 86_400_000 }
            guard day.count < state.settings.perDayLimit else {
                return .failure(
                    HubSpotErrorBody(
                        status: 429,
                        message:
                            "You have reached the limit of \(state.settings.perDayLimit) exports in a rolling 24 hours",
                        category: "RATE_LIMITS"))
            }
            let start = max(now, day.map(\.completedAt).max() ?? now)
            let task = Task(
                id: String(state.next), objectType: type, properties: properties,
                requestedAt: now, startedAt: start, completedAt: start + state.settings.delayMilliseconds)
            state.next += 1
            state.tasks[task.id] = task
            return .success(task)
        }
        return try result.get()
    }

    /// The task, its file written (by `write`) once complete, and a fresh download token then.
    func read(_ id: String, now: Int64, write: (Task) -> (file: [UInt8], rows: Int)) -> (Task, token: String?)? {
        guard var task = state.withLock({ $0.tasks[id] }) else { return nil }
        guard task.status(at: now) == "COMPLETE" else { return (task, nil) }
        // Written outside the lock: a big file takes a while, and other reads go on meanwhile.
        let written = task.file == nil ? write(task) : nil
        return state.withLock { state in
            guard var stored = state.tasks[id] else { return nil }
            if stored.file == nil, let written { (stored.file, stored.rows) = (written.file, written.rows) }
            let token = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            stored.tokens = stored.tokens.filter { $0.value > now }
            stored.tokens[token] = now + state.settings.urlLifetimeMilliseconds
            state.tasks[id] = stored
            task = stored
            return (task, token)
        }
    }

    enum Download {
        case bytes(ArraySlice<UInt8>, total: Int)
        case expired
        case notFound
        case unsatisfiable(total: Int)
    }

    /// Bytes `range` (nil: all) of a task's file, for a token that has not expired.
    func download(_ id: String, token: String, range: ClosedRange<Int>?, openEnded: Int?, now: Int64) -> Download {
        state.withLock { state in
            guard var task = state.tasks[id], let file = task.file, let expiry = task.tokens[token] else {
                return .notFound
            }
            guard expiry > now else { return .expired }
            let total = file.count
            let lower = range?.lowerBound ?? openEnded ?? 0
            let upper = min(total - 1, range?.upperBound ?? total - 1)
            guard lower < total || total == 0 else { return .unsatisfiable(total: total) }
            let slice = total == 0 ? file[0..<0] : file[lower...upper]
            task.downloads += 1
            task.bytesServed += slice.count
            state.tasks[id] = task
            return .bytes(slice, total: total)
        }
    }

    var all: [Task] { state.withLock { $0.tasks.values.sorted { Int($0.id) ?? 0 < Int($1.id) ?? 0 } } }

    func reset() {
        state.withLock { $0 = State(settings: configured) }
    }
}
