import CoreMetrics
import Foundation
import GatewayCore
import Logging
import RedisClient
import ServiceLifecycle

/// This replica's workers: each takes a batch of a job from the work stream (its consumer
/// group spans the fleet), writes it through the door at bulk priority as the job's service
/// (its share of the budget), records every record's result and acknowledges the batch. A
/// batch whose worker died is taken over after the visibility timeout; records that already
/// have a result are not written again, and the others are upserts or updates, so writing
/// them again has the one effect they had.
public struct WriteJobWorkers: Service {
    /// Metric names (Prometheus style).
    public enum Name {
        /// Records written or not, by `service` and `outcome` (created, updated, failed, cancelled).
        public static let records = "gateway_jobs_records_total"
        /// Jobs that ended, by `service` and `state` (done, cancelled).
        public static let finished = "gateway_jobs_finished_total"
        /// Batches taken over from a worker that stopped (its replica died).
        public static let takenOver = "gateway_jobs_batches_taken_over_total"
        /// Age of the oldest batch no worker has finished (0: none waiting), seen by this replica.
        public static let queueAge = "gateway_jobs_queue_age_seconds"
    }

    let store: WriteJobStore
    let crm: CRM
    let replicaID: String
    let logger: Logger
    let metrics: any MetricsFactory

    public init(
        store: WriteJobStore, crm: CRM, replicaID: String, logger: Logger, metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.store = store
        self.crm = crm
        self.replicaID = replicaID
        self.logger = logger
        self.metrics = metricsFactory ?? MetricsSystem.factory
    }

    /// Ends on graceful shutdown; a batch cut off then is not acknowledged, so another
    /// replica's worker takes it after the visibility timeout.
    public func run() async throws {
        try await cancelWhenGracefulShutdown { await workAll() }
    }

    /// Runs the workers until the task is cancelled (outside a ServiceGroup: tests, tools).
    public func workAll() async {
        await withDiscardingTaskGroup { group in
            for index in 0..<max(1, store.configuration.workersPerReplica) {
                group.addTask { await work(consumer: "\(replicaID)-\(index)") }
            }
            group.addTask { await measureQueueAge() }
        }
    }

