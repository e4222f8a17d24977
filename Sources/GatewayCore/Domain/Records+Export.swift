import HubSpotAPI
import Foundation
import Time

/// How an export reads.
public struct ExportTerms: Sendable {
    /// Properties of each record (the modification property is always added).
    public var properties: [String]
    /// Also hand out archived records (from the archived list, after the changed ones).
    public var includeArchived: Bool
    /// Fill each record's associations to these types (one batch read per 100 records).
    public var associationTypes: [String]
    /// Also each record's history of these properties (one batch read per 50 records).
    public var historyOf: [String] = []
    /// Changes younger than this are left to the next run: search lags behind writes, and a
    /// cursor must not pass a change search cannot see yet.
    public var settle: Duration
    /// Results per search call, and the 10,000-result cap of one query.
    public var searchPageSize = 200
    public var searchResultCap = 10_000
    /// How a load from the beginning reads the whole type, and the export file's settings.
    public var fullLoad: FullLoad = .exportFile
    public var file = ExportFileTerms()
    /// Told, once, how a load from the beginning reads the whole type (and why not the file).
    public var reportFullLoad: @Sendable (FullLoadReport) -> Void = { _ in }
    /// Priority and deadline of each call, asked before it.
    public var terms: @Sendable () -> CallTerms
    /// Runs before every HubSpot call of the export (pacing and counting).
    public var beforeCall: @Sendable () async throws -> Void
    /// The wall clock, in milliseconds since 1970.
    public var now: @Sendable () -> Int64

    public init(
        properties: [String] = [], includeArchived: Bool = false, associationTypes: [String] = [],
        settle: Duration = .seconds(300), terms: @escaping @Sendable () -> CallTerms,
        beforeCall: @escaping @Sendable () async throws -> Void = {},
        now: @escaping @Sendable () -> Int64 = { Date().epochMilliseconds }
    ) {
        self.properties = properties
        self.includeArchived = includeArchived
        self.associationTypes = associationTypes
        self.settle = settle
        self.terms = terms
        self.beforeCall = beforeCall
        self.now = now
    }
}

/// A record handed out by an export, and the cursor that resumes after it.
public struct ExportedRecord: Sendable {
    public var record: CRMRecord
    /// Associated records by type (the types asked for).
    public var associations: [String: [Association]]
    public var cursor: ExportCursor
}

extension Records {
    /// Where an export of `type` begins: from the beginning (`since` nil) the whole type — from
    /// HubSpot's export file, or a walk by id on the list endpoint (100 records a call, no
    /// 10,000 cap) — and then the changes made since it began; from `since`, the changes since.
    public static func exportStart(of type: String, since: Int64?, now: Int64 = Date().epochMilliseconds)
        -> ExportCursor
    {
        guard let since else {
            return ExportCursor(
                objectType: type, phase: .walk(pageAfter: nil, lastId: nil),
                position: ModificationPosition(modifiedMs: now), archivedSince: 0)
        }
        return ExportCursor(
            objectType: type, phase: .changed, position: ModificationPosition(modifiedMs: since), archivedSince: since)
    }

