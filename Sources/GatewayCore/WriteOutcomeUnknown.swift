/// A write that failed in a way that does not tell whether HubSpot applied it: the request was
/// (or may have been) sent, and then the connection failed, the deadline passed or HubSpot
/// answered with a server error. Retrying a create blindly may make a duplicate; read first.
public struct WriteOutcomeUnknown: Error, CustomStringConvertible, Sendable {
    /// What went wrong on the way.
    public var underlying: any Error

    public init(underlying: any Error) { self.underlying = underlying }

    public var description: String {
        "HubSpot may or may not have applied this write (\(underlying)); read the record (or search by a unique property) before retrying"
    }
}