    /// Takes batches until the service is cancelled; a Redis failure waits a moment.
    func work(consumer: String) async {
        var groupReady = false
        while !Task.isCancelled {
            do {
                if !groupReady {
                    try await store.redis.createGroup(
                        store.workStream, group: WriteJobStore.group, startAt: "0",
                        timeout: store.configuration.redisTimeout)
                    groupReady = true
                }
                if let entry = try await next(consumer: consumer) {
                    try await keepingClaimed(entry, as: consumer) { try await process(entry) }
                    try await store.redis.xack(
                        store.workStream, group: WriteJobStore.group, ids: [entry.id],
                        timeout: store.configuration.redisTimeout)
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning(
                    "a job worker could not finish a batch; it will be taken again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Takes the next batch for `consumer` and leaves it unfinished — what a worker whose replica
    /// dies mid-batch leaves behind (for tests and chaos drills). True when there was one.
    public func abandonNextBatch(as consumer: String) async throws -> Bool {
        try await store.redis.createGroup(
            store.workStream, group: WriteJobStore.group, startAt: "0", timeout: store.configuration.redisTimeout)
        return try await store.redis.xreadgroup(
            group: WriteJobStore.group, consumer: consumer, store.workStream, count: 1,
            timeout: store.configuration.redisTimeout
        ).first != nil
    }

    /// Runs `body` while re-claiming `entry` every third of the visibility timeout, so that a
    /// batch that takes long (a slow budget, a slow HubSpot) is not taken over from a live worker.
    func keepingClaimed(_ entry: RedisClient.StreamEntry, as consumer: String, _ body: () async throws -> Void)
        async throws
    {
        let interval = store.configuration.visibilityTimeout / 3
        let refresher = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                _ = try? await store.redis.send(
                    "XCLAIM",
                    [store.workStream, .init(WriteJobStore.group), .init(consumer), 0, .init(entry.id), "JUSTID"],
                    timeout: store.configuration.redisTimeout)
            }
        }
        defer { refresher.cancel() }
        try await body()
    }

    /// A batch a dead worker left (idle past the visibility timeout), else a new one.
    func next(consumer: String) async throws -> RedisClient.StreamEntry? {
        let abandoned = try await store.redis.xautoclaim(
            store.workStream, group: WriteJobStore.group, consumer: consumer,
            minIdle: store.configuration.visibilityTimeout, count: 1, timeout: store.configuration.redisTimeout)
        if let entry = abandoned.entries.first {
            Counter(label: Name.takenOver, factory: metrics).increment()
            logger.notice("took over a job batch from a worker that stopped", metadata: ["entry": "\(entry.id)"])
            return entry
        }
        return try await store.redis.xreadgroup(
            group: WriteJobStore.group, consumer: consumer, store.workStream, count: 1, block: .seconds(1),
            timeout: .seconds(1) + store.configuration.redisTimeout
        ).first
    }

    /// Writes one batch and records its results.
    func process(_ entry: RedisClient.StreamEntry) async throws {
        func field(_ name: String) -> String? {
            entry.fields.first { $0.0 == name }.map { String(decoding: $0.1, as: UTF8.self) }
        }
        guard let id = field("job"), let start = field("start").flatMap({ Int($0) }),
            let count = field("count").flatMap({ Int($0) }), count > 0
        else { return }
        let key = store.jobKey(id)
        let timeout = store.configuration.redisTimeout
        guard let status = try await store.status(id) else { return }  // expired: nothing to do
        let header = try await store.redis.pipeline(
            [
                ["SADD", .init(key + ":taken"), .init(start)], ["HGET", .init(key), "weight"],
                ["HGET", .init(key), "cancelled"],
                ["LRANGE", .init(key + ":in"), .init(start), .init(start + count - 1)],
                ["HMGET", .init(key + ":out")] + (start..<(start + count)).map { RESPArgument($0) },
                ["HINCRBY", .init(key), .init("attempts:\(start)"), 1],
            ], timeout: timeout)
        if header[0].integer == 1 {
            _ = try await store.redis.pipeline(
                [
                    ["HINCRBY", .init(key), "started", .init(count)],
                    ["HSETNX", .init(key), "first", .init(Int(Date().timeIntervalSince1970 * 1000))],
                    ["EXPIRE", .init(key + ":taken"), .init(Int(store.configuration.retention.components.seconds))],
                ], timeout: timeout)
        }
        let weight = header[1].string.flatMap { Double($0) } ?? 1
        let cancelled = header[2].string == "1"
        let attempts = header[5].integer ?? 1
        let decoder = JSONDecoder()
        var records: [(position: Int, record: JobRecord?)] = []
        for (offset, value) in (header[3].array ?? []).enumerated() {
            guard case .bulkString(let bytes) = value else { continue }
            let written = header[4].array.map { offset < $0.count && $0[offset] != .null } ?? false
            if !written { records.append((start + offset, try? decoder.decode(JobRecord.self, from: Data(bytes)))) }
        }
        guard !records.isEmpty else { return }
        // A batch taken again and again (its workers crash on it) must not keep the workers busy
        // forever, nor a record that cannot be read back: those fail with the reason.
        func failed(_ position: Int, _ key: String, _ message: String) -> JobRecordResult {
            JobRecordResult(
                position: position, recordKey: key, outcome: .failed, errorReason: GatewayErrorReason.internal.rawValue,
                errorMessage: message)
        }
        if attempts > store.configuration.maxBatchAttempts {
            logger.error(
                "gave up a job batch", metadata: ["job": "\(id)", "start": "\(start)", "attempts": "\(attempts)"])
            try await record(
                records.map {
                    failed(
                        $0.position, $0.record?.recordKey ?? "",
                        "the batch was taken \(attempts - 1) times without being finished; submit these records again")
                }, of: id, service: status.service)
            return
        }
        let unreadable = records.filter { $0.record == nil }.map {
            failed($0.position, "", "the stored record could not be read back")
        }
        let readable = records.compactMap { position, record in record.map { (position: position, record: $0) } }
        var results: [JobRecordResult] = unreadable
        if cancelled {
            results += readable.map {
                JobRecordResult(position: $0.position, recordKey: $0.record.recordKey, outcome: .cancelled)
            }
        } else if !readable.isEmpty {
            // As the job's service: its object-type access was checked at submission; its share
            // of the budget applies.
            let caller = Caller(service: status.service, scopes: [.read, .write], weight: weight)
            if field("mode") == "import" {
                let (imported, calls) = try await Caller.$current.withValue(caller) {
                    try await importRecords(readable, of: id)
                }
                try await record(results + imported, of: id, service: status.service, calls: calls)
                return
            }
            results += await Caller.$current.withValue(caller) { await write(readable) }
        }
        try await record(results, of: id, service: status.service)
    }

    /// The job's records as one HubSpot import. The import's id is kept on the job as soon as
    /// HubSpot gives it, so a worker taking the batch over (this one died) polls that import
    /// instead of uploading the file again.
    func importRecords(_ records: [(position: Int, record: JobRecord)], of id: String) async throws
        -> ([JobRecordResult], calls: Int)
    {
        let key = store.jobKey(id)
        let timeout = store.configuration.redisTimeout
        let resume = try await store.redis.send("HGET", [.init(key), "importId"], timeout: timeout).string
        let first = records[0].record
        let outcome = try await crm.records.importUpserts(
            first.objectType, idProperty: first.idProperty, rows: records.map(\.record.properties),
            pollInterval: store.configuration.importPollInterval, resume: resume,
            started: { importId in
                _ = try await store.redis.send("HSET", [.init(key), "importId", .init(importId)], timeout: timeout)
            }, CallTerms(priority: .bulk, deadline: .now + store.configuration.importTimeout))
        let results = records.enumerated().map { index, entry in
            guard let refusal = outcome.refused[index] else {
                return JobRecordResult(position: entry.position, recordKey: entry.record.recordKey, outcome: .written)
            }
            return JobRecordResult(
                position: entry.position, recordKey: entry.record.recordKey, outcome: .failed,
                errorReason: GatewayFailure(classifying: refusal, subject: "the record").reason.rawValue,
                errorMessage: "\(refusal)")
        }
        return (results, outcome.calls)
    }

    /// The records through the door (one coalesced batch), then their associations.
    func write(_ records: [(position: Int, record: JobRecord)]) async -> [JobRecordResult] {
        let type = records[0].record.objectType
        let terms = CallTerms(priority: .bulk, deadline: .now + store.configuration.callTimeout)
        let written = await crm.records.write(type, records.map(\.record.write), terms)
        var results: [JobRecordResult] = []
        for ((position, record), outcome) in zip(records, written) {
            switch outcome {
            case .success(let made):
                var result = JobRecordResult(
                    position: position, recordKey: record.recordKey,
                    outcome: record.operation == .update || made.created == false ? .updated : .created, id: made.id)
                if !record.associations.isEmpty {
                    do {
                        for association in record.associations {
                            _ = try await crm.associations.associate(
                                RecordRef(type, made.id), RecordRef(association.type, association.id),
                                kinds: association.kinds.map {
                                    AssociationKind(AssociationKind.Category(hubSpotName: $0.category), $0.typeId)
                                }, terms)
                        }
                    } catch {
                        result.outcome = .failed
                        result.errorReason = GatewayFailure(classifying: error, subject: "the record").reason.rawValue
                        result.errorMessage =
                            "the record was written (id \(made.id)) but an association was not: \(error)"
                    }
                }
                results.append(result)
            case .failure(let error):
                results.append(
                    JobRecordResult(
                        position: position, recordKey: record.recordKey, outcome: .failed,
                        errorReason: GatewayFailure(classifying: error, subject: "the record").reason.rawValue,
                        errorMessage: "\(error)"))
            }
        }
        return results
    }

    /// Stores results (each position once), counts them and finishes the job when it is whole.
    func record(_ results: [JobRecordResult], of id: String, service: String, calls: Int = 1) async throws {
        let encoder = JSONEncoder()
        var arguments: [RESPArgument] = [
            .init(store.jobKey(id)), .init(Int(store.configuration.retention.components.seconds)), .init(calls),
        ]
        for result in results {
            arguments.append(.init(result.position))
            arguments.append(.init(Array(try encoder.encode(result))))
            let written = [.created, .updated, .written].contains(result.outcome)
            arguments.append(.init(written ? "done" : "failed"))
        }
        let reply = try await store.redis.evaluate(
            Self.recordScript, arguments: arguments, timeout: store.configuration.redisTimeout)
        for (outcome, count) in Dictionary(grouping: results, by: \.outcome).mapValues(\.count) {
            Counter(
                label: Name.records, dimensions: [("service", service), ("outcome", outcome.rawValue)], factory: metrics
            ).increment(by: count)
        }
        if let state = reply.string, state == "done" || state == "cancelled" {
            Counter(label: Name.finished, dimensions: [("service", service), ("state", state)], factory: metrics)
                .increment()
        }
    }

    /// Every few seconds: how long the oldest unfinished batch has waited (pending with a worker,
    /// or not yet delivered), from the stream ids' milliseconds.
    func measureQueueAge() async {
        let gauge = Gauge(label: Name.queueAge, factory: metrics)
        while !Task.isCancelled {
            if let age = try? await oldestBatchAge() { gauge.record(age / .seconds(1)) }
            try? await Task.sleep(for: .seconds(5))
        }
    }

    func oldestBatchAge() async throws -> Duration {
        let timeout = store.configuration.redisTimeout
        let replies = try await store.redis.pipeline(
            [
                ["XPENDING", store.workStream, .init(WriteJobStore.group)],
                ["XINFO", "GROUPS", store.workStream],
            ], timeout: timeout)
        var oldest: Int64?
        if let summary = replies[0].array, summary.count >= 2, let id = summary[1].string {
            oldest = Self.milliseconds(of: id)
        }
        // The first batch after the group's last delivered one.
        var lastDelivered = "0-0"
        for group in replies[1].array ?? [] {
            let fields = group.array ?? []
            guard
                fields.indices.contains(where: {
                    $0 % 2 == 0 && fields[$0].string == "name" && $0 + 1 < fields.count
                        && fields[$0 + 1].string == WriteJobStore.group
                })
            else { continue }
            for index in stride(from: 0, to: fields.count - 1, by: 2) where fields[index].string == "last-delivered-id"
            {
                lastDelivered = fields[index + 1].string ?? "0-0"
            }
        }
        let next = try await store.redis.send(
            "XRANGE", [store.workStream, .init("(" + lastDelivered), "+", "COUNT", "1"], timeout: timeout)
        if let entry = next.array?.first?.array?.first?.string, let ms = Self.milliseconds(of: entry) {
            oldest = min(oldest ?? ms, ms)
        }
        guard let oldest else { return .zero }
        return .milliseconds(max(0, Int64(Date().timeIntervalSince1970 * 1000) - oldest))
    }

    static func milliseconds(of streamId: String) -> Int64? {
        streamId.split(separator: "-").first.flatMap { Int64($0) }
    }

    /// ARGV: job key, ttl s, HubSpot calls made, then (position, result, done|failed) per
    /// record. A position that already has a result keeps it and is not counted again (a batch
    /// taken over).
    static let recordScript = RedisScript(
        """
        local key = ARGV[1]
        if redis.call('EXISTS', key) == 0 then return 0 end
        local counts = {done = 0, failed = 0}
        for i = 4, #ARGV, 3 do
          if redis.call('HSETNX', key .. ':out', ARGV[i], ARGV[i + 1]) == 1 then
            counts[ARGV[i + 2]] = counts[ARGV[i + 2]] + 1
          end
        end
        redis.call('HINCRBY', key, 'calls', tonumber(ARGV[3]))
        local done = redis.call('HINCRBY', key, 'done', counts.done)
        local failed = redis.call('HINCRBY', key, 'failed', counts.failed)
        local state = redis.call('HGET', key, 'state')
        local finished = ''
        if done + failed >= tonumber(redis.call('HGET', key, 'records')) then
          if state ~= 'cancelled' then redis.call('HSET', key, 'state', 'done') end
          -- Counted once: by the batch that completed the job (a later one adds nothing).
          if counts.done + counts.failed > 0 then
            if state == 'cancelled' then finished = 'cancelled' else finished = 'done' end
          end
        elseif state == 'queued' then
          redis.call('HSET', key, 'state', 'running')
        end
        local ttl = tonumber(ARGV[2])
        for _, suffix in ipairs({'', ':in', ':out', ':taken'}) do redis.call('EXPIRE', key .. suffix, ttl) end
        return finished
        """)
}
