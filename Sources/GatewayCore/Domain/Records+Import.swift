import Foundation
import HubSpotAPI

/// Many upserts of one type by one unique property in a handful of HubSpot calls: HubSpot's
/// imports (one CSV file), for write jobs too large for batches of 100.
public struct ImportedRows: Sendable {
    /// Rows HubSpot (or the schema check before it) refused, by row index: why.
    public var refused: [Int: CRMError]
    /// HubSpot calls the import took (upload, status polls, error pages).
    public var calls: Int
    /// The import's HubSpot id.
    public var importId: String
}

extension Records {
    /// Upserts `rows` (property name → value, each holding `idProperty`) of `type` as one
    /// import, polls it every `pollInterval` until HubSpot has finished it, and reads which rows
    /// it refused. `resume`: an import already started for these rows (after a crash) to poll
    /// instead of starting another; `started` is told the new import's id before it is polled.
    /// Types without a HubSpot type id the gateway knows (custom types by name) are refused.
    public func importUpserts(
        _ type: String, idProperty: String, rows: [[String: String]], pollInterval: Duration, resume: String?,
        started: (String) async throws -> Void, _ terms: CallTerms
    ) async throws -> ImportedRows {
        try Caller.authorize(.write, type)
        let canonical = ObjectTypeAliases.canonical(type)
        guard
            let objectTypeId = type.hasPrefix("2-")
                ? type : ObjectTypeAliases.standardTypeIds.first(where: { $0.value == canonical })?.key
        else {
            throw CRMError(
                .invalidRequest, "\(type) has no HubSpot object type id the gateway knows; import by its 2-… id")
        }
        // Rows naming a property the type does not have would fail the whole file: refuse them alone.
        _ = try? await metadata.properties(canonical, terms)
        let writes = rows.map {
            ObjectWrite.upsert(idProperty: idProperty, value: $0[idProperty] ?? "", properties: $0)
        }
        var refused: [Int: CRMError] = [:]
        for (index, refusal) in await schemaRefusal(canonical, writes).enumerated() {
            if let refusal { refused[index] = refusal }
        }
        let sent = rows.indices.filter { refused[$0] == nil }
        var calls = 0
        let importId: String
        if let resume {
            importId = resume
        } else {
            let columns = [idProperty] + Set(sent.flatMap { rows[$0].keys }).subtracting([idProperty]).sorted()
            var csv = Array((columns.map(Self.csvField).joined(separator: ",") + "\r\n").utf8)
            for index in sent {
                csv += Array(
                    (columns.map { Self.csvField(rows[index][$0] ?? "") }.joined(separator: ",") + "\r\n").utf8)
            }
            // Not idempotent: a retried upload would be a second import.
            let file = csv
            let status = try await upstream.perform(terms, idempotent: false) {
                try await $0.startImport(
                    name: "hubspot-gateway job", objectTypeId: objectTypeId, idProperty: idProperty, columns: columns,
                    csv: file, options: $1)
            }
            calls += 1
            importId = status.id
            try await started(importId)
        }
        let id = importId
        var status = try await upstream.perform(terms) { try await $0.importStatus(id, options: $1) }
        calls += 1
        while !status.isFinished {
            try await Task.sleep(for: pollInterval)
            status = try await upstream.perform(terms) { try await $0.importStatus(id, options: $1) }
            calls += 1
        }
        guard status.state == "DONE" else {
            throw CRMError(.unavailable(status: nil), "HubSpot's import \(importId) ended \(status.state)")
        }
        // Line 1 is the header; line n is the (n − 1)-th row sent.
        var after: String?
        repeat {
            let cursor = after
            let page = try await upstream.perform(terms) { try await $0.importErrors(id, after: cursor, options: $1) }
            calls += 1
            for error in page.results {
                guard let line = error.sourceData?.lineNumber, line >= 2, line - 2 < sent.count else { continue }
                refused[sent[line - 2]] = CRMError(
                    .invalidInput(property: nil),
                    "\(error.errorType ?? "INVALID_VALUE"): \(error.message ?? "HubSpot refused the row")")
            }
            after = page.paging?.next?.after
        } while after != nil
        return ImportedRows(refused: refused, calls: calls, importId: importId)
    }

    /// A CSV field, quoted when it holds a comma, a quote or a line break.
    static func csvField(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
