import HubSpotAPI
import Testing

/// The export file's reader: RFC 4180 rows out of pieces cut anywhere, each with its end offset.
@Suite struct CSVRowReaderTests {
    static let file = Array(
        "id,name,note\r\n1,\"Smith, Jo\",\"said \"\"hi\"\"\"\r\n2,Ann,\"two\nlines\"\r\n\r\n3,,\n".utf8)

    static func read(_ bytes: [UInt8], pieceSize: Int, from offset: Int = 0) throws -> [([String], Int)] {
        var reader = CSVRowReader(offset: offset)
        var rows: [([String], Int)] = []
        for start in stride(from: 0, to: bytes.count, by: pieceSize) {
            rows += try reader.feed(bytes[start..<min(bytes.count, start + pieceSize)]).map { ($0.fields, $0.end) }
        }
        if let last = reader.finish() { rows.append((last.fields, last.end)) }
        return rows
    }

    @Test func quotedSeparatorsQuotesAndLineBreaksSurviveAnyCutOfThePieces() throws {
        let whole = try Self.read(Self.file, pieceSize: Self.file.count)
        #expect(
            whole.map(\.0) == [
                ["id", "name", "note"], ["1", "Smith, Jo", "said \"hi\""], ["2", "Ann", "two\nlines"], ["3", "", ""],
            ])
        for size in 1...7 {
            let cut = try Self.read(Self.file, pieceSize: size)
            #expect(cut.map(\.0) == whole.map(\.0), "pieces of \(size)")
            #expect(cut.map(\.1) == whole.map(\.1), "the same end offsets in pieces of \(size)")
        }
    }

    @Test func aReaderStartedAtARowsEndOffsetReadsTheRestExactly() throws {
        let rows = try Self.read(Self.file, pieceSize: 5)
        let resumeAt = rows[1].1  // after the first data row
        let rest = try Self.read(Array(Self.file[resumeAt...]), pieceSize: 3, from: resumeAt)
        #expect(rest.map(\.0) == rows.dropFirst(2).map(\.0))
        #expect(rest.map(\.1) == rows.dropFirst(2).map(\.1), "offsets count from the file's start")
    }

    @Test func aRowLongerThanTheLimitFailsInsteadOfGrowingMemory() throws {
        var reader = CSVRowReader(maxRowBytes: 16)
        #expect(throws: CSVRowReader.RowTooLong.self) {
            _ = try reader.feed(Array("1,\(String(repeating: "x", count: 40))\n".utf8))
        }
    }
}
