import Logging
import SluiceKafka
import SluiceState
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One stream thread: its own consumer and producer, the tasks of the
/// partitions assigned to its consumer, and the loop poll → process →
/// produce → commit. Everything but the stop flag and the counters is
/// confined to the thread that calls ``run()``.
final class StreamThread: KafkaRebalanceListener, @unchecked Sendable {
    let index: Int
    private let topology: Topology
    private let config: StreamsConfig
    private let processID: String
    private let factory: KafkaClientFactory
    private let clock: WallClock
    private var logger: Logger
    /// Where the thread and its sinks register their metrics.
    private let metrics: MetricsRegistry
    /// Where tasks keep their state stores.
    private let state: StateLocation
    /// The tasks of the whole process, which the standby thread keeps copies of.
    private let processTasks: ProcessTasks

    private var consumer: ConsumerClient! {
        // Before the assignment, so that the last reference to a consumer
        // going away (whose deinit leaves the group) is not released under the lock.
        willSet { waker.withLock { $0 = newValue.map(Waker.init) } }
    }
    /// ``consumer`` as other threads see it: they may only wake its poll.
    private struct Waker: @unchecked Sendable {
        let consumer: ConsumerClient
    }
    private let waker = Mutex<Waker?>(nil)
    private var producer: ProducerClient!
    private var collector: ProducerCollector!
    private(set) var tasks: [TopicPartition: StreamTask] = [:] {
        didSet { stats.tasks.set(tasks.count) }
    }
    /// The positions last marked or committed, per partition.
    private var committed: [TopicPartition: Int64] = [:]
    /// At least once: the positions last sent to the group, per partition.
    private var groupCommitted: [TopicPartition: Int64] = [:]
    /// At least once: positions to commit once every record sent before the
    /// delivery epoch is acknowledged (and the sinks hold nothing older), oldest
    /// first, each with when it was marked (ms).
    private var commitPoints: [(epoch: Int, offsets: [TopicPartitionOffset], seal: Int, marked: Int64)] = []
    /// The number of the last commit point whose state changes were sealed.
    private var lastSeal = 0
    /// Stateful tasks whose wall-clock punctuation forwarded records (an
    /// idle window closing), with the delivery epoch of those records
    /// (`Int.max` while it is open). Such a task may not have moved since
    /// its position was committed, and a change sealed at a committed
    /// position is applied by any restore: it seals once those records
    /// are durable (see ``markCommitPoint()``).
    private var punctuatedOutput: [TopicPartition: Int] = [:]
    /// Creates the stores' changelogs; `nil` without stores.
    private var changelogs: ChangelogClient?
    /// Restores the stores of new tasks from their changelogs; `nil` without stores.
    private var restorer: StateRestorer?
    /// Restoring partitions to pause once the consumer has them.
    private var toPause: Set<TopicPartition> = []
    /// Per changelog partition, the offset after the last change delivered
    /// and acknowledged: a sealed batch holds no change below it.
    private var changelogEnds: [TopicPartition: Int64] = [:]
    /// The sinks outside Kafka, made once per thread, in name order.
    private var sinks: [(name: String, sink: any Sink)] = []
    /// At least once: input records whose refused items went to the
    /// dead-letter topic in a delivery epoch not yet acknowledged.
    private var deadLetterWaits: [(partition: TopicPartition, offset: Int64, epoch: Int)] = []
    /// Since when a sink has been full (ms), while it is.
    private var fullSince: Int64?
    /// Partitions paused because a sink is full.
    private var paused: Set<TopicPartition> = []
    private var rebalanceError: Error?
    private var batch: [KafkaMessage] = []
    private var nextCommit: Int64 = 0
    /// When the series counted without atomics are next brought up to date (ms).
    private var nextStatsUpdate: Int64 = 0
    private var abortBackoff = Duration.milliseconds(100)
    /// How long a restore waits at its changelog's reported end for records
    /// past it (ms); see ``StateRestorer``.
    var restoreQuiet: Int64 = 500

    private let stopFlag = Atomic<Bool>(false)
    /// What the thread's tasks have done, readable from other threads.
    let stats: ThreadStats

