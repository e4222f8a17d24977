import Foundation
import GatewayAPI
import GatewayProto
import GRPCCore
import GRPCInProcessTransport
import HubSpotAPI
import SwiftProtobuf
import Testing
import TestSupport
import Time

/// `ObjectsService.ExportChanged` against hubspot-sim's seeded records (a minute apart, each
/// contact associated with a company), through the whole gRPC stack.
@Suite struct ExportChangedTests {
    typealias Request = Hubspot_Gateway_V1_ExportChangedRequest
    typealias Exported = Hubspot_Gateway_V1_ExportedRecord

    struct Run {
        var records: [Exported] = []
        var trailers: Metadata = [:]
        var ids: [String] { records.map(\.object.id) }
        var resumeCursor: String? { trailers.firstString(ExportTrailers.resumeCursor) }
    }

    /// Runs an export; with `stopAfter`, disconnects after that many records.
    static func export(_ rig: GatewayRig, _ request: Request, stopAfter: Int? = nil) async throws -> Run {
        try await rig.objects.exportChanged(request, metadata: GatewayRig.metadata(key: GatewayRig.readerKey)) {
            response in
            var run = Run()
            for try await part in response.bodyParts {
                switch part {
                case .message(let record):
                    run.records.append(record)
                    if run.records.count == stopAfter { return run }
                case .trailingMetadata(let trailers):
                    run.trailers = trailers
                }
            }
            return run
        }
    }

    /// Every live contact id in the simulator, through ListObjects.
    static func allContactIds(_ rig: GatewayRig) async throws -> Set<String> {
        var ids: Set<String> = []
        var cursor = ""
        repeat {
            let page = try await rig.objects.listObjects(
                .with {
                    $0.objectType = "contacts"
                    $0.page = .with {
                        $0.pageSize = 100
                        $0.cursor = cursor
                    }
                }, metadata: GatewayRig.metadata(key: GatewayRig.readerKey))
            ids.formUnion(page.objects.map(\.id))
            cursor = page.page.nextCursor
        } while !cursor.isEmpty
        return ids
    }

    static func modified(_ record: Exported) -> String { record.object.properties["lastmodifieddate"] ?? "" }

    @Test func aFullExportHandsOutEveryRecordOnceAndResumesExactlyFromAnyCursor() async throws {
        try await GatewayRig.with(contacts: 450, generalPerSecond: 50) { rig in
            let all = try await Self.allContactIds(rig)
            let request = Request.with {
                $0.objectType = "contacts"
                $0.properties = ["email"]
                $0.fullLoad = .listWalk
            }
            let first = try await Self.export(rig, request, stopAfter: 130)
            #expect(first.records.count == 130)
            func from(_ cursor: String) -> Request {
                var resume = request
                resume.cursor = cursor
                return resume
            }
            let resumed = try await Self.export(rig, from(first.records.last!.cursor))
            let ids = first.ids + resumed.ids
            #expect(ids.count == all.count, "no record twice")
            #expect(Set(ids) == all, "no record missed")
            #expect(resumed.trailers.firstString(ExportTrailers.records) == String(all.count - 130))
            #expect(resumed.records.allSatisfy { $0.object.properties["email"]?.isEmpty == false })
            // Resuming from a cursor in the middle of a list page skips exactly what came before.
            let again = try await Self.export(rig, from(first.records[57].cursor))
            #expect(again.ids == Array((first.ids + resumed.ids)[58...]))
            // The walk made one list call per 100 records, and said so.
            let calls = Int(resumed.trailers.firstString(ExportTrailers.hubSpotCalls) ?? "") ?? 0
            #expect((4...6).contains(calls), "\(calls) calls for 320 records")
            #expect(resumed.resumeCursor != nil)
        }
    }

