import Logging
import SluiceKafka
import SluiceState

/// Brings the stores of a stream thread's new tasks up to date from their
/// changelogs, a batch at a time between the thread's other work, so that a
/// long restore never holds up the tasks that are running.
///
/// A store applies the changes its changelog holds beyond its local state:
/// those whose input position is past the store's own and not past the
/// task's committed offset (later ones come from processing whose input
/// was never committed, and is done again). It reads from the store's
/// changelog offset, or from the beginning without local state, and writes
/// in batches, the last with the new position; the others stay out of
/// RocksDB's log (the changelog holds them) and reach disk before the
/// last. A store is restored once a fetch of its changelog partition has
/// found nothing past the end that fetch reported (the consumer's end of
/// partition). Where that never comes, once it has read to the end the
/// broker reports when asked and the log has stayed quiet for ``quiet``
/// milliseconds: some brokers report that end per batch, so records may
/// follow it (see `isRestored`).
final class StateRestorer {
    /// Changes read per poll and written per store batch.
    static let batchSize = 10_000

    /// A task whose stores are restoring; it starts once all are.
    private struct Task {
        var stores: [String: TaskStore]
        var remaining: Int
        /// The task's committed input offset (`-1` without one).
        let committed: Int64
    }

    /// A task whose stores are all restored.
    struct Restored {
        let task: TopicPartition
        let stores: [String: TaskStore]
        /// Its committed input offset (`-1` without one): where its input resumes.
        let committed: Int64
    }

    /// One store catching up with its changelog partition.
    private final class StoreRestore {
        let task: TopicPartition
        let store: TaskStore
        let place: ChangelogPlace
        /// The store's local position before the restore.
        let local: StorePosition?
        let committed: Int64
        var next: Int64
        var end: Int64 = 0
        var started: Int64 = 0
        var lastRecord: Int64 = 0
        /// Whether a fetch found the end of the log at or past ``next``.
        var reachedEnd = false
        var batch = StoreBatch.replayed
        var read = 0, applied = 0, logged = 0
        var reached: Int64

        init(task: TopicPartition, store: TaskStore, place: ChangelogPlace, committed: Int64) {
            self.task = task
            self.store = store
            self.place = place
            self.committed = committed
            local = store.bytes.position
            next = local?.changelogOffset ?? 0
            reached = local?.inputOffset ?? .min
        }

        /// Applies one changelog record if it belongs to this task and reflects committed input.
        func apply(_ m: KafkaRecordView) {
            read += 1
            next = m.offset + 1
            guard let (key, position) = place.change(in: m), position > (local?.inputOffset ?? .min), position <= committed else {
                return
            }
            if let value = m.value { batch.put(key, value) } else { batch.delete(key) }
            applied += 1
            reached = max(reached, position)
        }
    }

    private let changelogs: ChangelogClient
    private let clock: WallClock
    private let logger: Logger
    private let stats: ThreadStats
    /// How long a store waits, at its changelog's reported end, for records past it (ms).
    let quiet: Int64
    private var tasks: [TopicPartition: Task] = [:] {
        didSet { stats.restoring.set(tasks.count) }
    }
    /// Restores reading their changelog partition, by that partition.
    private var active: [TopicPartition: StoreRestore] = [:]
    /// Restores whose changelog partition another restore is reading, oldest first.
    private var waiting: [StoreRestore] = []

    init(changelogs: ChangelogClient, clock: WallClock, logger: Logger, stats: ThreadStats, quiet: Int64 = 500) {
        self.changelogs = changelogs
        self.clock = clock
        self.logger = logger
        self.stats = stats
        self.quiet = quiet
    }

    /// Whether any task is restoring.
    var isBusy: Bool { !tasks.isEmpty }

    /// Whether `task` is restoring.
    func isRestoring(_ task: TopicPartition) -> Bool { tasks[task] != nil }

    /// Starts restoring `stores` (opened, each with a changelog) of `task`,
    /// whose committed input offset is `committed` (`-1` without one).
    func begin(_ task: TopicPartition, stores: [String: TaskStore], committed: Int64) {
        tasks[task] = Task(stores: stores, remaining: stores.count, committed: committed)
        for store in stores.values.sorted(by: { $0.name < $1.name }) {
            waiting.append(StoreRestore(task: task, store: store, place: store.changelog!, committed: committed))
        }
    }

    /// The tasks restoring.
    var restoring: [TopicPartition] { Array(tasks.keys) }

    /// Changelog records the reading restores have left up to their
    /// changelogs' reported ends (waiting ones, whose ends are not asked yet, count none).
    var remainingRecords: Int { active.values.reduce(0) { $0 + max(0, Int($1.end - $1.next)) } }

    /// Stops restoring `partitions` and closes their stores; what was
    /// written stays (a later restore starts again from the stores' positions).
    func cancel(_ partitions: some Sequence<TopicPartition>) throws {
        let gone = Set(partitions).filter { tasks[$0] != nil }
        guard !gone.isEmpty else { return }
        waiting.removeAll { gone.contains($0.task) }
        let stopped = active.filter { gone.contains($0.value.task) }.keys
        for tp in stopped { active[tp] = nil }
        for tp in gone { for store in tasks.removeValue(forKey: tp)!.stores.values { store.bytes.close() } }
        if !stopped.isEmpty { try changelogs.read(positions) }
    }

