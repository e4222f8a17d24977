import Hummingbird
import Logging
import NIOCore

/// Hummingbird request context that keeps the connection, so a fault can drop it.
struct SimulatorRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
