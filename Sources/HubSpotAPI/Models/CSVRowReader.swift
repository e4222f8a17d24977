/// Reads RFC 4180 CSV (quoted fields, doubled quotes, separators and line breaks inside quotes)
/// from bytes fed in pieces, as an export file arrives: each complete row comes out with the
/// file offset just after it, so memory holds one piece and one row, never the file.
public struct CSVRowReader: Sendable {
    /// A row longer than this is refused: memory stays bounded whatever the file holds.
    public let maxRowBytes: Int
    private var fields: [String] = []
    private var field: [UInt8] = []
    private var rowBytes = 0
    private var quoted = false
    /// A quote inside a quoted field: the end of the quotes, or the first of a doubled one.
    private var quoteSeen = false
    /// A row a carriage return ended, held until the next byte: a line feed right after it
    /// belongs to it (and moves its end), even when it comes in the next piece.
    private var held: (fields: [String], end: Int)?
    /// Bytes read so far (the offset of the next byte in the file).
    public private(set) var offset: Int

    public struct RowTooLong: Error, CustomStringConvertible {
        public var offset: Int
        public var limit: Int
        public var description: String { "a CSV row at byte \(offset) is longer than \(limit) bytes" }
    }

    /// - Parameter offset: where in the file the first byte fed sits (a reader resumed mid-file).
    public init(offset: Int = 0, maxRowBytes: Int = 1 << 20) {
        self.offset = offset
        self.maxRowBytes = maxRowBytes
    }

    /// The rows `bytes` completes, each with the file offset after it.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws -> [(fields: [String], end: Int)] {
        var rows: [(fields: [String], end: Int)] = []
        for byte in bytes {
            offset += 1
            if let row = held {
                held = nil
                if byte == 0x0A {
                    rows.append((row.fields, offset))
                    continue
                }
                rows.append(row)
            }
            rowBytes += 1
            guard rowBytes <= maxRowBytes else { throw RowTooLong(offset: offset - rowBytes, limit: maxRowBytes) }
            if quoted {
                if quoteSeen {
                    quoteSeen = false
                    if byte == 0x22 {
                        field.append(0x22)
                        continue
                    }
                    quoted = false  // the closing quote; this byte is read as outside quotes
                } else if byte == 0x22 {
                    quoteSeen = true
                    continue
                } else {
                    field.append(byte)
                    continue
                }
            }
            switch byte {
            case 0x22 where field.isEmpty: quoted = true
            case 0x2C: endField()
            case 0x0A, 0x0D:
                defer { rowBytes = 0 }
                // A blank line is no row.
                guard !(fields.isEmpty && field.isEmpty && rowBytes == 1) else { continue }
                endField()
                if byte == 0x0D { held = (fields, offset) } else { rows.append((fields, offset)) }
                fields = []
            default: field.append(byte)
            }
        }
        return rows
    }

    /// The file's last row: one ended by a lone carriage return, or one with no line break.
    public mutating func finish() -> (fields: [String], end: Int)? {
        if let row = held {
            held = nil
            return row
        }
        if quoted && quoteSeen { quoted = false }
        guard !field.isEmpty || !fields.isEmpty else { return nil }
        endField()
        defer { fields = [] }
        return (fields, offset)
    }

    private mutating func endField() {
        fields.append(String(decoding: field, as: UTF8.self))
        field.removeAll(keepingCapacity: true)
    }
}
