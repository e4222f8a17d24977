import JSONCore
import Synchronization

/// The portal's lists (HubSpot's Lists v3): a name, an object type, MANUAL (static: members
/// added and removed by API) or DYNAMIC (its members are the records its filters match, when
/// read), and the members in the order they joined.
final class ListStore: Sendable {
    struct List: Sendable {
        var id: Int64
        var name: String
        var objectTypeId: String
        var processingType: String
        var createdAt: EpochMilliseconds
        var updatedAt: EpochMilliseconds
        /// Record id → when it joined; `order` keeps the joining order.
        var joined: [Int64: EpochMilliseconds] = [:]
        var order: [Int64] = []
        /// A DYNAMIC list's filters, parsed, and as given (echoed back).
        var filters: ListFilters?
        var filterBranch: JSONValue?
    }

    private struct State {
        var lists: [Int64: List] = [:]
        var nextId: Int64 = 1
    }

    private let state = Mutex(State())

    func reset() { state.withLock { $0 = State() } }

    func create(
        name: String, objectTypeId: String, processingType: String, filters: (ListFilters, JSONValue)? = nil,
        now: EpochMilliseconds
    ) -> List? {
        state.withLock { state in
            guard !Self.taken(name, except: nil, in: state) else { return nil }
            var list = List(
                id: state.nextId, name: name, objectTypeId: objectTypeId, processingType: processingType,
                createdAt: now, updatedAt: now)
            (list.filters, list.filterBranch) = (filters?.0, filters?.1)
            state.lists[list.id] = list
            state.nextId += 1
            return list
        }
    }

    func list(_ id: Int64) -> List? { state.withLock { $0.lists[id] } }

    /// Changes a list in place (a rename, new filters); nil when there is no such list.
    func update(_ id: Int64, now: EpochMilliseconds, _ change: (inout List) -> Void) -> List? {
        state.withLock { state in
            guard var list = state.lists[id] else { return nil }
            change(&list)
            list.updatedAt = now
            state.lists[id] = list
            return list
        }
    }

    func delete(_ id: Int64) -> Bool { state.withLock { $0.lists.removeValue(forKey: id) != nil } }

    func nameTaken(_ name: String, except id: Int64) -> Bool { state.withLock { Self.taken(name, except: id, in: $0) } }

    /// HubSpot: list names are unique in the account (case aside).
    private static func taken(_ name: String, except id: Int64?, in state: State) -> Bool {
        state.lists.values.contains { $0.id != id && $0.name.lowercased() == name.lowercased() }
    }

    /// Lists whose name contains `query` (case-insensitive), by id.
    func search(_ query: String?) -> [List] {
        let needle = query?.lowercased() ?? ""
        return state.withLock { state in
            state.lists.values.filter { needle.isEmpty || $0.name.lowercased().contains(needle) }.sorted {
                $0.id < $1.id
            }
        }
    }

    /// Adds (or removes) members of a list; answers which changed and which were not members to
    /// remove (or already members: unchanged).
    func change(_ id: Int64, add: Bool, _ records: [Int64], now: EpochMilliseconds) -> (
        changed: [Int64], unchanged: [Int64]
    )? {
        state.withLock { state in
            guard var list = state.lists[id] else { return nil }
            var changed: [Int64] = []
            var unchanged: [Int64] = []
            for record in records {
                if add {
                    if list.joined[record] == nil {
                        list.joined[record] = now
                        list.order.append(record)
                        changed.append(record)
                    } else {
                        unchanged.append(record)
                    }
                } else if list.joined.removeValue(forKey: record) != nil {
                    list.order.removeAll { $0 == record }
                    changed.append(record)
                } else {
                    unchanged.append(record)
                }
            }
            if !changed.isEmpty { list.updatedAt = now }
            state.lists[id] = list
            return (changed, unchanged)
        }
    }
}