    private var exactlyOnce: Bool { config.guarantee == .exactlyOnce }

    init(index: Int, topology: Topology, config: StreamsConfig, processID: String,
         factory: KafkaClientFactory, clock: WallClock, logger: Logger, metrics: MetricsRegistry = MetricsRegistry(),
         state: StateLocation = .memory, processTasks: ProcessTasks = ProcessTasks()) {
        self.index = index
        self.state = state
        self.processTasks = processTasks
        self.metrics = metrics
        stats = ThreadStats(metrics, applicationID: config.applicationID, thread: index)
        self.topology = topology
        self.config = config
        self.processID = processID
        self.factory = factory
        self.clock = clock
        self.logger = logger
        self.logger[metadataKey: "thread"] = "\(index)"
    }

    /// Asks the loop to finish: it stops polling, commits and leaves the
    /// group. A poll under way returns at once rather than at its timeout.
    func requestStop() {
        stopFlag.store(true, ordering: .relaxed)
        waker.withLock { $0?.consumer.wakeup() }
    }

    var stopRequested: Bool { stopFlag.load(ordering: .relaxed) }

    /// Runs until stopped; throws what stopped it otherwise. Offsets are
    /// never committed past records whose outputs were not acknowledged.
    func run() throws {
        defer { releaseClients() }
        do {
            try start()
            while !stopRequested { try step() }
            try shutdown()
        } catch {
            logger.error("stream thread failed; offsets stay at the last commit", metadata: ["error": "\(error)"])
            closeTasks()
            consumer?.close()
            closeSinks()
            throw error
        }
    }

    /// Destroys the Kafka clients on this thread, before it reports that it
    /// ended, so that their own threads are gone before the process exits:
    /// the OpenSSL inside librdkafka frees per-thread state at exit and
    /// crashed ("double free") while a client's threads still ran. The
    /// changelogs' consumer and admin client go too, with the restorer
    /// that reads through them (a SIGSEGV in OpenSSL's thread cleanup at
    /// the exit of a stateful instance).
    private func releaseClients() {
        sinks.removeAll()
        collector = nil
        producer = nil
        consumer = nil
        restorer = nil
        changelogs = nil
    }

    /// Commits what was processed, closes the tasks and leaves the group.
    func shutdown() throws {
        try commit()
        publishStats()
        closeTasks()
        consumer.close()
        try producer.flush(timeout: config.operationTimeout)
        closeSinks()
        logger.info("stream thread stopped", metadata: ["processed": "\(stats.processed.current)"])
    }

    func start() throws {
        consumer = try factory.makeConsumer(config: config.consumerConfig(processID: processID, thread: index,
                                                                          writesToSinks: !topology.sinks.isEmpty),
                                            logger: logger)
        consumer.rebalanceListener = self
        try startProducer()
        try makeSinks()
        try makeInternalTopics()
        try consumer.subscribe(topology.subscriptions)
        nextCommit = clock.now() + config.effectiveCommitInterval.wholeMilliseconds
        logger.info("stream thread started", metadata: ["guarantee": "\(config.guarantee.rawValue)",
                                                        "topics": "\(topology.subscriptions)"])
    }

    private func startProducer() throws {
        producer = try factory.makeProducer(config: config.producerConfig(processID: processID, thread: index), logger: logger)
        if exactlyOnce { try producer.initTransactions(timeout: config.operationTimeout) }
        collector = ProducerCollector(producer: producer, transactional: exactlyOnce)
    }

    /// One iteration; under exactly-once, a failed transaction is aborted
    /// and the tasks rewound, and a fenced producer is replaced after the
    /// thread rejoins the group.
    func step() throws {
        guard exactlyOnce else { return try runOnce() }
        do {
            try runOnce()
            abortBackoff = .milliseconds(100)
        } catch let error as KafkaError where error.isFenced {
            try recoverFromFencing(error)
        } catch let error as KafkaError {
            try abortAndRewind(error)
        }
    }

