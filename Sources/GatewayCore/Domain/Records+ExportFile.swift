import Foundation
import HubSpotAPI
import Time

/// How an export reads a whole type from the beginning.
public enum FullLoad: String, Sendable {
    /// HubSpot's export file: a few calls for the whole type, the file downloaded outside the
    /// budget; the list walk when HubSpot refuses an export.
    case exportFile = "export-file"
    /// The list endpoint by id: one call per 100 records.
    case listWalk = "list-walk"
}

/// How a full load went: the source it read from, and why it is not the export file when not.
public struct FullLoadReport: Sendable, Equatable {
    public var source: FullLoad
    public var reason: String?

    public var text: String { reason.map { "\(source.rawValue): \($0)" } ?? source.rawValue }
}

/// Settings of the export-file path of a full load (fixed settings, docs/configuration.md).
public struct ExportFileTerms: Sendable {
    /// Bytes of the file fetched per range request: the most an export holds in memory at once.
    public var chunkBytes = 4 << 20
    /// First wait before reading the task's status again; each wait doubles up to `maxPoll`.
    public var firstPoll: Duration = .seconds(1)
    public var maxPoll: Duration = .seconds(30)
    /// Longest HubSpot may take to build the file before the export fails.
    public var buildTimeout: Duration = .seconds(3600)
    /// Longest wait for one range of the file.
    public var downloadTimeout: Duration = .seconds(120)
    /// A longer row in the file fails the export (memory stays bounded).
    public var maxRowBytes = 1 << 20
    /// The clock the status reads wait on.
    public var time: TimeSource = .system

    public init() {}
}

extension Records {
    enum ExportFileStart {
        case started(task: String)
        case refused(reason: String)
    }

    /// Asks HubSpot for an export file of `type` with `properties` (and the creation time). A
    /// refusal HubSpot gives for this account — a missing `crm.export` scope, the exports limit,
    /// an export it cannot build — is the list walk's turn, with the reason; anything else fails.
    func startExportFile(_ type: String, properties: [String], _ export: ExportTerms) async throws
        -> ExportFileStart
    {
        do {
            try await export.beforeCall()
            let columns = Array(Set(properties + [Self.creationProperty]))
            let task = try await upstream.perform(export.terms(), idempotent: false) {
                try await $0.startExport(
                    objectType: type, properties: columns.sorted(), name: "hubspot-gateway \(type) full load",
                    options: $1)
            }
            return .started(task: task)
        } catch let error as CRMError {
            switch error.reason {
            case .missingScopes:
                return .refused(reason: "HubSpot refused an export (the app lacks crm.export): \(error.message)")
            case .rateLimited:
                return .refused(reason: "HubSpot refused an export (its exports limit): \(error.message)")
            case .invalidInput, .notFound:
                return .refused(reason: "HubSpot cannot export \(type): \(error.message)")
            default: throw error
            }
        }
    }

    /// The creation time's property, exported beside the asked ones for `createdAt`.
    static let creationProperty = "createdate"

    enum ExportFileEnd {
        /// Every row handed out.
        case read
        /// Nothing handed out and the file cannot be read: the list walk's turn.
        case unusable(reason: String)
    }

