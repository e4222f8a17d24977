import Foundation
import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf

/// Settings of `ObjectsService.ExportChanged` (`--export-*` options).
public struct ExportConfiguration: Sendable {
    /// Changes younger than this are left to the next run: HubSpot's search lags behind writes,
    /// and a cursor must not pass a change search cannot show yet.
    public var settle: Duration = .seconds(300)
    /// One export's share of the budget: at most this many HubSpot calls a second (0: only
    /// bulk priority limits it).
    public var callsPerSecond = 0.0
    /// Longest wait of one HubSpot call of an export for the budget and HubSpot.
    public var callTimeout: Duration = .seconds(60)
    /// How a full load reads the whole type unless the request says (the export file; tests and
    /// benchmarks may set the list walk).
    public var fullLoad: FullLoad = .exportFile
    /// The export file's settings (fixed settings, docs/configuration.md).
    public var file = ExportFileTerms()

    public init() {}
}

/// The trailers of an export: how far it got, and where the next run resumes.
public enum ExportTrailers {
    public static let records = "export-records"
    public static let hubSpotCalls = "export-hubspot-calls"
    /// The cursor to resume from: after an error, right after the last record received; at the
    /// end, the next incremental run's start.
    public static let resumeCursor = "export-resume-cursor"
    /// How the full load read the whole type: `export-file`, or `list-walk: <why>`.
    public static let fullLoad = "export-full-load"
}

extension ObjectsService {
    public func exportChanged(
        request: ServerRequest<Hubspot_Gateway_V1_ExportChangedRequest>, context: ServerContext
    ) async throws -> StreamingServerResponse<Hubspot_Gateway_V1_ExportedRecord> {
        let message = request.message
        let type = message.objectType
        let properties = try checked(type, message.properties)
        for toType in message.associationTypes { try InputValidation.objectType(toType, field: "association_types") }
        try InputValidation.propertyNames(message.propertiesWithHistory, field: "properties_with_history")
        let start: ExportCursor
        switch message.since {
        case .cursor(let text)?:
            guard let cursor = ExportCursor(text: text) else {
                throw InputValidation.invalid(
                    "cursor is not one this gateway handed out; resume from an ExportedRecord.cursor or the export-resume-cursor trailer"
                )
            }
            guard cursor.objectType == type else {
                throw InputValidation.invalid(
                    "cursor belongs to an export of \(cursor.objectType), not \(type)")
            }
            start = cursor
        case .sinceTime(let time)?:
            start = Records.exportStart(of: type, since: time.milliseconds)
        case nil:
            start = Records.exportStart(of: type, since: nil)
        }
        // A long stream: the caller's grpc-timeout bounds the whole export when it sent one;
        // each HubSpot call waits at most the call timeout.
        let overall = request.metadata.firstString("grpc-timeout").flatMap(CallContext.parseTimeout)
            .map { ContinuousClock.now + $0 }
        let configuration = exports
        let pacer = IntervalPacer(perSecond: configuration.callsPerSecond)
        let export = running.begin(type)
        var terms = ExportTerms(
            properties: properties, includeArchived: message.includeArchived,
            associationTypes: message.associationTypes, settle: configuration.settle,
            terms: {
                let own = ContinuousClock.now + configuration.callTimeout
                return CallTerms(priority: .bulk, deadline: overall.map { min($0, own) } ?? own)
            },
            beforeCall: {
                try await pacer.wait()
                export.countCall()
            })
        terms.fullLoad = message.fullLoad == .listWalk ? .listWalk : configuration.fullLoad
        terms.file = configuration.file
        terms.historyOf = message.propertiesWithHistory
        terms.reportFullLoad = { export.fullLoad = $0 }
        let exportTerms = terms
        // The stream is produced after this handler returns: it runs as the same caller.
        let caller = Caller.current
        try Caller.authorize(.read, type)
        return StreamingServerResponse { writer in
            defer { running.end(export) }
            func trailers(_ resume: ExportCursor?) -> Metadata {
                var metadata: Metadata = [
                    ExportTrailers.records: "\(export.records)", ExportTrailers.hubSpotCalls: "\(export.hubSpotCalls)",
                ]
                if let resume { metadata.addString(resume.text, forKey: ExportTrailers.resumeCursor) }
                if let report = export.fullLoad { metadata.addString(report.text, forKey: ExportTrailers.fullLoad) }
                return metadata
            }
            do {
                // A caller that leaves ends the export at once, its HubSpot call in flight too.
                let resume = try await cancellingOnRPCCancellation {
                    try await Caller.$current.withValue(caller) {
                        try await records.crm.records.export(from: start, exportTerms) { batch in
                            for exported in batch {
                                try await writer.write(.init(exported))
                                export.handedOut(exported.cursor)
                            }
                        }
                    }
                }
                return trailers(resume)
            } catch {
                var failure = GatewayErrors.rpcError(error, subject: "the \(type) export")
                failure.metadata.add(contentsOf: trailers(export.lastCursor ?? start))
                throw failure
            }
        }
    }
}

extension Hubspot_Gateway_V1_ExportedRecord {
    init(_ exported: ExportedRecord) {
        self.init()
        object = CrmObject(exported.record)
        cursor = exported.cursor.text
        archived = exported.record.archived
        for (type, associated) in exported.associations {
            associations[type] = .with { $0.associations = associated.map(Hubspot_Gateway_V1_Association.init) }
        }
    }
}