    func runOnce() throws {
        let full = try applyBackPressure()
        if full && paused.isEmpty {
            batch.removeAll(keepingCapacity: true)
        } else {
            let wait = full || restorer?.isBusy == true ? Duration.zero : config.pollTimeout
            try consumer.poll(maxMessages: config.maxPollRecords, timeout: wait, into: &batch)
        }
        if let error = rebalanceError {
            rebalanceError = nil
            throw error
        }
        // Under exactly-once every batch belongs to a transaction, even one
        // that produces nothing: its offsets commit through it.
        if !batch.isEmpty { try collector.beginTransactionIfNeeded() }
        // A task reads each record where it lies, in the batch's buffer.
        try batch.withUnsafeBufferPointer { try process($0) }
        try restoreStores(waiting: batch.isEmpty && !full && !stopRequested)
        producer.poll(timeout: .zero)
        try producer.checkDeliveries()
        // While paused the wait for records becomes a wait for the sinks.
        for (_, sink) in sinks { try sink.poll(timeout: full && sink.isFull ? config.pollTimeout : .zero) }
        let now = clock.now()
        for (tp, task) in tasks where try task.punctuate(.wallClockTime, at: now) && task.keepsState {
            punctuatedOutput[tp] = .max
        }
        if now >= nextStatsUpdate {
            publishStats()
            nextStatsUpdate = now + 1000
        }
        if now >= nextCommit {
            if exactlyOnce { try commit() } else { try markCommitPoint() }
            nextCommit = now + config.effectiveCommitInterval.wholeMilliseconds
        }
        if !exactlyOnce { try commitAcknowledged() }
    }

    /// Hands each polled record to its partition's task.
    private func process(_ records: UnsafeBufferPointer<KafkaMessage>) throws {
        var task: StreamTask?
        var run = 0 // records of `task` processed since the partition last changed
        for i in records.indices {
            // Batches run partition by partition: look the task up only when the partition changes.
            if task == nil || task!.id.partition != records[i].partition || task!.id.topic != records[i].topic {
                if run > 0 { stats.processed(run, of: task!.id.topic) }
                run = 0
                task = tasks[TopicPartition(records[i].topic, records[i].partition)]
            }
            // A record of a partition revoked during this poll belongs to its
            // new owner; one of a restoring task is read again once it starts.
            guard let task else { continue }
            try task.process(records.baseAddress! + i)
            run += 1
        }
        if run > 0 { stats.processed(run, of: task!.id.topic) }
    }

    /// At least once, without stopping to flush: the positions reached now
    /// are committed once the producer has acknowledged every record sent
    /// before this point (tracked by delivery epoch), a few iterations later.
    /// A task that has not moved since its last commit point and whose
    /// punctuation forwarded records seals only once those are durable.
    private func markCommitPoint() throws {
        lastSeal += 1
        let offsets = pendingOffsets(of: tasks.keys)
        let moved = Set(offsets.map(\.topicPartition))
        var sealed = false
        for (tp, task) in tasks {
            if punctuatedOutput[tp] != nil {
                guard moved.contains(tp) || punctuatedOutputIsDurable(tp, task) else { continue }
                punctuatedOutput[tp] = nil
            }
            if try task.sealState(lastSeal, changelogEnds: changelogEnds) { sealed = true }
        }
        let unclosed = punctuatedOutput.values.contains(.max)
        guard !offsets.isEmpty || sealed || unclosed else { return }
        let epoch = producer.closeEpoch()
        for (tp, mark) in punctuatedOutput where mark == .max { punctuatedOutput[tp] = epoch }
        commitPoints.append((epoch, offsets, lastSeal, clock.now()))
        for o in offsets { committed[o.topicPartition] = o.offset }
    }

    /// Whether the records `task`'s punctuation forwarded are acknowledged
    /// by the broker and by every sink.
    private func punctuatedOutputIsDurable(_ tp: TopicPartition, _ task: StreamTask) -> Bool {
        guard let epoch = punctuatedOutput[tp], epoch <= producer.acknowledgedEpoch else { return false }
        guard let last = task.lastProcessed else { return true }
        return durableFloor(tp) > last.offset
    }