    /// Reads one batch of changelog records (waiting up to `timeout` for
    /// it) and applies it; returns the tasks whose stores are all restored.
    func step(timeout: Duration) throws -> [Restored] {
        guard isBusy else { return [] }
        try activate()
        let now = clock.now()
        var restore: StoreRestore?
        let read = try changelogs.poll(maxMessages: Self.batchSize, timeout: timeout, atEnd: { end in
            // Every record before the end came before it: the restore has read them.
            if let restore = self.active[end.topicPartition], end.offset >= restore.next { restore.reachedEnd = true }
        }) { m in
            // Batches come partition by partition: look the restore up only when the partition changes.
            if restore?.place.partition.partition != m.partition || restore?.place.partition.topic != m.topic {
                restore = active[TopicPartition(m.topic, m.partition)]
            }
            guard let restore, m.offset >= restore.next else { return }
            restore.apply(m)
            restore.lastRecord = now
        }
        if read > 0 { stats.restored.add(read) }
        var done: [Restored] = []
        var finished = false
        for (tp, restore) in active {
            if isRestored(restore, now: now) {
                try finish(restore, now: now)
                active[tp] = nil
                finished = true
                tasks[restore.task]!.remaining -= 1
                if let task = tasks[restore.task], task.remaining == 0 {
                    tasks[restore.task] = nil
                    done.append(Restored(task: restore.task, stores: task.stores, committed: task.committed))
                }
            } else if restore.batch.count >= Self.batchSize {
                try write(restore)
            }
        }
        if finished { try changelogs.read(positions) }
        return done
    }

    /// Whether `restore` has read its whole changelog partition: a fetch
    /// found its end; or it read up to the end reported when it started, but
    /// for the one marker a transaction that wrote to it may have left there
    /// (markers are never delivered), and nothing more for ``quiet`` ms; or
    /// nothing at all for ten times that, whatever the broker reported.
    private func isRestored(_ restore: StoreRestore, now: Int64) -> Bool {
        if restore.reachedEnd { return true }
        let silent = now - restore.lastRecord
        if restore.next >= restore.end - 1, silent >= quiet { return true }
        guard silent > 0, silent >= 10 * quiet else { return false }
        logger.warning("changelog read ended on a quiet log before its reported end",
                       metadata: ["changelog": "\(restore.place.partition)@\(restore.next)", "end": "\(restore.end)"])
        return true
    }

    /// The positions of the partitions being read.
    private var positions: [TopicPartitionOffset] {
        active.map { TopicPartitionOffset($0.key, $0.value.next) }.sorted { $0.topicPartition < $1.topicPartition }
    }

    /// Starts reading for waiting restores whose changelog partition is free.
    private func activate() throws {
        var started = false
        var i = 0
        while i < waiting.count {
            let restore = waiting[i]
            guard active[restore.place.partition] == nil else { i += 1; continue }
            waiting.remove(at: i)
            restore.end = try changelogs.endOffset(of: restore.place.partition)
            restore.started = clock.now()
            restore.lastRecord = restore.started
            active[restore.place.partition] = restore
            started = true
        }
        if started { try changelogs.read(positions) }
    }

    /// Writes a full batch; a crash mid-restore repeats it from the old
    /// position, and applying a change twice is harmless.
    private func write(_ restore: StoreRestore) throws {
        try restore.store.bytes.write(restore.batch)
        restore.batch.removeAll()
        if restore.read - restore.logged >= 100_000 {
            restore.logged = restore.read
            logger.info("restoring state store", metadata: [
                "store": "\(restore.store.name)", "task": "\(restore.task)", "read": "\(restore.read)",
                "changelog": "\(restore.place.partition)@\(restore.next)", "end": "\(restore.end)"])
        }
    }

    /// Writes the last batch with the position the store has reached.
    private func finish(_ restore: StoreRestore, now: Int64) throws {
        if restore.read > 0 {
            restore.batch.isReplayable = false
            restore.batch.position = StorePosition(inputOffset: max(restore.reached, 0), changelogOffset: restore.next)
            try restore.store.bytes.write(restore.batch)
        }
        logger.info("state store restored", metadata: [
            "store": "\(restore.store.name)", "task": "\(restore.task)",
            "changelog": "\(restore.place.partition)@\(restore.local?.changelogOffset ?? 0)", "read": "\(restore.read)",
            "applied": "\(restore.applied)", "committed": "\(restore.committed)", "ms": "\(now - restore.started)",
            "local_input": "\(restore.local?.inputOffset ?? -1)", "input": "\(restore.store.bytes.position?.inputOffset ?? -1)"])
    }
}

private extension StoreBatch {
    /// An empty batch of changes read from a changelog.
    static var replayed: StoreBatch {
        var batch = StoreBatch()
        batch.isReplayable = true
        return batch
    }
}