    @Test func aFullLoadReadsHubSpotsExportFileInAFewCallsAndResumesFromARowInTheMiddle() async throws {
        // Ranges of 4 KiB: the file (about 30 KiB) comes in many, rows cut across them.
        try await GatewayRig.with(contacts: 450, generalPerSecond: 50, exportFileChunkBytes: 4096) { rig in
            let all = try await Self.allContactIds(rig)
            let listCalls = try await rig.answeredOK("objects.list")
            let request = Request.with {
                $0.objectType = "contacts"
                $0.properties = ["email"]
                $0.associationTypes = ["companies"]
            }
            let first = try await Self.export(rig, request, stopAfter: 130)
            var resume = request
            resume.cursor = try #require(first.records.last?.cursor)
            let rest = try await Self.export(rig, resume)
            let ids = first.ids + rest.ids
            #expect(ids.count == all.count, "no record twice")
            #expect(Set(ids) == all, "no record missed")
            #expect(
                rest.records.allSatisfy { $0.associations["companies"]?.associations.count == 1 }, "each its company")
            // The resume read the same file from the row after the cut: one export, no list walk.
            #expect(rest.trailers.firstString(ExportTrailers.fullLoad) == nil, "decided by the first run")
            #expect(try await rig.answeredOK("exports.start") == 1)
            #expect(try await rig.answeredOK("objects.list") == listCalls, "no list walk")
            let exports = try await rig.simulatorAdmin.send(
                HTTPRequest(method: .get, url: rig.simulatorURL + "/_sim/exports"), timeout: .seconds(30))
            let tasks = try JSONSerialization.jsonObject(with: Data(exports.body)) as? [String: Any]
            let task = try #require((tasks?["tasks"] as? [[String: Any]])?.last)
            #expect(task["rows"] as? Int == 450)
            #expect((task["downloads"] as? Int ?? 0) >= 8, "read range by range: \(task)")
        }
    }

    @Test func sinceAMomentHandsOutLaterChangesInModificationOrderAndLeavesUnsettledOnesToTheNextRun() async throws {
        try await GatewayRig.with(contacts: 300, generalPerSecond: 50) { rig in
            let everything = try await Self.export(
                rig,
                .with {
                    $0.objectType = "contacts"
                    $0.properties = ["lastmodifieddate"]
                })
            let times = everything.records.map(Self.modified).sorted()
            let since = try #require(HubSpotTimestamp.parse(times[200]))
            let later = try await Self.export(
                rig,
                .with {
                    $0.objectType = "contacts"
                    $0.sinceTime = Google_Protobuf_Timestamp(date: since)
                })
            #expect(later.records.count == 100)
            let keys = later.records.map { (Self.modified($0), Int64($0.object.id)!) }
            #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 < $1 }, "(modification, id) order")
            #expect(keys.allSatisfy { HubSpotTimestamp.parse($0.0)! >= since })
            // A change made now is younger than the settle time: the next run gets it.
            let created = try await rig.objects.createObject(
                .with {
                    $0.objectType = "contacts"
                    $0.properties = ["email": "fresh@example.com"]
                }, metadata: GatewayRig.metadata())
            let next = try await Self.export(
                rig,
                .with {
                    $0.objectType = "contacts"
                    $0.cursor = try #require(later.resumeCursor)
                })
            #expect(!next.ids.contains(created.object.id))
            #expect(next.records.isEmpty, "nothing settled changed since")
        }
    }

    @Test func associationsAndArchivedRecordsComeWhenAskedFor() async throws {
        try await GatewayRig.with(contacts: 120, generalPerSecond: 50) { rig in
            let archived = Array(rig.ids.prefix(2))
            for id in archived {
                _ = try await rig.objects.archiveObject(
                    .with {
                        $0.objectType = "contacts"
                        $0.id = id
                    }, metadata: GatewayRig.metadata())
            }
            let run = try await Self.export(
                rig,
                .with {
                    $0.objectType = "contacts"
                    $0.includeArchived = true
                    $0.associationTypes = ["companies"]
                    $0.fullLoad = .listWalk
                })
            let live = run.records.filter { !$0.archived }
            #expect(live.count == 118)
            #expect(live.allSatisfy { $0.associations["companies"]?.associations.count == 1 }, "each its company")
            #expect(Set(run.records.filter(\.archived).map(\.object.id)) == Set(archived))
            // 2 list pages, 2 association batch reads, 1 archived list page.
            #expect(run.trailers.firstString(ExportTrailers.hubSpotCalls) == "5")
            #expect(try await rig.answeredOK("associations.batch.read") == 2, "none for archived records")
        }
    }

    @Test func aCursorThatIsNotOneOrBelongsToAnotherTypeIsInvalidArgument() async throws {
        try await GatewayRig.with(contacts: 5) { rig in
            let garbage = await rpcError {
                _ = try await Self.export(
                    rig,
                    .with {
                        $0.objectType = "contacts"
                        $0.cursor = "not-a-cursor"
                    })
            }
            #expect(garbage?.code == .invalidArgument)
            #expect(garbage?.message.contains("cursor") == true)
            let contacts = try await Self.export(rig, .with { $0.objectType = "contacts" }, stopAfter: 1)
            let wrongType = await rpcError {
                _ = try await Self.export(
                    rig,
                    .with {
                        $0.objectType = "companies"
                        $0.cursor = contacts.records[0].cursor
                    })
            }
            #expect(wrongType?.code == .invalidArgument)
            #expect(wrongType?.message.contains("contacts") == true)
        }
    }

    @Test func getStatusShowsARunningExportAndItsProgress() async throws {
        try await GatewayRig.with(contacts: 250, generalPerSecond: 50) { rig in
            // A full export walks the list 100 at a time; its second page hangs, so the export
            // is still running, with exactly the first page handed out, whenever the client asks.
            try await rig.faults(
                #"{"rules": [{"endpoint": "objects.list", "latency": "60000", "afterRequests": 1}]}"#)
            let status = try await rig.objects.exportChanged(
                .with {
                    $0.objectType = "contacts"
                    $0.fullLoad = .listWalk
                }, metadata: GatewayRig.metadata(key: GatewayRig.readerKey)
            ) { response -> Hubspot_Gateway_V1_GetStatusResponse? in
                var received = 0
                for try await _ in response.messages {
                    received += 1
                    guard received == 100 else { continue }
                    // The server counts a record once its write returned, and a call before it is
                    // made: wait for both counts.
                    var seen: Hubspot_Gateway_V1_GetStatusResponse?
                    try await eventually("GetStatus shows the first page handed out") {
                        seen = try await rig.admin.getStatus(
                            .init(), metadata: GatewayRig.metadata(key: GatewayRig.adminKey))
                        return seen?.exports.first.map { $0.records == 100 && $0.hubspotCalls == 2 } ?? false
                    }
                    return seen
                }
                return nil
            }
            let export = try #require(status?.exports.first)
            #expect(export.objectType == "contacts")
            #expect(export.records == 100 && export.hubspotCalls == 2, "the first page, and the second that hangs")
            // That the export ends when its caller leaves is pinned over HTTP/2 (test_export.py):
            // the in-process transport does not tell the server that a client went away.
        }
    }
}
