import Foundation
import GatewayCore
import RedisClient

/// Settings of write jobs.
public struct WriteJobsConfiguration: Sendable {
    /// Prefix of every Redis key of jobs.
    public var keyPrefix = "hubspot-gateway:jobs"
    /// Most records one job may hold.
    public var maxRecords = 100_000
    /// How long a job and its results are kept after it was submitted (and after it finished).
    public var retention: Duration = .seconds(7 * 86_400)
    /// A batch a worker took and did not finish (its replica died) is taken by another worker
    /// after this long.
    public var visibilityTimeout: Duration = .seconds(60)
    /// Deadline of one batch's HubSpot calls (the budget at bulk priority, then HubSpot).
    public var callTimeout: Duration = .seconds(45)
    /// Workers per replica (each writes one batch at a time).
    public var workersPerReplica = 2
    /// Records per batch (HubSpot takes at most 100).
    public var batchSize = 100
    /// Jobs of at least this many creates/upserts of one type (by one unique property, without
    /// associations) are written by one HubSpot import instead of batches of 100: a handful of
    /// calls instead of hundreds. 0: never.
    public var importThreshold = 10_000
    /// How often an import's status is asked while HubSpot works it off (each ask is a call).
    public var importPollInterval: Duration = .seconds(2)
    /// How long an import may take before its job batch gives up on it (then taken again).
    public var importTimeout: Duration = .seconds(1800)
    /// Times a batch is taken (after failures or crashes) before its unwritten records fail
    /// and it is let go.
    public var maxBatchAttempts = 5
    /// Redis round trips of jobs.
    public var redisTimeout: Duration = .seconds(5)

    public init() {}
}

/// Jobs in Redis: a job hash (owner, state, counts), its records (a list, in submission order),
/// its results (a hash by position) and the work stream of batches a consumer group of every
/// replica's workers takes from. Stored before a job is acknowledged; Redis's append-only file
/// keeps it through a Redis restart.
public struct WriteJobStore: Sendable {
    let redis: RedisClient
    public let configuration: WriteJobsConfiguration

    public init(redis: RedisClient, configuration: WriteJobsConfiguration = .init()) {
        self.redis = redis
        self.configuration = configuration
    }

    static let group = "workers"
    var workStream: RESPArgument { .init(configuration.keyPrefix + ":work") }
    func jobKey(_ id: String) -> String { configuration.keyPrefix + ":job:" + id }

    // MARK: Submission