    /// Commits, asynchronously, the commit points whose outputs are all
    /// acknowledged; a partition whose sink items are not all durable yet
    /// commits only up to the first pending one, and the rest of its
    /// position waits at the head of the queue.
    private func commitAcknowledged() throws {
        let acknowledged = producer.acknowledgedEpoch
        if !deadLetterWaits.isEmpty { deadLetterWaits.removeAll { $0.epoch <= acknowledged } }
        guard let first = commitPoints.first, first.epoch <= acknowledged else { return }
        noteChangelogEnds(through: acknowledged)
        var latest: [TopicPartition: Int64] = [:]
        var held: [TopicPartition: Int64] = [:]
        var seal = 0
        var oldest = Int64.max
        while let point = commitPoints.first, point.epoch <= acknowledged {
            for o in point.offsets {
                let tp = o.topicPartition
                let safe = min(o.offset, durableFloor(tp))
                if safe < o.offset { held[tp] = o.offset } else { held[tp] = nil }
                if safe > groupCommitted[tp, default: .min] { latest[tp] = safe }
            }
            seal = point.seal
            oldest = min(oldest, point.marked)
            commitPoints.removeFirst()
        }
        if !held.isEmpty {
            commitPoints.insert((acknowledged, held.map { TopicPartitionOffset($0.key, $0.value) }, seal, oldest), at: 0)
        }
        // A task whose outputs are not all durable keeps its state changes
        // sealed: written now, they would mark its results as sent. Nor does
        // it commit part of the way: its state (local, or restored from the
        // changelog up to the committed offset) can only be at a commit
        // point, and records between that point and a committed offset
        // would be in neither the state nor the input read again.
        for (tp, task) in tasks {
            if held[tp] == nil { try task.writeState(through: seal) } else if task.keepsState { latest[tp] = nil }
        }
        guard !latest.isEmpty else { return }
        let offsets = latest.map { TopicPartitionOffset($0.key, $0.value) }.sorted { $0.topicPartition < $1.topicPartition }
        if commitToGroup(offsets, async: true) { stats.observeCommit(since: oldest, now: clock.now()) }
    }

    /// Commits `offsets` to the group; returns whether the commit went out.
    /// A failure only repeats records after a crash: the next commit
    /// covers them again.
    @discardableResult
    private func commitToGroup(_ offsets: [TopicPartitionOffset], async: Bool) -> Bool {
        do {
            try consumer.commit(offsets, async: async)
        } catch {
            logger.warning("offset commit failed", metadata: ["error": "\(error)"])
            return false
        }
        stats.commits.add(1)
        for o in offsets { groupCommitted[o.topicPartition] = o.offset }
        return true
    }

    /// The smallest offset of `tp` that a sink has not made durable, or
    /// whose dead letter is not acknowledged; `Int64.max` when none.
    private func durableFloor(_ tp: TopicPartition) -> Int64 {
        var floor = Int64.max
        for (_, sink) in sinks { if let first = sink.firstPendingOffset(of: tp) { floor = min(floor, first) } }
        for wait in deadLetterWaits where wait.partition == tp { floor = min(floor, wait.offset) }
        return floor
    }

    /// Whether this thread's transaction is open (exactly-once only).
    private var inTransaction: Bool {
        get { collector.inTransaction }
        set { collector.inTransaction = newValue }
    }

    /// Every task's position; a commit point may have marked a position
    /// that is not committed yet, so none is skipped here.
    private func currentOffsets() -> [TopicPartitionOffset] {
        tasks.compactMap { tp, task in task.nextOffset.map { TopicPartitionOffset(tp, $0) } }
            .sorted { $0.topicPartition < $1.topicPartition }
    }

    /// The positions of tasks that moved since their last commit.
    private func pendingOffsets(of partitions: some Sequence<TopicPartition>) -> [TopicPartitionOffset] {
        partitions.compactMap { tp in
            guard let next = tasks[tp]?.nextOffset, committed[tp] != next else { return nil }
            return TopicPartitionOffset(tp, next)
        }.sorted { $0.topicPartition < $1.topicPartition }
    }

