import Foundation

/// HubSpot's imports (CRM v3): one CSV file of many records in one call.
extension HubSpotClient {
    /// An import's state and counters.
    public struct ImportStatus: Decodable, Sendable {
        public var id: String
        /// STARTED, PROCESSING, DONE, FAILED, CANCELED, DEFERRED.
        public var state: String
        public var metadata: Metadata?

        public struct Metadata: Decodable, Sendable {
            public var counters: [String: Int]?
        }

        public var isFinished: Bool { ["DONE", "FAILED", "CANCELED"].contains(state) }
    }

    /// One row HubSpot could not import.
    public struct ImportError: Decodable, Sendable {
        public var errorType: String?
        public var message: String?
        public var sourceData: SourceData?

        public struct SourceData: Decodable, Sendable {
            /// The row's line in the file (the header is line 1).
            public var lineNumber: Int?
        }
    }

    public struct ImportErrorPage: Decodable, Sendable {
        public var results: [ImportError]
        public var paging: Paging?
        public struct Paging: Decodable, Sendable {
            public var next: Next?
            public struct Next: Decodable, Sendable { public var after: String? }
        }
    }

    /// `POST /crm/v3/imports`: rows of `objectTypeId` (e.g. `0-1`) created or updated by the
    /// unique `idProperty` (its column marked `HUBSPOT_ALTERNATE_ID`), from one CSV file with a
    /// header of property names. Not idempotent: a retry is a second import (of upserts).
    public func startImport(
        name: String, objectTypeId: String, idProperty: String, columns: [String], csv: [UInt8],
        options: CallOptions = .init()
    ) async throws -> ImportStatus {
        struct Mapping: Encodable {
            var columnObjectTypeId: String
            var columnName: String
            var propertyName: String
            var idColumnType: String?
        }
        struct Page: Encodable {
            var hasHeader = true
            var columnMappings: [Mapping]
        }
        struct File: Encodable {
            var fileName = "records.csv"
            var fileFormat = "CSV"
            var fileImportPage: Page
        }
        struct Request: Encodable {
            var name: String
            var importOperations: [String: String]
            var files: [File]
        }
        let description = Request(
            name: name, importOperations: [objectTypeId: "UPSERT"],
            files: [
                File(
                    fileImportPage: Page(
                        columnMappings: columns.map {
                            Mapping(
                                columnObjectTypeId: objectTypeId, columnName: $0, propertyName: $0,
                                idColumnType: $0 == idProperty ? "HUBSPOT_ALTERNATE_ID" : nil)
                        }))
            ])
        let boundary = "hubspot-gateway-\(UUID().uuidString)"
        var body: [UInt8] = []
        func part(_ name: String, filename: String?, type: String, _ content: [UInt8]) {
            body += Array("--\(boundary)\r\n".utf8)
            body += Array(
                "Content-Disposition: form-data; name=\"\(name)\"\(filename.map { "; filename=\"\($0)\"" } ?? "")\r\n"
                    .utf8)
            body += Array("Content-Type: \(type)\r\n\r\n".utf8)
            body += content
            body += Array("\r\n".utf8)
        }
        part(
            "importRequest", filename: nil, type: "application/json", Array(try JSONCoding.encoder.encode(description)))
        part("files", filename: "records.csv", type: "text/csv", csv)
        body += Array("--\(boundary)--\r\n".utf8)
        return try await exchange(
            .post, path(.imports, ""), query: QueryItems(), rawBody: body,
            contentType: "multipart/form-data; boundary=\(boundary)", endpoint: "imports.create", options: options,
            idempotentDefault: false
        ).0
    }

    /// `GET /crm/v3/imports/{id}`.
    public func importStatus(_ id: String, options: CallOptions = .init()) async throws -> ImportStatus {
        try await call(
            .get, path(.imports, "/\(try segment(id))"), endpoint: "imports.get", options: options,
            idempotentDefault: true)
    }

    /// `GET /crm/v3/imports/{id}/errors`: one page of the rows HubSpot refused.
    public func importErrors(_ id: String, after: String?, options: CallOptions = .init()) async throws
        -> ImportErrorPage
    {
        var query = QueryItems()
        query.add("limit", "500")
        query.add("after", after)
        return try await call(
            .get, path(.imports, "/\(try segment(id))/errors"), query: query, endpoint: "imports.errors",
            options: options, idempotentDefault: true)
    }
}
