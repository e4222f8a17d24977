import Foundation

/// HubSpot's CRM exports: a whole object type written to a CSV file on HubSpot's side, in a
/// handful of calls, downloaded from a URL outside the API (and its budget).
extension HubSpotClient {
    /// An export task's state: `PENDING`, `PROCESSING`, `COMPLETE`, `CANCELED` (or `FAILED`).
    public struct ExportTaskStatus: Decodable, Sendable {
        public var status: String
        /// The file's download URL once `COMPLETE`; it expires within minutes.
        public var result: String?

        public var isComplete: Bool { status == "COMPLETE" }
        public var isFinished: Bool { ["COMPLETE", "CANCELED", "FAILED"].contains(status) }
    }

    /// `POST /crm/v3/exports/export/async`: a CSV of every record of `objectType` with these
    /// properties, headed by internal names and holding internal values (`NAMES`, `VALUES`).
    /// Returns the task id. Not idempotent: a retry starts a second export.
    public func startExport(
        objectType: String, properties: [String], name: String, options: CallOptions = .init()
    ) async throws -> String {
        struct Request: Encodable {
            var exportType = "VIEW"
            var format = "CSV"
            var exportName: String
            var language = "EN"
            var objectType: String
            var objectProperties: [String]
            var exportInternalValuesOptions = ["NAMES", "VALUES"]
        }
        struct Answer: Decodable { var id: String }
        let answer: Answer = try await call(
            .post, path(.exports, "/export/async"),
            body: Request(exportName: name, objectType: objectType, objectProperties: properties),
            endpoint: "exports.start", options: options, idempotentDefault: false)
        return answer.id
    }

    /// `GET /crm/v3/exports/export/async/tasks/{id}/status`; a complete task's answer carries a
    /// fresh download URL each time.
    public func exportStatus(_ id: String, options: CallOptions = .init()) async throws -> ExportTaskStatus {
        try await call(
            .get, path(.exports, "/export/async/tasks/\(try segment(id))/status"), endpoint: "exports.status",
            options: options, idempotentDefault: true)
    }

    /// One part of an export file.
    public struct ExportFileChunk: Sendable {
        public var bytes: [UInt8]
        /// The file's size, when the server said (`Content-Range`).
        public var total: Int?
        /// The server sent the whole file instead of the range asked for.
        public var isWholeFile: Bool
        public var contentType: String?
    }

    /// Why a download failed.
    public enum ExportDownloadError: Error, Sendable, CustomStringConvertible {
        /// The URL was refused (403/404/410): it expired; a status read hands out another.
        case expired(status: Int)
        case failed(status: Int)
        case refusedURL(String)

        public var description: String {
            switch self {
            case .expired(let status): "the export's download URL was refused (HTTP \(status)); it has expired"
            case .failed(let status): "the export file's download failed with HTTP \(status)"
            case .refusedURL(let url): "the export's download URL is not https: \(url)"
            }
        }
    }

    /// Bytes `offset..<offset+length` of an export file, by an HTTP range request on its
    /// download URL. The URL is signed by HubSpot: the token is never sent with it, and no
    /// budget is spent (it is not an API call). Only https URLs are followed, besides the
    /// configured base URL's own origin (a simulator on plain HTTP).
    public func downloadExportFile(_ url: String, offset: Int, length: Int, timeout: Duration) async throws
        -> ExportFileChunk
    {
        guard url.hasPrefix("https://") || url.hasPrefix(Self.origin(of: configuration.baseURL) + "/") else {
            throw ExportDownloadError.refusedURL(url)
        }
        let response = try await transport.send(
            HTTPRequest(
                method: .get, url: url, headers: [("Range", "bytes=\(offset)-\(offset + length - 1)")], body: nil),
            timeout: timeout)
        switch response.status {
        case 206:
            let total = response.header("Content-Range").flatMap { $0.split(separator: "/").last }.flatMap { Int($0) }
            return ExportFileChunk(
                bytes: response.body, total: total, isWholeFile: false, contentType: response.header("Content-Type"))
        case 200:
            return ExportFileChunk(
                bytes: response.body, total: response.body.count, isWholeFile: true,
                contentType: response.header("Content-Type"))
        case 416:
            // Past the end: an empty file, or a file that ended exactly at the last chunk.
            return ExportFileChunk(bytes: [], total: offset, isWholeFile: false, contentType: nil)
        case 403, 404, 410:
            throw ExportDownloadError.expired(status: response.status)
        default:
            throw ExportDownloadError.failed(status: response.status)
        }
    }

    /// `scheme://host[:port]` of a URL.
    static func origin(of url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let host = rest.prefix { $0 != "/" }
        return String(url[..<schemeEnd.upperBound]) + host
    }
}
