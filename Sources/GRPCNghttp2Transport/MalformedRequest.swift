/// The cause of the INTERNAL status a request gets when the client broke gRPC's framing (a
/// message cut short by the end of the stream, a compressed message nobody negotiated). gRPC
/// calls these INTERNAL; this cause tells them apart from the server's own failures, so that
/// a misbehaving client does not look like a bug in the service (logs, alerts).
public struct MalformedRequest: Error, CustomStringConvertible, Sendable {
    public init() {}
    public var description: String { "the client sent a malformed gRPC request" }
}
