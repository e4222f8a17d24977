import Foundation
import GatewayAPI
import GatewayCore
import GatewayProto
import GRPCCore
import RedisClient
import SwiftProtobuf
import Testing
import TestSupport
import WriteJobs

/// Durable write jobs through the gRPC API, a real redis-server and the simulator: stored, then
/// written in batches by the workers, every record with its result.
@Suite struct JobsTests {
    static func contact(_ email: String, key: String, _ extra: [String: String] = [:]) -> Hubspot_Gateway_V1_JobInput {
        .with {
            $0.objectType = "contacts"
            $0.operation = .create
            $0.idProperty = "email"
            $0.properties = ["email": email, "firstname": "Job"].merging(extra) { $1 }
            $0.recordKey = key
        }
    }

    static func submit(_ rig: GatewayRig, _ inputs: [Hubspot_Gateway_V1_JobInput], key: String = GatewayRig.writerKey)
        async throws -> Hubspot_Gateway_V1_Job
    {
        try await rig.jobs.submitWrites(
            metadata: GatewayRig.metadata(key: key),
            requestProducer: { writer in try await writer.write(contentsOf: inputs) }
        ) { try $0.message }
    }

    /// The job's progress messages until it ends.
    static func watch(_ rig: GatewayRig, _ id: String) async throws -> [Hubspot_Gateway_V1_Job] {
        try await rig.jobs.watchJob(.with { $0.jobID = id }, metadata: GatewayRig.metadata()) { response in
            var seen: [Hubspot_Gateway_V1_Job] = []
            for try await job in response.messages { seen.append(job) }
            return seen
        }
    }

    static func results(_ rig: GatewayRig, _ id: String, from: Int64 = 0) async throws
        -> [Hubspot_Gateway_V1_RecordResult]
    {
        try await rig.jobs.jobResults(
            .with {
                $0.jobID = id
                $0.fromPosition = from
            }, metadata: GatewayRig.metadata()
        ) { response in
            var results: [Hubspot_Gateway_V1_RecordResult] = []
            for try await result in response.messages { results.append(result) }
            return results
        }
    }

    @Test func aJobOfCreatesIsWrittenInBatchesOfAHundredAndEveryRecordHasItsResultInOrder() async throws {
        try await GatewayRig.with(contacts: 0, generalPerSecond: 50, jobWorkers: 2) { rig in
            let inputs = (0..<250).map { Self.contact("job\($0)@example.com", key: "k\($0)") }
            let job = try await Self.submit(rig, inputs)
            #expect(job.records == 250 && [.queued, .running, .done].contains(job.state))
            let progress = try await Self.watch(rig, job.id)
            let last = try #require(progress.last)
            #expect(last.state == .done && last.done == 250 && last.failed == 0 && last.queued == 0)
            let results = try await Self.results(rig, job.id)
            #expect(results.map(\.position) == Array(0..<250))
            #expect(results.map(\.recordKey) == (0..<250).map { "k\($0)" })
            #expect(results.allSatisfy { $0.outcome == .created && !$0.id.isEmpty })
            // Resumable by position.
            let tail = try await Self.results(rig, job.id, from: 240)
            #expect(tail.map(\.position) == Array(240..<250))
            let calls = try await rig.answeredOK("objects.batch.upsert")
            #expect(calls == 3, "250 records in three batch calls")
        }
    }

    @Test func invalidRecordsFailWithTheirReasonAndTheOthersAreWritten() async throws {
        try await GatewayRig.with(contacts: 0, generalPerSecond: 50, jobWorkers: 1) { rig in
            var inputs = (0..<20).map { Self.contact("mixed\($0)@example.com", key: "m\($0)") }
            inputs[3].properties["shoe_size"] = "44"
            inputs[11].properties["shoe_size"] = "45"
            let job = try await Self.submit(rig, inputs)
            let last = try #require(try await Self.watch(rig, job.id).last)
            #expect(last.state == .done && last.done == 18 && last.failed == 2)
            let results = try await Self.results(rig, job.id)
            let failed = results.filter { $0.outcome == .failed }
            #expect(failed.map(\.position) == [3, 11])
            #expect(failed.allSatisfy { $0.errorReason == "INVALID_PROPERTY" && $0.errorMessage.contains("shoe_size") })
        }
    }

    @Test func aJobIsRefusedWholeNamingItsFirstBadRecordAndNothingIsStored() async throws {
        try await GatewayRig.with(contacts: 0, jobWorkers: 1) { rig in
            var inputs = (0..<3).map { Self.contact("r\($0)@example.com", key: "r\($0)") }
            inputs[1].idProperty = ""
            let refused = await rpcError { _ = try await Self.submit(rig, inputs) }
            #expect(refused?.code == .invalidArgument)
            #expect(refused?.message.contains("records[1]") == true && refused?.message.contains("id_property") == true)
            #expect(refused?.metadata.firstString(GatewayErrors.Key.invalidField) == "records[1]")
            let analytics = await rpcError {
                _ = try await Self.submit(rig, [Self.contact("a@example.com", key: "a")], key: GatewayRig.readerKey)
            }
            #expect(analytics?.code == .permissionDenied)
            let calls = try await rig.answeredOK("objects.batch.upsert")
            #expect(calls == 0)
        }
    }