    /// Hands out, in batches, every record of the cursor's type from where the cursor stands,
    /// each with the cursor after it; returns the cursor the next run resumes from (changes
    /// younger than `settle` and everything after are left to it).
    @discardableResult
    public func export(
        from start: ExportCursor, _ export: ExportTerms, deliver: ([ExportedRecord]) async throws -> Void
    ) async throws -> ExportCursor {
        let type = start.objectType
        try Caller.authorize(.read, type)
        let properties = Array(Set(export.properties + [ModificationPosition.modifiedProperty(of: type)]))
        var cursor = start

        /// Hands out `records` (at most 100) with their associations (none for archived records:
        /// HubSpot keeps none), each with its cursor.
        func hand(_ records: [CRMRecord], _ cursors: [ExportCursor]) async throws {
            guard !records.isEmpty else { return }
            var records = records
            if !export.historyOf.isEmpty, !records[0].archived {
                // Histories: a batch read per 50 records, each paced like any call of the export.
                let read = try await withHistory(
                    type, ids: records.map(\.id), properties: [], historyOf: export.historyOf, export.terms(),
                    beforeCall: export.beforeCall)
                for index in records.indices { records[index].history = read[index]?.history ?? [:] }
            }
            var associations: [String: [String: [Association]]] = [:]
            for toType in export.associationTypes where !records[0].archived {
                try await export.beforeCall()
                let terms = export.terms()
                let ids = records.map(\.id)
                associations[toType] = Association.byRecord(
                    try await upstream.perform(terms) {
                        try await $0.batchReadAssociations(from: type, to: toType, ids: ids, options: $1)
                    })
            }
            try await deliver(
                zip(records, cursors).map { record, cursor in
                    ExportedRecord(
                        record: record,
                        associations: Dictionary(
                            uniqueKeysWithValues: export.associationTypes.map {
                                ($0, associations[$0]?[record.id] ?? [])
                            }), cursor: cursor)
                })
        }

        /// Pages through the live or archived list by id from `after`, skipping ids up to
        /// `lastId`; `phase` makes each record's cursor.
        func walkList(
            archived: Bool, after first: String?, lastId: Int64?, keep: (CRMRecord) -> Bool,
            phase: (String?, Int64) -> ExportCursor.Phase
        ) async throws {
            var after = first
            var skipThrough = lastId
            while true {
                try await export.beforeCall()
                let page = try await list(
                    type, limit: 100, after: after, properties: properties, archived: archived, export.terms())
                var records: [CRMRecord] = []
                var cursors: [ExportCursor] = []
                for record in page.records {
                    guard let id = Int64(record.id), id > (skipThrough ?? .min) else { continue }
                    guard keep(record) else { continue }
                    var next = cursor
                    next.phase = phase(after, id)
                    records.append(record)
                    cursors.append(next)
                }
                try await hand(records, cursors)
                skipThrough = nil
                guard let next = page.next, !page.records.isEmpty else { return }
                after = next
            }
        }

        if case .walk(nil, nil) = cursor.phase {
            if export.fullLoad == .exportFile {
                switch try await startExportFile(type, properties: properties, export) {
                case .started(let task):
                    cursor.phase = .file(task: task, offset: 0)
                    export.reportFullLoad(FullLoadReport(source: .exportFile))
                case .refused(let reason):
                    export.reportFullLoad(FullLoadReport(source: .listWalk, reason: reason))
                }
            } else {
                export.reportFullLoad(FullLoadReport(source: .listWalk, reason: "asked for"))
            }
        }
        if case .file(let task, let offset) = cursor.phase {
            let base = cursor
            let end = try await readExportFile(type, task: task, from: offset, properties: properties, export) {
                records, ends in
                try await hand(
                    records,
                    ends.map {
                        var next = base
                        next.phase = .file(task: task, offset: $0)
                        return next
                    })
            }
            switch end {
            case .read:
                cursor.phase = .changed
            case .unusable(let reason):
                // Nothing of the file was handed out (or the task is gone): the list walk reads it all.
                export.reportFullLoad(FullLoadReport(source: .listWalk, reason: reason))
                cursor.phase = .walk(pageAfter: nil, lastId: nil)
            }
        }
        if case .walk(let after, let lastId) = cursor.phase {
            try await walkList(archived: false, after: after, lastId: lastId, keep: { _ in true }) {
                .walk(pageAfter: $0, lastId: $1)
            }
            cursor.phase = .changed
        }
        if case .changed = cursor.phase {
            let walk = ModifiedWalkTerms(
                properties: properties, pageSize: export.searchPageSize, resultCap: export.searchResultCap,
                until: export.now() - export.settle.milliseconds, terms: export.terms, beforeCall: export.beforeCall)
            let base = cursor
            cursor.position = try await walkModified(type, after: cursor.position, walk) { batch in
                for chunk in stride(from: 0, to: batch.count, by: 100) {
                    let slice = batch[chunk..<min(batch.count, chunk + 100)]
                    try await hand(
                        slice.map(\.record),
                        slice.map {
                            var next = base
                            next.position = $0.position
                            return next
                        })
                }
            }
            if export.includeArchived { cursor.phase = .archived(pageAfter: nil, lastId: nil, scanStart: export.now()) }
        }
        if case .archived(let after, let lastId, let scanStart) = cursor.phase {
            let since = cursor.archivedSince
            try await walkList(
                archived: true, after: after, lastId: lastId,
                keep: { ($0.archivedAt?.epochMilliseconds ?? .max) >= since }
            ) { .archived(pageAfter: $0, lastId: $1, scanStart: scanStart) }
            cursor.phase = .changed
            cursor.archivedSince = scanStart
        }
        return cursor
    }
}
