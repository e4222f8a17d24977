import Foundation
@testable import GatewayCore
import HubSpotAPI
import HubSpotSimulator
import Testing
import TestSupport

/// Batch writes against an in-process hubspot-sim.
@Suite struct BatchWriteCoalescerTests {
    func coalescer(
        _ client: HubSpotClient, log: CallLog, traceIds: Bool = true,
        admit: @escaping BatchWriteCoalescer.Admit = { _ in }
    ) -> BatchWriteCoalescer {
        BatchWriteCoalescer(useWriteTraceIds: traceIds, admit: admit) { request, deadline in
            log.record(request.writes.count)
            return try await request.send(with: client, options: CallOptions(deadline: deadline))
        }
    }

    /// Creates `count` contacts concurrently (admission held until all joined); the input at
    /// each index of `bad` has an invalid email.
    func createConcurrently(
        _ coalescer: BatchWriteCoalescer, count: Int, bad: Set<Int>, gate: Gate,
        tag: String = UUID().uuidString.prefix(8).lowercased()
    )
        async -> [Result<HubSpotObject, any Error>]
    {
        await withTaskGroup(of: (Int, Result<HubSpotObject, any Error>).self) { group in
            for index in 0..<count {
                group.addTask {
                    let email = bad.contains(index) ? "not-an-email-\(index)" : "writer\(index)-\(tag)@example.com"
                    let result = await outcome {
                        try await coalescer.write(
                            type: "contacts", .create(properties: ["email": email, "firstname": "W\(index)"]),
                            deadline: .now + .seconds(20))
                    }
                    return (index, result)
                }
            }
            await waitUntil { coalescer.waitingCount == count }
            gate.open()
            var results = [Result<HubSpotObject, any Error>?](repeating: nil, count: count)
            for await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
    }

    @Test func concurrentCreatesShareBatchCallsAndEachGetsItsOwnRecord() async throws {
        try await withSeededSimulator(contacts: 0) { client, _ in
            let log = CallLog()
            let gate = Gate()
            let results = await createConcurrently(
                coalescer(client, log: log) { _ in await gate.wait() }, count: 250, bad: [], gate: gate)
            #expect(log.all == [100, 100, 50])
            for (index, result) in results.enumerated() {
                let object = try result.get()
                #expect(object.properties["firstname"] == "W\(index)", "input \(index) got someone else's record")
            }
            #expect(Set(results.compactMap { try? $0.get().id }).count == 250)
        }
    }

    @Test func withTraceIdsOneBadInputFailsAloneInOneCall() async throws {
        try await withSeededSimulator(contacts: 0) { client, _ in
            let log = CallLog()
            let gate = Gate()
            let results = await createConcurrently(
                coalescer(client, log: log) { _ in await gate.wait() }, count: 40, bad: [17], gate: gate)
            #expect(log.all == [40])
            for (index, result) in results.enumerated() {
                if index == 17 {
                    #expect(throws: HubSpotError.self) { try result.get() }
                    if case .failure(let error as HubSpotError) = result {
                        #expect(error.status == 400 && error.message.contains("not-an-email-17"))
                    }
                } else {
                    #expect((try? result.get())?.properties["firstname"] == "W\(index)")
                }
            }
        }
    }

    @Test func withoutTraceIdsABadInputIsFoundBySplittingAndTheGoodOnesAreWrittenOnce() async throws {
        try await withSeededSimulator(contacts: 0) { client, _ in
            let log = CallLog()
            let gate = Gate()
            let results = await createConcurrently(
                coalescer(client, log: log, traceIds: false) { _ in await gate.wait() }, count: 64, bad: [45],
                gate: gate)
            // 1 whole batch + at most 2 calls per halving (6 halvings of 64), and only 1 where the
            // left half went through (the right one is then known bad and not sent).
            #expect(log.all.count <= 13, "calls: \(log.all)")
            #expect(log.all.first == 64)
            let failed = results.indices.filter { if case .failure = results[$0] { true } else { false } }
            #expect(failed == [45])
            let page = try await client.listObjects("contacts", limit: 100)
            #expect(page.results.count == 63, "each good input written exactly once")
        }
    }

    @Test func twoBadInputsWithTheSameErrorDoNotTakeTheGoodOnesDown() async throws {
        try await withSeededSimulator(contacts: 0) { client, _ in
            let log = CallLog()
            let gate = Gate()
            let writer = coalescer(client, log: log, traceIds: false) { _ in await gate.wait() }
            let results = await withTaskGroup(of: (Int, Result<HubSpotObject, any Error>).self) { group in
                for index in 0..<32 {
                    // Inputs 3 and 20 carry the same invalid email: identical error messages.
                    let email =
                        index == 3 || index == 20 ? "broken" : "dup\(index)-\(UUID().uuidString.prefix(6))@example.com"
                    group.addTask {
                        (
                            index,
                            await outcome {
                                try await writer.write(
                                    type: "contacts", .create(properties: ["email": email]),
                                    deadline: .now + .seconds(10))
                            }
                        )
                    }
                }
                await waitUntil { writer.waitingCount == 32 }
                gate.open()
                return await group.reduce(into: [Int: Result<HubSpotObject, any Error>]()) { $0[$1.0] = $1.1 }
            }
            let failed = results.filter { if case .failure = $0.value { true } else { false } }.keys.sorted()
            #expect(failed == [3, 20], "calls: \(log.all)")
        }
    }

    @Test func anErrorEveryInputSharesIsNotSplitIntoACallPerInput() async throws {
        try await withSeededSimulator(contacts: 0) { client, _ in
            let log = CallLog()
            let gate = Gate()
            let writer = coalescer(client, log: log, traceIds: false) { _ in await gate.wait() }
            let results = await withTaskGroup(of: Result<HubSpotObject, any Error>.self) { group in
                for index in 0..<16 {
                    group.addTask {
                        await outcome {
                            try await writer.write(
                                type: "contacts",
                                .create(properties: ["email": "x\(index)@example.com", "no_such_property": "1"]),
                                deadline: .now + .seconds(10))
                        }
                    }
                }
                await waitUntil { writer.waitingCount == 16 }
                gate.open()
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(
                results.allSatisfy {
                    if case .failure(let error as HubSpotError) = $0 { error.status == 400 } else { false }
                })
            #expect(
                log.all == [16, 8, 8, 4, 4, 4, 4], "the whole batch, its halves and quarters, not one call per input")
        }
    }

    @Test func twoUpdatesOfOneRecordNeverShareABatchAndLandInOrder() async throws {
        try await withSeededSimulator(contacts: 2) { client, ids in
            let log = CallLog()
            let gate = Gate()
            let writer = coalescer(client, log: log) { _ in await gate.wait() }
            async let first = writer.write(
                type: "contacts", .update(id: ids[0], properties: ["firstname": "First"]), deadline: .now + .seconds(10)
            )
            await waitUntil { writer.waitingCount == 1 }
            async let other = writer.write(
                type: "contacts", .update(id: ids[1], properties: ["firstname": "Other"]), deadline: .now + .seconds(10)
            )
            async let second = writer.write(
                type: "contacts", .update(id: ids[0], properties: ["firstname": "Second"]),
                deadline: .now + .seconds(10))
            await waitUntil { writer.waitingCount == 3 }
            gate.open()
            let (a, b, c) = try await (first, other, second)
            #expect(a.id == ids[0] && b.id == ids[1] && c.id == ids[0])
            #expect(log.all == [2, 1])
            let stored = try await client.getObject("contacts", id: ids[0], properties: ["firstname"])
            #expect(stored.properties["firstname"] == "Second")
        }
    }

    @Test func upsertsAreMatchedToTheirInputsByTheUniqueProperty() async throws {
        try await withSeededSimulator(contacts: 0) { client, _ in
            let log = CallLog()
            let gate = Gate()
            let writer = coalescer(client, log: log) { _ in await gate.wait() }
            let existing = try await client.createObject(
                "contacts", properties: ["email": "known@example.com", "firstname": "Old"])
            async let updated = writer.write(
                type: "contacts",
                .upsert(idProperty: "email", value: "Known@example.com", properties: ["firstname": "New"]),
                deadline: .now + .seconds(10))
            async let created = writer.write(
                type: "contacts",
                .upsert(idProperty: "email", value: "fresh@example.com", properties: ["firstname": "Fresh"]),
                deadline: .now + .seconds(10))
            await waitUntil { writer.waitingCount == 2 }
            gate.open()
            let (u, c) = try await (updated, created)
            #expect(u.id == existing.id && u.properties["firstname"] == "New")
            #expect(c.id != existing.id && c.properties["firstname"] == "Fresh")
            #expect(log.all == [2])
        }
    }
}

/// The result of an async throwing call, for collecting many in a task group.
func outcome<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}
