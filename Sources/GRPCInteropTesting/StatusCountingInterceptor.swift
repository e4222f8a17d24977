import GRPCCore
import Synchronization

/// Counts RPCs by whether they ended OK, so a benchmark can check that the responses its load
/// generator counted (which sees only HTTP statuses) also ended with grpc-status 0.
public final class StatusCountingInterceptor: ServerInterceptor, Sendable {
    private let okCount = Atomic<Int>(0)
    private let failedCount = Atomic<Int>(0)

    public init() {}

    /// RPCs that ended with status OK.
    public var ok: Int { okCount.load(ordering: .relaxed) }
    /// RPCs that ended with any other status.
    public var failed: Int { failedCount.load(ordering: .relaxed) }

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let response: StreamingServerResponse<Output>
        do {
            response = try await next(request, context)
        } catch {
            failedCount.add(1, ordering: .relaxed)
            throw error
        }
        guard case .success(var contents) = response.accepted else {
            failedCount.add(1, ordering: .relaxed)
            return response
        }
        let producer = contents.producer
        contents.producer = { [self] writer in
            do {
                let trailers = try await producer(writer)
                okCount.add(1, ordering: .relaxed)
                return trailers
            } catch {
                failedCount.add(1, ordering: .relaxed)
                throw error
            }
        }
        return StreamingServerResponse(accepted: .success(contents))
    }
}
