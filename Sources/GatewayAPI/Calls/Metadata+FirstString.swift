import GRPCCore

extension Metadata {
    /// The first text value under `key` (metadata keys may repeat; the gateway reads one).
    public func firstString(_ key: String) -> String? {
        self[stringValues: key].first(where: { _ in true })
    }
}