    /// Makes everything processed so far durable, then records the input
    /// positions: in the transaction under exactly-once, as a synchronous
    /// group commit after a flush otherwise (revocation, shutdown), which
    /// supersedes every pending commit point.
    func commit() throws {
        let started = clock.now()
        commitPoints.removeAll()
        // What punctuations forwarded becomes durable before the state that
        // made it seals (see `punctuatedOutput`).
        if !punctuatedOutput.isEmpty {
            try flushSinks()
            try producer.flushUntilAcknowledged(attempt: config.operationTimeout, logger: logger)
            punctuatedOutput.removeAll()
        }
        lastSeal += 1
        for task in tasks.values { try task.sealState(lastSeal, changelogEnds: changelogEnds) }
        let offsets = exactlyOnce ? pendingOffsets(of: tasks.keys) : currentOffsets()
        if exactlyOnce {
            // No transaction open means no output since the last commit.
            guard inTransaction else { return try writeSealedState() }
            try flushSinks()
            try producer.sendOffsetsToTransaction(offsets, groupMetadata: consumer.groupMetadata(),
                                                  timeout: config.operationTimeout)
            try producer.commitTransaction(timeout: config.operationTimeout)
            inTransaction = false
            stats.commits.add(1)
            stats.observeCommit(since: started, now: clock.now())
            try writeSealedState()
        } else {
            try flushSinks()
            try producer.flushUntilAcknowledged(attempt: config.operationTimeout, logger: logger)
            deadLetterWaits.removeAll()
            try writeSealedState()
            guard !offsets.isEmpty, commitToGroup(offsets, async: false) else { return }
            stats.observeCommit(since: started, now: clock.now())
        }
        for o in offsets { committed[o.topicPartition] = o.offset }
    }

    /// Writes every task's sealed state: all outputs before it are durable.
    private func writeSealedState() throws {
        if changelogs != nil { noteChangelogEnds(through: producer.closeEpoch()) }
        for task in tasks.values { try task.writeState(through: lastSeal) }
    }

    /// Takes the changelog offsets delivered in epochs up to `epoch`.
    private func noteChangelogEnds(through epoch: Int) {
        guard changelogs != nil else { return }
        for (tp, offset) in producer.deliveredOffsets(through: epoch) { changelogEnds[tp] = max(changelogEnds[tp] ?? 0, offset + 1) }
    }

    // MARK: State stores and changelogs

    /// Creates the internal topics that do not exist, before the thread
    /// subscribes to any: as many partitions as the widest input topic.
    /// Stores' changelogs are compacted (window stores' also deleted a day
    /// after their retention); repartition topics keep every record (they
    /// carry event times, so deleting by time could drop what is unread).
    private func makeInternalTopics() throws {
        guard !topology.stores.isEmpty || !topology.repartitionTopics.isEmpty else { return }
        let changelogs = try factory.makeChangelogs(config: config.kafka, logger: logger)
        let inputs = topology.inputTopics.filter { !$0.hasPrefix("^") }
        guard !inputs.isEmpty else {
            throw TopologyError("state stores and repartition topics need input topics named exactly (they take the inputs' partition count)")
        }
        let partitions = try inputs.map { try changelogs.partitionCount(of: $0) }.max()!
        try changelogs.ensureTopics(topology.repartitionTopics.map {
            NewTopic($0, partitions: partitions, configs: ["cleanup.policy": "delete", "retention.ms": "-1"])
        } + topology.stores.map { store in
            var configs = ["cleanup.policy": "compact"]
            if let retention = store.retention {
                configs = ["cleanup.policy": "compact,delete", "retention.ms": String(retention + 86_400_000)]
            }
            return NewTopic(config.changelogTopic(store: store.name), partitions: partitions, configs: configs)
        })
        // One that existed before (or that a broker made when it was first
        // asked about) would send records to tasks whose changelog partitions do not exist.
        for topic in topology.repartitionTopics {
            let count = try changelogs.partitionCount(of: topic)
            guard count == partitions else {
                throw TopologyError("repartition topic \(topic) has \(count) partitions, the inputs \(partitions): delete it, or give it \(partitions)")
            }
        }
        guard !topology.stores.isEmpty else { return }
        self.changelogs = changelogs
        restorer = StateRestorer(changelogs: changelogs, clock: clock, logger: logger, stats: stats, quiet: restoreQuiet)
    }

