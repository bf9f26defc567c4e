import Foundation
import Logging
import SluiceKafka
import SluiceState
import Testing
@testable import Sluice

/// Counts records per value, for the state tests.
struct CountAggregator: WindowAggregator {
    func updates(of record: Record<[UInt8]?>) throws -> [(key: [UInt8], update: Int)] { [(record.value ?? [], 1)] }
    func initial(key: [UInt8], carried: Int?) -> Int { 0 }
    func add(_ update: Int, to aggregate: inout Int) { aggregate += update }
    func carry(_ aggregate: Int) -> Int? { nil }
    func encode(_ aggregate: Int) -> [UInt8] { Array(String(aggregate).utf8) }
    func decode(_ bytes: [UInt8]) throws -> Int { Int(String(decoding: bytes, as: UTF8.self))! }
}

/// When a stream thread writes its tasks' state: only once every output
/// of the records the state reflects is durable.
@Suite struct StateCommitTests {
    let factory = FakeFactory()
    let clock = ManualClock(0)

    private func thread(_ guarantee: ProcessingGuarantee) throws -> StreamThread {
        try Self.thread(guarantee, factory: factory, clock: clock)
    }

    /// A thread counting records per value in 10 s windows of store "counts", from topic "in".
    static func thread(_ guarantee: ProcessingGuarantee, factory: FakeFactory, clock: ManualClock,
                       state: StateLocation = .memory, maxPollRecords: Int = 1000) throws -> StreamThread {
        let b = TopologyBuilder()
        b.stream(["in"])
            .windowedAggregate(store: "counts", options: WindowedAggregateOptions(windows: try .tumbling(.seconds(10))),
                               CountAggregator())
            .to("out") { Array("\(String(decoding: $0.key, as: UTF8.self))=\($0.aggregate)".utf8) }
        var config = StreamsConfig(applicationID: "app", kafka: KafkaConfig(["bootstrap.servers": "unused:1"]))
        config.guarantee = guarantee
        config.commitInterval = .milliseconds(100)
        config.operationTimeout = .milliseconds(10)
        config.maxPollRecords = maxPollRecords
        let thread = StreamThread(index: 0, topology: try b.build(), config: config, processID: "p1", factory: factory,
                                  clock: clock, logger: Logger(label: "test"), state: state)
        // The fake changelogs report their true end: nothing can follow it.
        thread.restoreQuiet = 0
        return thread
    }

    /// A started thread past its first step, in which the task is assigned
    /// and restores its (empty) changelog.
    private func running(_ guarantee: ProcessingGuarantee) throws -> StreamThread {
        let t = try thread(guarantee)
        try t.start()
        try t.step()
        return t
    }

    private func statePosition(_ t: StreamThread) -> Int64? { t.tasks[TopicPartition("in", 0)]?.statePosition }

    @Test func atLeastOnceWritesStateOnlyOnceTheOutputsBeforeItAreAcknowledged() throws {
        factory.consumer.append("in", 0, "a")
        factory.consumer.append("in", 0, "a")
        let t = try running(.atLeastOnce)
        factory.producer.withholdAcknowledgements = true
        clock.advance(by: 100)
        try t.step()
        #expect(statePosition(t) == nil, "sealed at the commit point, not written before its acknowledgement")
        factory.producer.withholdAcknowledgements = false
        try t.step()
        #expect(statePosition(t) == 2)
    }

    @Test func exactlyOnceWritesStateAfterTheTransactionCommits() throws {
        factory.consumer.append("in", 0, "a")
        let t = try running(.exactlyOnce)
        factory.producer.failNextCommit = KafkaError(code: 48, message: "invalid txn state", transactionRequiresAbort: true)
        clock.advance(by: 100)
        try t.step()
        #expect((statePosition(t) ?? 0) == 0, "the aborted transaction's state is dropped with its task, and not restored")
        try t.step() // the rewound task restores its store again
        clock.advance(by: 100)
        try t.step()
        #expect(factory.producer.events.suffix(2) == ["offsets [in-0@1]", "commit"])
        #expect(statePosition(t) == 1)
    }

    @Test func aRevokedTaskWritesItsStateBeforeItCloses() throws {
        factory.consumer.append("in", 0, "a")
        let t = try running(.atLeastOnce)
        try t.step()
        let task = try #require(t.tasks[TopicPartition("in", 0)])
        let store = try task.store(named: "counts")
        try factory.consumer.unsubscribe()
        #expect(store.committedInputOffset == 1)
    }

