/// Where a ``StreamApplication`` is in its life, as `/ready` and `/health`
/// report it: ready only when running, healthy unless failed.
public enum ApplicationState: Sendable, Equatable, CustomStringConvertible {
    /// Not started.
    case created
    /// Started; some stream threads have not had their first assignment.
    case joining(threads: Int)
    /// Some tasks are restoring their state stores and do not process yet.
    case restoring(tasks: Int)
    /// Every thread has its partitions and every task processes.
    case running
    /// Asked to stop: draining, committing, leaving the group.
    case stopping
    /// Every stream thread has ended.
    case stopped
    /// A stream thread failed, and the application stopped with it.
    case failed(String)

    /// Whether the application does all its work: every task assigned and restored.
    public var isReady: Bool { self == .running }

    /// Whether no stream thread failed.
    public var isHealthy: Bool {
        if case .failed = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .created: "created: not started"
        case .joining(let threads): "joining: \(threads) stream thread(s) without their first assignment"
        case .restoring(let tasks): "restoring: \(tasks) task(s) restoring their state stores"
        case .running: "running"
        case .stopping: "stopping"
        case .stopped: "stopped"
        case .failed(let reason): "failed: \(reason)"
        }
    }
}
