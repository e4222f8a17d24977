/// A map of at most `capacity` entries that evicts the least recently used one when full.
///
/// Entries live in one array threaded by a doubly linked list (most recent at `head`), so
/// lookups, updates and evictions are O(1) and nothing is allocated per operation once the
/// array has grown to the capacity.
struct LRUMap<Key: Hashable, Value> {
    private struct Node {
        var key: Key
        var value: Value
        var newer: Int
        var older: Int
    }

    let capacity: Int
    private var nodes: [Node] = []
    private var index: [Key: Int] = [:]
    private var free: [Int] = []
    /// Most and least recently used node (-1: empty).
    private var head = -1
    private var tail = -1

    init(capacity: Int) {
        precondition(capacity > 0, "an LRUMap needs room for at least one entry")
        self.capacity = capacity
    }

    var count: Int { index.count }
    var isEmpty: Bool { index.isEmpty }

    /// The value, marking it most recently used.
    mutating func get(_ key: Key) -> Value? {
        guard let slot = index[key] else { return nil }
        touch(slot)
        return nodes[slot].value
    }

    /// The value, without changing its place.
    func peek(_ key: Key) -> Value? {
        index[key].map { nodes[$0].value }
    }

    /// Inserts or replaces the value as the most recently used; returns the entry evicted to
    /// make room, if any.
    @discardableResult
    mutating func set(_ key: Key, _ value: Value) -> (key: Key, value: Value)? {
        if let slot = index[key] {
            nodes[slot].value = value
            touch(slot)
            return nil
        }
        var evicted: (key: Key, value: Value)?
        if index.count >= capacity, tail >= 0 {
            let victim = nodes[tail]
            evicted = (victim.key, victim.value)
            remove(victim.key)
        }
        let node = Node(key: key, value: value, newer: -1, older: head)
        let slot: Int
        if let reused = free.popLast() {
            nodes[reused] = node
            slot = reused
        } else {
            nodes.append(node)
            slot = nodes.count - 1
        }
        if head >= 0 { nodes[head].newer = slot }
        head = slot
        if tail < 0 { tail = slot }
        index[key] = slot
        return evicted
    }

    @discardableResult
    mutating func remove(_ key: Key) -> Value? {
        guard let slot = index.removeValue(forKey: key) else { return nil }
        unlink(slot)
        free.append(slot)
        return nodes[slot].value
    }

    mutating func removeAll() {
        nodes.removeAll(keepingCapacity: true)
        index.removeAll(keepingCapacity: true)
        free.removeAll(keepingCapacity: true)
        head = -1
        tail = -1
    }

    private mutating func touch(_ slot: Int) {
        guard slot != head else { return }
        unlink(slot)
        nodes[slot].older = head
        nodes[slot].newer = -1
        if head >= 0 { nodes[head].newer = slot }
        head = slot
        if tail < 0 { tail = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (nodes[slot].newer, nodes[slot].older)
        if newer >= 0 { nodes[newer].older = older } else { head = older }
        if older >= 0 { nodes[older].newer = newer } else { tail = newer }
        nodes[slot].newer = -1
        nodes[slot].older = -1
    }
}