    @Test func aStoresChangesGoToItsChangelogWithTheInputPositionTheyReach() throws {
        factory.consumer.append("in", 0, "a")
        let t = try running(.atLeastOnce)
        clock.advance(by: 100)
        try t.step()
        #expect(factory.changelogs.created.map(\.name) == ["app-counts-changelog"])
        #expect(factory.changelogs.created.first?.configs["cleanup.policy"] == "compact,delete")
        let logged = factory.changelogs.logs[TopicPartition("app-counts-changelog", 0)] ?? []
        #expect(!logged.isEmpty)
        #expect(logged.allSatisfy { $0.headers.contains(KafkaHeader("sluice.position", Array("1".utf8))) })
        #expect(logged.allSatisfy { $0.key?.starts(with: Array("in".utf8) + [0]) == true }, "keys carry the input topic")
    }

    @Test func aReassignedTaskRestoresOnlyTheChangesOfCommittedInput() throws {
        factory.consumer.append("in", 0, "a")
        factory.consumer.append("in", 0, "a")
        let t = try running(.atLeastOnce)
        clock.advance(by: 100)
        try t.step()
        try t.step()
        #expect(factory.consumer.committedOffsets[TopicPartition("in", 0)] == 2)
        // A record closes the window: its result and its state change are
        // sent, but neither is acknowledged and its input is never committed.
        factory.consumer.append("in", 0, "x", timestamp: 20_000)
        factory.producer.withholdAcknowledgements = true
        clock.advance(by: 100)
        try t.step()
        t.partitionsLost([TopicPartition("in", 0)])
        factory.producer.withholdAcknowledgements = false

        try factory.consumer.subscribe(["in"])
        try t.step()
        #expect(t.stats.restored.current >= 1)
        try t.step()
        let sent = factory.producer.events.filter { $0.hasPrefix("send out") }
        #expect(sent == ["send out a=2", "send out a=2"], "the window is restored open and its result sent again")
    }
}

/// A task that resumes below its local state's position: the state was
/// written, but the offset commit after it never reached the group (the
/// process died between the two). The records in between are in the state
/// already, and must count once.
@Suite struct StateAheadOfCommittedOffsetTests {
    let factory = FakeFactory()
    let clock = ManualClock(0)
    let input = TopicPartition("in", 0)

    @Test(arguments: ProcessingGuarantee.allCases)
    func aTaskResumedBelowItsStatesPositionCountsEachRecordOnceAndNeverMovesThatPositionBack(_ guarantee: ProcessingGuarantee) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for _ in 0..<3 { factory.consumer.append("in", 0, "a") }
        // One record a poll, so that commit points fall between the records read again.
        let t = try StateCommitTests.thread(guarantee, factory: factory, clock: clock,
                                            state: .directory(directory, StateBudget()), maxPollRecords: 1)
        try t.start()
        for _ in 0..<6 {
            clock.advance(by: 100)
            try t.step()
        }
        let first = try #require(t.tasks[input])
        #expect(try first.store(named: "counts").committedInputOffset == 3)
        #expect(factory.consumer.committedOffsets[input] == 3)

        t.partitionsLost([input])
        factory.consumer.committedOffsets[input] = 1
        try factory.consumer.subscribe(["in"])
        for _ in 0..<8 {
            clock.advance(by: 100)
            try t.step()
            guard let task = t.tasks[input] else { continue }
            #expect(try task.store(named: "counts").committedInputOffset == 3,
                    "a commit point below the state's position leaves that position where it is")
        }
        #expect(t.tasks[input]?.nextOffset == 3, "the task read records 1 and 2 again")
        factory.consumer.append("in", 0, "x", timestamp: 20_000)
        for _ in 0..<2 { try t.step() }
        let sent = factory.producer.events.filter { $0.hasPrefix("send out a=") }
        #expect(sent == ["send out a=3"], "the window counts each of its three records once")
    }
}

/// How stores catch up with their changelogs: in batches, between the
/// thread's other work, and never before the log has shown its true end.
@Suite struct StateRestoreTests {
    let factory = FakeFactory()
    let clock = ManualClock(0)
    let changelog = TopicPartition("app-counts-changelog", 0)

