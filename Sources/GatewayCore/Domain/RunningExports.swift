import Synchronization

/// The exports this replica is streaming now, and how far each is: shown by
/// `AdminService.GetStatus` and in each export's trailers.
public final class RunningExports: Sendable {
    /// One running export's progress.
    public final class Export: Sendable {
        public let objectType: String
        public let started = ContinuousClock.now
        private let counts = Mutex<(records: Int, calls: Int, cursor: ExportCursor?)>((0, 0, nil))
        private let fullLoadReport = Mutex<FullLoadReport?>(nil)

        init(objectType: String) { self.objectType = objectType }

        public var records: Int { counts.withLock { $0.records } }
        public var hubSpotCalls: Int { counts.withLock { $0.calls } }
        /// The cursor after the last record handed out.
        public var lastCursor: ExportCursor? { counts.withLock { $0.cursor } }

        /// How its full load reads the whole type (nil: an incremental export, or not decided yet).
        public var fullLoad: FullLoadReport? {
            get { fullLoadReport.withLock { $0 } }
            set { fullLoadReport.withLock { $0 = newValue } }
        }

        public func countCall() { counts.withLock { $0.calls += 1 } }
        public func handedOut(_ cursor: ExportCursor) {
            counts.withLock {
                $0.records += 1
                $0.cursor = cursor
            }
        }
    }

    private let running = Mutex<[ObjectIdentifier: Export]>([:])

    public init() {}

    public func begin(_ objectType: String) -> Export {
        let export = Export(objectType: objectType)
        running.withLock { $0[ObjectIdentifier(export)] = export }
        return export
    }

    public func end(_ export: Export) { _ = running.withLock { $0.removeValue(forKey: ObjectIdentifier(export)) } }

    /// Oldest first.
    public var all: [Export] { running.withLock { Array($0.values) }.sorted { $0.started < $1.started } }
}
