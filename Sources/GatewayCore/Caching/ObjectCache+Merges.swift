import Logging
import RedisClient
import Synchronization
import Time

/// Merged records: HubSpot answers a read of a merged-away id with the record it was merged
/// into. The cache remembers that (from the change feed's merge events, or from such an
/// answer), so a read of the old id is served from the survivor's entries — which the
/// survivor's own invalidations keep current — instead of caching the survivor under the old id.
extension ObjectCache {
    func mergeKey(_ type: String, _ id: String) -> String { "\(configuration.keyPrefix):merged:\(type):\(id)" }

    /// How long a merge is remembered (a merged id never comes back; this bounds the memory).
    static let mergeMemory: Duration = .seconds(30 * 24 * 3600)

    /// Remembers that `id` was merged into `survivorId` and drops `id`'s entries.
    public func rememberMerge(type: String, id: String, into survivorId: String) async {
        guard id != survivorId else { return }
        _ = localMerges.withLock { $0.set(LocalEntries.objectKey(type, id), survivorId) }
        if let redis {
            do {
                _ = try await redis.set(
                    .init(mergeKey(type, id)), .init(survivorId),
                    expiration: .milliseconds(Int(Self.mergeMemory.milliseconds)), timeout: configuration.redisTimeout)
            } catch {
                logger.debug("could not remember a merge", metadata: ["error": "\(error)"])
            }
        }
        await invalidate(type: type, id: id)
    }
}

/// A read of a record HubSpot merged into another: read `survivorId` instead.
public struct RecordMerged: Error, Sendable, Equatable {
    public var type: String
    public var id: String
    public var survivorId: String

    public init(type: String, id: String, survivorId: String) {
        self.type = type
        self.id = id
        self.survivorId = survivorId
    }
}