    /// Waits for task `task`'s file and hands out its rows from byte `offset` (a row's start;
    /// 0: the beginning) as records, each with the cursor after it.
    func readExportFile(
        _ type: String, task: String, from offset: Int, properties: [String], _ export: ExportTerms,
        hand: ([CRMRecord], [Int]) async throws -> Void
    ) async throws -> ExportFileEnd {
        let file = export.file
        // The task's status until the file is built (the doubling waits keep the calls few).
        func readStatus() async throws -> HubSpotClient.ExportTaskStatus {
            try await export.beforeCall()
            return try await upstream.perform(export.terms()) { try await $0.exportStatus(task, options: $1) }
        }
        let started = file.time.now
        var wait = file.firstPoll
        var status: HubSpotClient.ExportTaskStatus
        do {
            status = try await readStatus()
        } catch let error as CRMError where error.reason == .notFound {
            return .unusable(reason: "HubSpot no longer has export \(task)")
        }
        while !status.isFinished {
            guard file.time.now - started < file.buildTimeout else {
                throw CRMError(
                    .unavailable(status: nil),
                    "HubSpot did not finish export \(task) of \(type) within \(file.buildTimeout); resume from the cursor to wait again"
                )
            }
            try await file.time.sleep(for: wait)
            wait = min(wait * 2, file.maxPoll)
            status = try await readStatus()
        }
        guard status.isComplete, var url = status.result else {
            return .unusable(reason: "HubSpot's export \(task) ended \(status.status)")
        }

        /// One range of the file; an expired URL is replaced by a fresh status read, once.
        func chunk(at position: Int, length: Int) async throws -> HubSpotClient.ExportFileChunk {
            do {
                return try await upstream.exportFileChunk(
                    url, offset: position, length: length, timeout: file.downloadTimeout)
            } catch HubSpotClient.ExportDownloadError.expired {
                guard let fresh = try await readStatus().result else {
                    throw CRMError(.unexpectedAnswer, "HubSpot's export \(task) has no file any more")
                }
                url = fresh
                return try await upstream.exportFileChunk(
                    url, offset: position, length: length, timeout: file.downloadTimeout)
            }
        }

        // The header first: column names, read from the file's start.
        var headerReader = CSVRowReader(maxRowBytes: file.maxRowBytes)
        var header: [String]?
        var position = 0
        var pending: [(fields: [String], end: Int)] = []
        while header == nil {
            let piece = try await chunk(at: position, length: min(file.chunkBytes, 64 << 10))
            if position == 0,
                piece.bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) || piece.contentType?.contains("zip") == true
            {
                guard offset == 0 else { throw CRMError(.unexpectedAnswer, "HubSpot's export \(task) came zipped") }
                return .unusable(
                    reason:
                        "HubSpot delivered the export zipped (over a million rows); zipped files are read by the list walk instead"
                )
            }
            var rows = try headerReader.feed(piece.bytes)
            position += piece.bytes.count
            if piece.bytes.isEmpty || piece.isWholeFile, rows.isEmpty, let last = headerReader.finish() {
                rows = [last]
            }
            if let first = rows.first {
                header = first.fields
                if offset == 0 { pending = Array(rows.dropFirst()) }
            } else if piece.bytes.isEmpty || piece.isWholeFile {
                return .unusable(reason: "HubSpot's export \(task) is empty")
            }
        }
        guard let columns = header, let idColumn = columns.firstIndex(of: "hs_object_id") else {
            throw CRMError(.unexpectedAnswer, "HubSpot's export \(task) has no hs_object_id column")
        }
        let modified = ModificationPosition.modifiedProperty(of: type)
        let wanted = columns.enumerated().filter { properties.contains($0.element) }
        let created = columns.firstIndex(of: Self.creationProperty)
        let modifiedColumn = columns.firstIndex(of: modified)
        func record(_ fields: [String]) -> CRMRecord? {
            guard idColumn < fields.count, !fields[idColumn].isEmpty else { return nil }
            var values: [String: String?] = [:]
            for (index, name) in wanted {
                let value = index < fields.count ? fields[index] : ""
                values[name] = value.isEmpty ? .some(nil) : value
            }
            func time(_ column: Int?) -> Date? {
                column.flatMap { $0 < fields.count ? HubSpotTimestamp.parse(fields[$0]) : nil }
            }
            return CRMRecord(
                id: fields[idColumn], properties: values, createdAt: time(created), updatedAt: time(modifiedColumn))
        }
        func handOut(_ rows: [(fields: [String], end: Int)]) async throws {
            for start in stride(from: 0, to: rows.count, by: 100) {
                var records: [CRMRecord] = []
                var ends: [Int] = []
                for row in rows[start..<min(rows.count, start + 100)] {
                    guard let made = record(row.fields) else { continue }
                    records.append(made)
                    ends.append(row.end)
                }
                try await hand(records, ends)
            }
        }

        // Then the rows: those read with the header, and the rest range by range.
        var reader = offset == 0 ? headerReader : CSVRowReader(offset: offset, maxRowBytes: file.maxRowBytes)
        if offset != 0 { position = offset }
        try await handOut(pending)
        while true {
            let piece = try await chunk(at: position, length: file.chunkBytes)
            // A server that ignores ranges sends the whole file: the part from here on counts.
            let bytes = piece.isWholeFile ? piece.bytes.dropFirst(position) : piece.bytes[...]
            try await handOut(try reader.feed(bytes))
            position += bytes.count
            let atEnd = piece.isWholeFile || bytes.count < file.chunkBytes || piece.total.map { position >= $0 } == true
            if atEnd { break }
        }
        if let last = reader.finish() { try await handOut([last]) }
        return .read
    }
}