    /// The job is too large, or a record is invalid (`position` names the first).
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public var position: Int?
        public var message: String
        public var description: String { message }
    }

    /// Stores the records and queues their batches; returns once all of it is in Redis.
    public func submit(_ records: [JobRecord], caller: Caller) async throws -> WriteJobStatus {
        guard !records.isEmpty else { throw Refusal(position: nil, message: "a job needs at least one record") }
        guard records.count <= configuration.maxRecords else {
            throw Refusal(
                position: nil,
                message:
                    "a job holds at most \(configuration.maxRecords) records (this one has \(records.count)); split it")
        }
        for (position, record) in records.enumerated() {
            if let problem = record.problem {
                throw Refusal(position: position, message: "records[\(position)]: \(problem)")
            }
            for type in [record.objectType] + record.associations.map(\.type) where !caller.may(.write, type) {
                throw Refusal(
                    position: position,
                    message:
                        "records[\(position)]: service `\(caller.service)` lacks the scope crm.objects.\(ObjectTypeAliases.canonical(type)).write"
                )
            }
        }
        let id = UUID().uuidString.lowercased()
        let key = jobKey(id)
        let ttl = RESPArgument(Int(configuration.retention.components.seconds))
        let encoder = JSONEncoder()
        // The records first (an unfinished upload leaves only keys that expire), then the job
        // and its batches in one script: the job exists with all its work or not at all.
        for slice in stride(from: 0, to: records.count, by: 1000) {
            let part = records[slice..<min(records.count, slice + 1000)]
            var push: [RESPArgument] = ["RPUSH", .init(key + ":in")]
            for record in part { push.append(.init(Array(try encoder.encode(record)))) }
            _ = try await redis.pipeline(
                [push, ["EXPIRE", .init(key + ":in"), ttl]], timeout: configuration.redisTimeout)
        }
        let imported =
            configuration.importThreshold > 0 && records.count >= configuration.importThreshold
            && JobRecord.importable(records)
        var arguments: [RESPArgument] = [
            .init(key), workStream, .init(id), .init(caller.service), .init(String(caller.weight)),
            .init(records.count), .init(Int(Date().timeIntervalSince1970 * 1000)), ttl,
            .init(imported ? "import" : "batches"),
        ]
        for batch in imported ? [0..<records.count] : Self.batches(records, size: configuration.batchSize) {
            arguments.append(.init(batch.lowerBound))
            arguments.append(.init(batch.count))
        }
        // Durable (WAIT for the configured replicas) covers the records pushed before it too:
        // replication is in order.
        _ = try await redis.evaluate(
            Self.createScript, arguments: arguments, timeout: configuration.redisTimeout, durable: true)
        return try await status(id)!
    }

    /// Consecutive records that share a type and operation, at most `size` each.
    static func batches(_ records: [JobRecord], size: Int) -> [Range<Int>] {
        var batches: [Range<Int>] = []
        var start = 0
        for index in records.indices.dropFirst()
        where index - start >= size || records[index].batchKey != records[start].batchKey {
            batches.append(start..<index)
            start = index
        }
        batches.append(start..<records.count)
        return batches
    }

    /// ARGV: job key, work stream, id, service, weight, records, created ms, ttl s, mode
    /// (`batches` or `import`: one entry for the whole job), then (start, count) per batch.
    static let createScript = RedisScript(
        """
        local key = ARGV[1]
        redis.call('HSET', key, 'service', ARGV[4], 'weight', ARGV[5], 'state', 'queued', 'records', ARGV[6],
          'started', 0, 'done', 0, 'failed', 0, 'calls', 0, 'created', ARGV[7], 'cancelled', 0)
        redis.call('EXPIRE', key, tonumber(ARGV[8]))
        for i = 10, #ARGV, 2 do
          redis.call('XADD', ARGV[2], '*', 'job', ARGV[3], 'start', ARGV[i], 'count', ARGV[i + 1], 'mode', ARGV[9])
        end
        return 1
        """)

    // MARK: Reading

    /// The job, or nil when there is none (or it expired).
    public func status(_ id: String) async throws -> WriteJobStatus? {
        guard isJobId(id) else { return nil }
        let reply = try await redis.send("HGETALL", [.init(jobKey(id))], timeout: configuration.redisTimeout)
        guard let values = reply.array, !values.isEmpty else { return nil }
        var fields: [String: String] = [:]
        for index in stride(from: 0, to: values.count - 1, by: 2) {
            if let name = values[index].string { fields[name] = values[index + 1].string ?? "" }
        }
        func int(_ name: String) -> Int { Int(fields[name] ?? "") ?? 0 }
        return WriteJobStatus(
            id: id, service: fields["service"] ?? "",
            state: WriteJobStatus.State(rawValue: fields["state"] ?? "") ?? .queued,
            records: int("records"), started: int("started"), done: int("done"), failed: int("failed"),
            hubSpotCalls: int("calls"), createdAt: Date(timeIntervalSince1970: Double(int("created")) / 1000),
            firstStartedAt: fields["first"].flatMap { Double($0) }.map { Date(timeIntervalSince1970: $0 / 1000) })
    }

    /// Results from `position` on, in order, up to the first record that has none yet (or
    /// `limit`).
    public func results(_ id: String, from position: Int, limit: Int) async throws -> [JobRecordResult] {
        guard limit > 0, position >= 0 else { return [] }
        let fields = (position..<(position + limit)).map { RESPArgument($0) }
        let reply = try await redis.send(
            "HMGET", [.init(jobKey(id) + ":out")] + fields, timeout: configuration.redisTimeout)
        let decoder = JSONDecoder()
        var results: [JobRecordResult] = []
        for value in reply.array ?? [] {
            guard case .bulkString(let bytes) = value else { break }
            results.append(try decoder.decode(JobRecordResult.self, from: Data(bytes)))
        }
        return results
    }

    /// Marks the job cancelled: workers write nothing more of it.
    public func cancel(_ id: String) async throws {
        _ = try await redis.evaluate(
            Self.cancelScript, arguments: [.init(jobKey(id))], timeout: configuration.redisTimeout)
    }

    static let cancelScript = RedisScript(
        """
        if redis.call('EXISTS', ARGV[1]) == 0 then return 0 end
        if redis.call('HGET', ARGV[1], 'state') == 'done' then return 0 end
        redis.call('HSET', ARGV[1], 'cancelled', 1, 'state', 'cancelled')
        return 1
        """)

    func isJobId(_ id: String) -> Bool {
        id.count == 36 && id.allSatisfy { $0.isHexDigit || $0 == "-" }
    }
}