    @Test func aSingleWriteIsAJobAnsweredAtOnceAndWrittenInTheBackground() async throws {
        try await GatewayRig.with(contacts: 0, jobWorkers: 1) { rig in
            let job = try await rig.jobs.submitWrite(
                .with { $0.input = Self.contact("one@example.com", key: "one") }, metadata: GatewayRig.metadata())
            #expect(job.records == 1)
            let last = try #require(try await Self.watch(rig, job.id).last)
            #expect(last.state == .done && last.done == 1)
            let result = try #require(try await Self.results(rig, job.id).first)
            #expect(result.outcome == .created && result.recordKey == "one" && !result.id.isEmpty)
        }
    }

    @Test func onlyTheSubmittingServiceSeesOrCancelsItsJob() async throws {
        try await GatewayRig.with(contacts: 0, jobWorkers: 0) { rig in
            let job = try await Self.submit(rig, [Self.contact("mine@example.com", key: "mine")])
            let other = GatewayRig.metadata(key: GatewayRig.contactsOnlyKey)
            let read = await rpcError { _ = try await rig.jobs.getJob(.with { $0.jobID = job.id }, metadata: other) }
            #expect(read?.code == .notFound && read?.metadata.firstString(GatewayErrors.Key.reason) == "JOB_NOT_FOUND")
            let cancel = await rpcError {
                _ = try await rig.jobs.cancelJob(.with { $0.jobID = job.id }, metadata: other)
            }
            #expect(cancel?.code == .notFound)
            let mine = try await rig.jobs.getJob(.with { $0.jobID = job.id }, metadata: GatewayRig.metadata())
            #expect(mine.state == .queued && mine.queued == 1)
        }
    }

    @Test func aCancelledJobWritesNothingMoreAndItsRestIsCancelled() async throws {
        try await GatewayRig.with(contacts: 0, jobWorkers: 0) { rig in
            let inputs = (0..<300).map { Self.contact("c\($0)@example.com", key: "c\($0)") }
            let job = try await Self.submit(rig, inputs)
            let cancelled = try await rig.jobs.cancelJob(.with { $0.jobID = job.id }, metadata: GatewayRig.metadata())
            #expect(cancelled.state == .cancelled)
            // Workers start after the cancel: they take every batch and write none of it.
            let working = Task { await rig.workers.workAll() }
            try await eventually("every record has its result") {
                try await rig.jobs.getJob(.with { $0.jobID = job.id }, metadata: GatewayRig.metadata()).failed == 300
            }
            working.cancel()
            let calls = try await rig.answeredOK("objects.batch.upsert")
            #expect(calls == 0)
            let results = try await Self.results(rig, job.id)
            #expect(results.count == 300 && results.allSatisfy { $0.outcome == .cancelled })
        }
    }

    /// A job cancelled while two workers write it: each worker finishes at most the batch it
    /// already held, and no HubSpot call is made for the job after that.
    @Test func aJobCancelledMidWayMakesAtMostTheBatchesInHandAndNoCallAfter() async throws {
        try await GatewayRig.with(contacts: 0, generalPerSecond: 3, jobWorkers: 2) { rig in
            let inputs = (0..<1_500).map { Self.contact("m\($0)@example.com", key: "m\($0)") }
            let job = try await Self.submit(rig, inputs)
            try await eventually("the workers have written part of the job", within: .seconds(30)) {
                try await rig.answeredOK("objects.batch.upsert") >= 2
            }
            let cancelled = try await rig.jobs.cancelJob(.with { $0.jobID = job.id }, metadata: GatewayRig.metadata())
            #expect(cancelled.state == .cancelled)
            // Counted after the cancel was stored: only batches taken before it may still be sent.
            let callsAtCancel = try await rig.answeredOK("objects.batch.upsert")
            try await eventually("every record has its result", within: .seconds(30)) {
                let now = try await rig.jobs.getJob(.with { $0.jobID = job.id }, metadata: GatewayRig.metadata())
                return now.done + now.failed == 1_500
            }
            let calls = try await rig.answeredOK("objects.batch.upsert")
            #expect(calls <= callsAtCancel + 2, "\(calls - callsAtCancel) calls after the cancel with 2 workers")
            let results = try await Self.results(rig, job.id)
            let written = results.filter { $0.outcome != .cancelled }.count
            #expect(results.count == 1_500)
            #expect(written == calls * 100 && results.count - written >= 1_500 - (callsAtCancel + 2) * 100)
            // The job stays ended: nothing more reaches HubSpot for it later.
            let finished = try await Self.watch(rig, job.id)
            #expect(finished.last?.state == .cancelled)
            #expect(try await rig.answeredOK("objects.batch.upsert") == calls)
        }
    }

