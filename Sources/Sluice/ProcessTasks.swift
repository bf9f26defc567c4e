import SluiceKafka
import Synchronization

/// The tasks of one process: those its stream threads own and those its
/// standby thread keeps warm copies of. A task's stores are open in one
/// place at a time, so a stream thread that is assigned a task first takes
/// it from the standby thread (``claim(_:thread:timeout:)``).
final class ProcessTasks: Sendable {
    private struct State {
        var owned: [Int: Set<TopicPartition>] = [:]
        var standby: Set<TopicPartition> = []
    }

    private let state = Mutex(State())

    /// The tasks every stream thread of the process owns (restoring ones included).
    var owned: Set<TopicPartition> {
        state.withLock { $0.owned.values.reduce(into: Set()) { $0.formUnion($1) } }
    }

    /// Records that stream thread `thread` owns exactly `tasks` now.
    func setOwned(_ tasks: Set<TopicPartition>, thread: Int) {
        state.withLock { $0.owned[thread] = tasks }
    }

    /// Marks `task` as owned by stream thread `thread`, then waits until
    /// the standby thread has closed its copy of the task's stores, if it
    /// keeps one (it looks at every turn of its loop, a few times a second).
    func claim(_ task: TopicPartition, thread: Int, timeout: Duration) throws {
        let isStandby = state.withLock {
            $0.owned[thread, default: []].insert(task)
            return $0.standby.contains(task)
        }
        guard isStandby else { return }
        let deadline = ContinuousClock.now + timeout
        while state.withLock({ $0.standby.contains(task) }) {
            guard ContinuousClock.now < deadline else {
                throw TopologyError("the standby copy of task \(task) was not released within \(timeout)")
            }
            blockThread(for: .milliseconds(5))
        }
    }

    /// Marks `task` as kept by the standby thread, unless a stream thread
    /// owns it; returns whether it is.
    func beginStandby(_ task: TopicPartition) -> Bool {
        state.withLock { state in
            guard !state.owned.values.contains(where: { $0.contains(task) }) else { return false }
            state.standby.insert(task)
            return true
        }
    }

    /// Records that the standby thread has closed `task`'s stores.
    func endStandby(_ task: TopicPartition) {
        _ = state.withLock { $0.standby.remove(task) }
    }
}

/// Where standby copies go: the tasks a process owns have standbys on the
/// `replicas` processes that follow it in the order of process ids
/// (wrapping around), never on the owner. Every instance computes the same
/// placement from the same membership, without a coordinator.
enum StandbyPlacement {
    /// The tasks `process` keeps standby copies of, given what each live
    /// process owns.
    static func standbys(of process: String, owners: [String: Set<TopicPartition>], replicas: Int) -> Set<TopicPartition> {
        let processes = Set(owners.keys).union([process]).sorted()
        let me = processes.firstIndex(of: process)!
        var out = Set<TopicPartition>()
        for (owner, tasks) in owners where owner != process {
            let distance = (me - processes.firstIndex(of: owner)! + processes.count) % processes.count
            if distance <= replicas { out.formUnion(tasks) }
        }
        return out.subtracting(owners[process] ?? [])
    }
}