    /// Appends `count` changes of task in-0's window store at input position 1.
    private func logChanges(_ count: Int) {
        for i in 0..<count {
            let key = Array("in".utf8) + [0] + WindowStore.storeKey(Array("k\(i)".utf8), windowStart: 0)
            _ = factory.changelogs.append(KafkaMessage(topic: changelog.topic, partition: 0, offset: 0, key: key,
                                                       value: Array("1".utf8), timestamp: 0,
                                                       headers: [ChangelogHeader.encode(1)]))
        }
    }

    @Test func aTaskRestoringALongChangelogDoesNotHoldUpTheOtherTasks() throws {
        factory.changelogs.partitionCounts["in"] = 2
        factory.changelogs.pollLimit = 10
        logChanges(50)
        factory.consumer.committedOffsets[TopicPartition("in", 0)] = 1
        factory.consumer.append("in", 0, "a")
        factory.consumer.append("in", 0, "b")
        factory.consumer.append("in", 1, "c")
        let t = try StateCommitTests.thread(.atLeastOnce, factory: factory, clock: clock)
        try t.start()
        try t.step()
        try t.step()
        #expect(t.tasks[TopicPartition("in", 1)]?.nextOffset == 1, "the task with nothing to restore runs at once")
        #expect(t.tasks[TopicPartition("in", 0)] == nil, "the other is still restoring")
        #expect(t.stats.restoring.current == 1)
        #expect(factory.consumer.pausedPartitions == [TopicPartition("in", 0)])
        for _ in 0..<5 { try t.step() }
        let task = try #require(t.tasks[TopicPartition("in", 0)])
        #expect(t.stats.restored.current == 50)
        #expect(t.stats.restoring.current == 0)
        #expect(factory.consumer.pausedPartitions.isEmpty)
        #expect(try task.store(named: "counts").committedInputOffset == 1)
        #expect(task.nextOffset == 2, "it starts at its committed offset, not where the consumer had read to")
    }

    /// A restorer of task in-0's in-memory store "counts" from ten changes
    /// of committed input, whose broker reports an end five short of the
    /// true one and lends three records a poll.
    private func restoringTenChanges() -> (StateRestorer, TaskStore, ThreadStats) {
        logChanges(10)
        factory.changelogs.endShortfall = 5
        factory.changelogs.pollLimit = 3
        let stats = ThreadStats(MetricsRegistry(), applicationID: "app", thread: 0)
        let restorer = StateRestorer(changelogs: factory.changelogs, clock: clock, logger: Logger(label: "test"),
                                     stats: stats, quiet: 500)
        let store = TaskStore(name: "counts", bytes: InMemoryStore(),
                              changelog: ChangelogPlace(topic: changelog.topic, task: TopicPartition("in", 0)))
        restorer.begin(TopicPartition("in", 0), stores: ["counts": store], committed: 1)
        return (restorer, store, stats)
    }

    private func keys(in store: TaskStore) throws -> Int {
        var keys = 0
        try store.bytes.scan(from: [], to: nil) { _, _ in keys += 1; return true }
        return keys
    }

    @Test func aRestoreEndsAsSoonAsAFetchFindsTheEndOfTheChangelogWhateverEndTheBrokerReportedFirst() throws {
        factory.changelogs.reportsEnds = true
        let (restorer, store, stats) = restoringTenChanges()
        var done: [StateRestorer.Restored] = []
        for _ in 0..<5 where done.isEmpty { done = try restorer.step(timeout: .zero) }
        #expect(done.map(\.task) == [TopicPartition("in", 0)], "restored with no time passed: no quiet period to wait")
        #expect(stats.restored.current == 10, "every record before the end")
        #expect(try keys(in: store) == 10)
    }

    @Test func aRestoreWaitsAtTheReportedEndForRecordsABrokerReportsLate() throws {
        let (restorer, store, stats) = restoringTenChanges()
        for _ in 0..<5 { #expect(try restorer.step(timeout: .zero).isEmpty) }
        #expect(stats.restored.current == 10, "it read past the reported end")
        #expect(restorer.isBusy, "a log that has not been quiet for long enough may hold more")
        clock.advance(by: 500)
        let done = try restorer.step(timeout: .zero)
        #expect(done.map(\.task) == [TopicPartition("in", 0)])
        #expect(done.first?.committed == 1)
        #expect(store.committedInputOffset == 1)
        #expect(try keys(in: store) == 10, "every change")
    }
}