    @Test func aBatchWhoseWorkerDiedIsTakenOverAndEachRecordWrittenOnce() async throws {
        try await GatewayRig.with(contacts: 0, generalPerSecond: 50, jobWorkers: 0, jobVisibilityTimeout: .seconds(2)) {
            rig in
            let inputs = (0..<150).map { Self.contact("t\($0)@example.com", key: "t\($0)") }
            let job = try await Self.submit(rig, inputs)
            // A worker of a replica that dies takes the first batch and never finishes it.
            let abandoned = try await rig.workers.abandonNextBatch(as: "dead-replica-0")
            #expect(abandoned)
            // The live workers write the other batch at once and the dead one's after a second.
            let working = Task { await rig.workers.workAll() }
            let last = try #require(try await Self.watch(rig, job.id).last)
            working.cancel()
            #expect(last.state == .done && last.done == 150)
            let results = try await Self.results(rig, job.id)
            #expect(results.count == 150 && Set(results.map(\.id)).count == 150)
            // Live workers keep their batches claimed while they write them: no batch twice.
            let calls = try await rig.answeredOK("objects.batch.upsert")
            #expect(calls == 2, "each batch written once")
        }
    }

    @Test func aRecordThatCannotBeReadBackFailsAloneAndABatchTakenTooOftenIsLetGo() async throws {
        try await GatewayRig.with(
            contacts: 0, generalPerSecond: 50, jobVisibilityTimeout: .seconds(1), jobMaxBatchAttempts: 1
        ) { rig in
            // The test's own damage is made with a patient client (the default 50 ms is the
            // gateway's own hot-path budget, too short on a loaded test machine).
            var configuration = try RedisConfiguration(url: rig.redisURL)
            configuration.commandTimeout = .seconds(2)
            let redis = RedisClient(configuration: configuration, logger: quietLogger())
            try await redis.waitUntilConnected()
            let key = rig.jobStore.configuration.keyPrefix + ":job:"
            // A stored record damaged in Redis: the others of its batch are written.
            let damaged = try await Self.submit(rig, (0..<3).map { Self.contact("d\($0)@example.com", key: "d\($0)") })
            _ = try await redis.send("LSET", [.init(key + damaged.id + ":in"), 1, "not a record"])
            let working = Task { await rig.workers.workAll() }
            let done = try #require(try await Self.watch(rig, damaged.id).last)
            #expect(done.done == 2 && done.failed == 1)
            let results = try await Self.results(rig, damaged.id)
            #expect(results.map(\.outcome) == [.created, .failed, .created])
            #expect(results[1].errorReason == "INTERNAL" && results[1].errorMessage.contains("read back"))
            working.cancel()
            await working.value
            // A batch whose workers keep dying on it (taken once already, the limit here): its
            // records fail and it is let go instead of being taken forever.
            let stuck = try await Self.submit(rig, [Self.contact("s@example.com", key: "s")])
            _ = try await redis.send("HSET", [.init(key + stuck.id), "attempts:0", 1])
            let again = Task { await rig.workers.workAll() }
            let given = try #require(try await Self.watch(rig, stuck.id).last)
            again.cancel()
            #expect(given.state == .done && given.failed == 1)
            let result = try #require(try await Self.results(rig, stuck.id).first)
            #expect(result.outcome == .failed && result.errorMessage.contains("taken 1 times"))
            await redis.shutdown()
        }
    }

    @Test func aLargeJobGoesThroughOneHubSpotImportWithItsRowErrorsReported() async throws {
        let count = TestScale.pick(short: 2_000, long: 50_000)
        try await GatewayRig.with(contacts: 0, jobWorkers: 1, jobImportThreshold: 1_000) { rig in
            var inputs = (0..<count).map { Self.contact("imp\($0)@example.com", key: "i\($0)") }
            // 5 %: HubSpot refuses their email (its own check), or the schema check refuses a property.
            for index in stride(from: 7, to: count, by: 20) {
                inputs[index].properties["email"] = "not-an-email-\(index)"
            }
            for index in stride(from: 13, to: count, by: 100) { inputs[index].properties["shoe_size"] = "44" }
            let job = try await Self.submit(rig, inputs)
            let last = try #require(try await Self.watch(rig, job.id).last)
            let refusedByHubSpot = Set(stride(from: 7, to: count, by: 20))
            let refusedBySchema = Set(stride(from: 13, to: count, by: 100))
            #expect(last.state == .done && Int(last.failed) == refusedByHubSpot.count + refusedBySchema.count)
            let results = try await Self.results(rig, job.id)
            #expect(results.count == count)
            for result in results {
                let position = Int(result.position)
                if refusedByHubSpot.contains(position) {
                    #expect(result.outcome == .failed && result.errorMessage.contains("INVALID_EMAIL"), "\(result)")
                } else if refusedBySchema.contains(position) {
                    #expect(result.outcome == .failed && result.errorMessage.contains("shoe_size"), "\(result)")
                } else {
                    #expect(result.outcome == .written, "\(result)")
                }
            }
            let uploads = try await rig.answeredOK("imports.create")
            let polls = try await rig.answeredOK("imports.get")
            let errorPages = try await rig.answeredOK("imports.errors")
            let batches = try await rig.answeredOK("objects.batch.upsert")
            #expect(uploads == 1 && batches == 0)
            #expect(uploads + polls + errorPages < 10, "\(count) records in \(uploads + polls + errorPages) calls")
        }
    }
}