    /// How this thread's tasks keep their stores.
    private var taskState: TaskStateContext {
        changelogs == nil ? TaskStateContext(location: state) : .logged(at: state, applicationID: config.applicationID)
    }

    /// Creates the task of `tp`, or, when it has stores with changelogs,
    /// starts restoring them; its partition is paused until they are restored.
    private func assignTask(_ tp: TopicPartition) throws {
        let specs = topology.stores(forTopic: tp.topic)
        guard let restorer, !specs.isEmpty else { return try createTask(tp) }
        // A standby copy of the task's stores closes first; the restore then reads from where it got to.
        try processTasks.claim(tp, thread: index, timeout: config.operationTimeout)
        let committed = try consumer.committed([tp], timeout: config.operationTimeout).first?.offset ?? -1
        let stores = try taskState.open(specs, of: tp)
        restorer.begin(tp, stores: stores, committed: committed)
        toPause.insert(tp)
    }

    /// Moves the restores on by a batch (waiting for it when the thread has
    /// nothing else to do) and starts the tasks whose stores are restored,
    /// from their committed offsets: input read while they restored is read again.
    private func restoreStores(waiting: Bool) throws {
        guard let restorer, restorer.isBusy else { return }
        if !toPause.isEmpty {
            try consumer.pause(toPause.filter(restorer.isRestoring).sorted())
            toPause.removeAll()
        }
        for done in try restorer.step(timeout: waiting ? config.pollTimeout : .zero) {
            try createTask(done.task, stores: done.stores)
            committed[done.task] = done.committed < 0 ? nil : done.committed
            if paused.isEmpty { try consumer.resume([done.task]) } else { paused.insert(done.task) }
            try consumer.seek([TopicPartitionOffset(done.task, done.committed < 0 ? TopicPartitionOffset.beginning : done.committed)],
                              timeout: config.operationTimeout)
        }
    }

    // MARK: Sinks outside Kafka

    private func makeSinks() throws {
        sinks = try topology.sinks.keys.sorted().map { name in
            let context = SinkContext(name: name, applicationID: config.applicationID, threadIndex: index,
                                      logger: logger, metrics: metrics) { [unowned self] letter in
                try deadLetter(letter, refusedBy: name)
            }
            return (name, try topology.sinks[name]!.make(context))
        }
    }

    /// Sends what a sink refused to the dead-letter topic; at least once,
    /// its input offset is committed only after that record is acknowledged.
    private func deadLetter(_ letter: DeadLetter, refusedBy sink: String) throws {
        stats.deadLettered(processor: sink, type: letter.errorType)
        let topic = config.effectiveDeadLetterTopic
        logger.warning("record sent to dead-letter topic", metadata: [
            "source": "\(letter.source.map(\.description) ?? "-")", "processor": "\(sink)",
            "reason": "\(letter.errorType): \(letter.reason)", "topic": "\(topic)"])
        try collector.send(topic: topic, key: letter.key, value: letter.value,
                           headers: DeadLetterHeader.headers(for: letter, sink: sink, applicationID: config.applicationID),
                           timestamp: letter.timestamp)
        if !exactlyOnce, let source = letter.source {
            deadLetterWaits.append((TopicPartition(source.topic, source.partition), source.offset, producer.closeEpoch()))
        }
    }

    /// Waits until every sink holds nothing pending, however long the
    /// destination takes: a destination that is down means waiting.
    private func flushSinks() throws {
        for (name, sink) in sinks {
            while try !sink.flush(timeout: config.operationTimeout) {
                logger.warning("waiting for a sink to acknowledge records", metadata: ["sink": "\(name)"])
            }
        }
    }

