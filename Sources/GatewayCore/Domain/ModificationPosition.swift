import Foundation
import Time

/// A place in a type's records ordered by (last modification, id): a walk from here yields the
/// records after it. HubSpot ids are numbers, and they order records that share one
/// modification millisecond.
public struct ModificationPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970.
    public var modifiedMs: Int64
    /// The last record seen at `modifiedMs`; nil: none of that millisecond seen yet.
    public var id: Int64?

    public init(modifiedMs: Int64, id: Int64? = nil) {
        self.modifiedMs = modifiedMs
        self.id = id
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.modifiedMs, a.id ?? -1) < (b.modifiedMs, b.id ?? -1)
    }

    public var description: String { "\(modifiedMs)/\(id.map(String.init) ?? "-")" }

    /// The property a type's modification time is searched and sorted by: contacts keep theirs
    /// under another name than every other type (a classic mistake of integrations).
    public static func modifiedProperty(of type: String) -> String {
        type == "contacts" ? "lastmodifieddate" : "hs_lastmodifieddate"
    }

    /// Where `record` sorts, from the type's modification property (falling back to
    /// `updatedAt`); nil for a record without a numeric id or a modification time.
    public init?(of record: CRMRecord, type: String) {
        guard let id = Int64(record.id) else { return nil }
        let property = Self.modifiedProperty(of: type)
        let stated = record[property].flatMap { text in Int64(text) ?? HubSpotTimestamp.parse(text)?.epochMilliseconds }
        guard let ms = stated ?? record.updatedAt?.epochMilliseconds else { return nil }
        self.init(modifiedMs: ms, id: id)
    }
}
