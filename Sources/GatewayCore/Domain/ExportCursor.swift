import Foundation

/// Where an export stands, as the opaque text a caller resumes from. From the beginning, an
/// export reads the whole type from HubSpot's export file (or walks it by id), then every
/// record changed since in (modification, id) order, then — when archived records are asked
/// for — the archived list by id. A cursor names the phase and the last record handed out in
/// it, so a resume repeats and skips nothing.
public struct ExportCursor: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        /// The whole type by id: the list page that starts at `pageAfter` (nil: the first),
        /// records after `lastId` in it.
        case walk(pageAfter: String?, lastId: Int64?)
        /// The rows of HubSpot's export file of task `task`, from byte `offset` (a row's start).
        case file(task: String, offset: Int)
        /// Records changed after `position`.
        case changed
        /// Archived records by id, as `walk`; the scan began at `scanStart` (the next run's
        /// `archivedSince`).
        case archived(pageAfter: String?, lastId: Int64?, scanStart: Int64)
    }

    public var objectType: String
    public var phase: Phase
    /// Where the changed phase starts or stands (during a walk: the walk's start).
    public var position: ModificationPosition
    /// Archived records count from this millisecond (0: all of them).
    public var archivedSince: Int64

    public init(objectType: String, phase: Phase, position: ModificationPosition, archivedSince: Int64) {
        self.objectType = objectType
        self.phase = phase
        self.position = position
        self.archivedSince = archivedSince
    }

    /// The opaque text handed to callers.
    public var text: String {
        let (tag, after, lastId, scanStart): (String, String?, Int64?, Int64) =
            switch phase {
            case .walk(let after, let lastId): ("W", after, lastId, 0)
            case .file(let task, let offset): ("F", task, Int64(offset), 0)
            case .changed: ("C", nil, nil, 0)
            case .archived(let after, let lastId, let scanStart): ("A", after, lastId, scanStart)
            }
        let fields = [
            "x1", objectType, tag, after ?? "", lastId.map(String.init) ?? "", String(position.modifiedMs),
            position.id.map(String.init) ?? "", String(archivedSince), String(scanStart),
        ]
        return CursorText.encode(fields)
    }

    /// Reads a cursor this gateway handed out; nil for anything else.
    public init?(text: String) {
        guard let fields = CursorText.decode(text) else { return nil }
        guard fields.count == 9, fields[0] == "x1", !fields[1].isEmpty, let ms = Int64(fields[5]),
            let since = Int64(fields[7]), let scanStart = Int64(fields[8])
        else { return nil }
        func optionalNumber(_ text: String) -> Int64?? { text.isEmpty ? .some(nil) : Int64(text).map { .some($0) } }
        guard let lastId = optionalNumber(fields[4]), let positionId = optionalNumber(fields[6]) else { return nil }
        let after = fields[3].isEmpty ? nil : fields[3]
        let phase: Phase
        switch fields[2] {
        case "W": phase = .walk(pageAfter: after, lastId: lastId)
        case "F":
            guard let after, let offset = lastId, offset >= 0 else { return nil }
            phase = .file(task: after, offset: Int(offset))
        case "C": phase = .changed
        case "A": phase = .archived(pageAfter: after, lastId: lastId, scanStart: scanStart)
        default: return nil
        }
        self.init(
            objectType: fields[1], phase: phase, position: ModificationPosition(modifiedMs: ms, id: positionId),
            archivedSince: since)
    }
}