    /// While a sink is full, holds input back: first by not polling (which
    /// keeps what librdkafka has fetched), and once that has lasted
    /// `holdBeforePausing`, by pausing every owned partition; resumes them
    /// once no sink is full. Returns whether input is held back.
    private func applyBackPressure() throws -> Bool {
        guard sinks.contains(where: { $0.sink.isFull }) else {
            fullSince = nil
            if !paused.isEmpty {
                try consumer.resume(paused.sorted())
                paused.removeAll()
                logger.debug("sinks have room again; resuming input")
            }
            return false
        }
        let now = clock.now()
        let since = fullSince ?? now
        fullSince = since
        if paused.isEmpty, now - since < config.holdBeforePausing.wholeMilliseconds { return true }
        let more = tasks.keys.filter { !paused.contains($0) }
        guard !more.isEmpty else { return true }
        if paused.isEmpty { logger.debug("a sink is full; pausing input", metadata: ["partitions": "\(tasks.count)"]) }
        try consumer.pause(more)
        paused.formUnion(more)
        return true
    }

    /// Drops every trace of `partitions` this thread kept for committing them.
    private func forgetPartitions(_ partitions: [TopicPartition]) {
        for (_, sink) in sinks { sink.forget(partitions) }
        let gone = Set(partitions)
        deadLetterWaits.removeAll { gone.contains($0.partition) }
        paused.subtract(gone)
        for tp in partitions { groupCommitted[tp] = nil }
    }

    private func closeSinks() {
        for (_, sink) in sinks { sink.close() }
    }

    // MARK: Failure handling under exactly-once

    private func abortAndRewind(_ error: KafkaError) throws {
        if error.isFatal { throw error }
        logger.warning("transaction failed; aborting and rewinding tasks to committed offsets",
                       metadata: ["error": "\(error)", "tasks": "\(tasks.count)"])
        if inTransaction { try producer.abortTransaction(timeout: config.operationTimeout) }
        inTransaction = false
        try rewind(Array(tasks.keys))
        blockThread(for: abortBackoff)
        abortBackoff = min(abortBackoff * 2, .seconds(10))
    }

    /// Replaces the tasks of `partitions` by fresh ones positioned at the
    /// group's committed offsets, discarding uncommitted progress.
    private func rewind(_ partitions: [TopicPartition]) throws {
        guard !partitions.isEmpty else { return }
        for tp in partitions { closeTask(tp) }
        forgetPartitions(partitions)
        let positions = try consumer.committed(partitions, timeout: config.operationTimeout)
        try consumer.seek(positions.map {
            TopicPartitionOffset($0.topicPartition, $0.offset < 0 ? TopicPartitionOffset.beginning : $0.offset)
        }, timeout: config.operationTimeout)
        for p in positions {
            committed[p.topicPartition] = p.offset < 0 ? nil : p.offset
            try assignTask(p.topicPartition)
        }
    }

    private func recoverFromFencing(_ error: KafkaError) throws {
        logger.error("producer fenced; closing tasks without commit and rejoining the group",
                     metadata: ["error": "\(error)"])
        let owned = Array(tasks.keys)
        for tp in owned { closeTask(tp) }
        cancelRestores(restorer?.restoring ?? [])
        forgetPartitions(owned)
        committed.removeAll()
        publishOwned()
        try startProducer()
        try consumer.unsubscribe()
        try consumer.subscribe(topology.subscriptions)
    }

    // MARK: Tasks and rebalancing

    /// Creates the task of `tp` with `stores` opened for it beforehand
    /// (closed if the task cannot be made).
    private func createTask(_ tp: TopicPartition, stores: [String: TaskStore] = [:]) throws {
        do {
            tasks[tp] = try StreamTask(id: tp, topology: topology, applicationID: config.applicationID,
                                       collector: collector, clock: clock,
                                       deadLetterTopic: config.effectiveDeadLetterTopic,
                                       sinks: Dictionary(uniqueKeysWithValues: sinks), logger: logger, stats: stats,
                                       state: taskState, stores: stores)
        } catch {
            for store in stores.values { store.bytes.close() }
            throw error
        }
    }

    /// Closes the task of `tp`, if any, once its counts are in the metrics.
    private func closeTask(_ tp: TopicPartition) {
        guard let task = tasks.removeValue(forKey: tp) else { return }
        punctuatedOutput[tp] = nil
        publishCounts(of: task)
        stats.forgetLag(of: tp)
        task.close()
    }

    private func closeTasks() {
        for tp in Array(tasks.keys) { closeTask(tp) }
        cancelRestores(restorer?.restoring ?? [])
        publishOwned()
    }

