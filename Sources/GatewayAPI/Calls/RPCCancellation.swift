import GRPCCore
import Synchronization

/// Turns gRPC's cancellation of an RPC (the client reset the stream or went away, the server
/// is shutting down) into cancellation of the task running `body`.
///
/// GRPCCore signals a cancelled RPC only through `ServerContext.cancellation`; the handler's
/// task keeps running. A read the caller left should not keep waiting for budget or for
/// HubSpot: the domain layer stops at task cancellation (the HubSpot client aborts its call).
/// Not for writes: one whose request may have reached HubSpot is let finish, so that its
/// outcome is recorded for a retry with the same idempotency key.
func cancellingOnRPCCancellation<T: Sendable>(_ body: () async throws -> T) async throws -> T {
    try await withUnsafeCurrentTask { task in
        guard let task else { return try await body() }
        let target = CancellationTarget(task)
        defer { target.release() }
        return try await withRPCCancellationHandler(operation: body, onCancelRPC: { target.cancel() })
    }
}

/// The running task, held only while `cancellingOnRPCCancellation` runs.
///
/// gRPC may call its cancellation handlers on another thread just after they were removed, so
/// the reference lives behind a lock and is dropped (under it) before the scope ends: a late
/// handler finds nothing to cancel rather than a task that has moved on. Cancelling an
/// `UnsafeCurrentTask` from another thread is allowed (it is one of `Task`'s own operations).
private final class CancellationTarget: Sendable {
    private let task: Mutex<CancellableTask?>

    init(_ task: UnsafeCurrentTask) { self.task = Mutex(CancellableTask(task: task)) }

    func cancel() { task.withLock { $0?.task.cancel() } }

    func release() { task.withLock { $0 = nil } }
}

/// `@unchecked Sendable`: `UnsafeCurrentTask` is not Sendable because most of its operations
/// may only be used by the task itself; the only one used from elsewhere is `cancel()` (which
/// `Task` offers to anyone), and only while `CancellationTarget` holds it inside the task's scope.
private struct CancellableTask: @unchecked Sendable {
    let task: UnsafeCurrentTask
}
