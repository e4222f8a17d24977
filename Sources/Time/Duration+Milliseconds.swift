extension Duration {
    /// Whole milliseconds, rounded toward zero: what timeouts, TTLs and retry delays are
    /// written in on the wire (Redis PX/BLOCK, HubSpot's headers, grpc trailers, logs).
    @inlinable
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Milliseconds with their fraction, for logs and metrics.
    @inlinable
    public var fractionalMilliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1_000_000_000_000_000
    }
}