    /// Brings the series the thread keeps without atomics up to date:
    /// records per processor node and per output topic, each partition's
    /// lag, store sizes, paused partitions and what restores have left.
    private func publishStats() {
        for (topic, count) in producer.takeSentCounts() { stats.produced(count, to: topic) }
        let ends = consumer.highWatermarks(Array(tasks.keys))
        var storeBytes: [String: Int] = [:]
        for (tp, task) in tasks {
            publishCounts(of: task)
            if let end = ends[tp], let position = task.nextOffset ?? committed[tp] { stats.lag(max(0, end - position), of: tp) }
            for (name, bytes) in task.storeSizes { storeBytes[name, default: 0] += bytes }
        }
        stats.storeSizes(storeBytes)
        stats.paused.set(paused.count)
        stats.restoreRemaining.set(restorer?.remainingRecords ?? 0)
    }

    /// Moves the counts of what reached `task`'s nodes into the metrics.
    private func publishCounts(of task: StreamTask) {
        for node in task.nodes where node.received > 0 {
            stats.reached(node.received, processor: node.name)
            node.received = 0
        }
    }

    /// Tells the process which tasks this thread owns now (restoring ones included).
    private func publishOwned() {
        processTasks.setOwned(Set(tasks.keys).union(restorer?.restoring ?? []), thread: index)
    }

    /// Stops restoring `partitions`; their stores close.
    private func cancelRestores(_ partitions: [TopicPartition]) {
        guard let restorer else { return }
        toPause.subtract(partitions)
        do {
            try restorer.cancel(partitions)
        } catch {
            rebalanceError = rebalanceError ?? error
        }
    }

    func partitionsAssigned(_ partitions: [TopicPartition]) {
        // Counted once the new tasks exist, so that `/ready` never sees the assignment before its restores.
        defer { publishOwned(); stats.rebalances.add(1) }
        do {
            for tp in partitions where tasks[tp] == nil && restorer?.isRestoring(tp) != true { try assignTask(tp) }
        } catch {
            rebalanceError = rebalanceError ?? error
        }
    }

    func partitionsRevoked(_ partitions: [TopicPartition]) {
        defer { publishOwned() }
        cancelRestores(partitions)
        let revoked = partitions.filter { tasks[$0] != nil }
        guard !revoked.isEmpty else { return }
        do {
            try commit()
        } catch {
            // The revoked tasks' progress is not committed: their new owner repeats it.
            logger.warning("commit on revocation failed", metadata: ["error": "\(error)"])
            if exactlyOnce, inTransaction { try? producer.abortTransaction(timeout: config.operationTimeout); inTransaction = false }
            rebalanceError = rebalanceError ?? error
        }
        for tp in revoked {
            closeTask(tp)
            committed.removeValue(forKey: tp)
        }
        forgetPartitions(revoked)
    }

    func partitionsLost(_ partitions: [TopicPartition]) {
        defer { publishOwned() }
        cancelRestores(partitions)
        for tp in partitions {
            closeTask(tp)
            committed.removeValue(forKey: tp)
        }
        forgetPartitions(partitions)
        // Another member may own them already: no pending point may commit them.
        let lost = Set(partitions)
        commitPoints = commitPoints.map { ($0.epoch, $0.offsets.filter { !lost.contains($0.topicPartition) }, $0.seal, $0.marked) }
        guard exactlyOnce, inTransaction else { return }
        // The open transaction holds the lost tasks' output too: abort it and
        // replay the remaining tasks from their committed offsets.
        do {
            try producer.abortTransaction(timeout: config.operationTimeout)
            inTransaction = false
            try rewind(Array(tasks.keys))
        } catch {
            rebalanceError = rebalanceError ?? error
        }
    }
}

/// Blocks the calling thread (a stream thread waiting for a backoff: its
/// loop is synchronous by design).
public func blockThread(for duration: Duration) {
    let ms = duration.wholeMilliseconds
    var ts = timespec(tv_sec: Int(ms / 1000), tv_nsec: Int(ms % 1000) * 1_000_000)
    _ = nanosleep(&ts, nil)
}
