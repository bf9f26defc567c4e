import Foundation
import Logging
import SluiceKafka
import Synchronization
import Testing
@testable import Sluice

/// A sink that acknowledges only when told to, and refuses what it is told to.
final class ScriptedSink: Sink, @unchecked Sendable {
    let context: SinkContext
    var written: [(item: String, source: Provenance?)] = []
    var pending = PendingOffsets()
    var tickets: [String: PendingOffsets.Ticket] = [:]
    var full = false
    var flushes = 0
    var acknowledgeOnFlush = true
    var forgotten: [TopicPartition] = []
    var onFlush: () -> Void = {}

    init(context: SinkContext) { self.context = context }

    func write(_ item: String, source: Provenance?) throws {
        written.append((item, source))
        if let source { tickets[item] = pending.add(source) }
    }

    func acknowledge(_ item: String) { tickets.removeValue(forKey: item).map { pending.complete($0) } }

    func refuse(_ item: String) throws {
        let source = written.first { $0.item == item }?.source
        try context.deadLetter(DeadLetter(key: nil, value: Array(item.utf8), timestamp: 7, source: source,
                                          reason: "failed to parse field [status]", errorType: "mapper_parsing_exception",
                                          details: [KafkaHeader("sluice.es.index", "logs")]))
        acknowledge(item)
    }

    func poll(timeout: Duration) throws {}
    func firstPendingOffset(of partition: TopicPartition) -> Int64? { pending.first(of: partition) }
    var isFull: Bool { full }

    func flush(timeout: Duration) throws -> Bool {
        flushes += 1
        onFlush()
        if acknowledgeOnFlush { for item in Array(tickets.keys) { acknowledge(item) } }
        return pending.isEmpty
    }

    func forget(_ partitions: [TopicPartition]) {
        forgotten += partitions
        pending.forget(partitions)
    }

    func close() {}
}

/// A flag one thread sets and another reads.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// Lets a test reach the sink its thread made.
final class SinkHolder: @unchecked Sendable {
    var sink: ScriptedSink!
}

/// How the stream thread drives a sink outside Kafka: commits held below
/// its first unacknowledged item, its dead letters, back-pressure, flushes.
@Suite struct SinkThreadTests {
    let factory = FakeFactory()
    let clock = ManualClock(0)
    let holder = SinkHolder()

    /// `in` to a scripted sink, which `prepare` adjusts as the thread makes it.
    private func topology(prepare: @escaping @Sendable (ScriptedSink) -> Void = { _ in }) throws -> Topology {
        let holder = self.holder
        let b = TopologyBuilder()
        let definition = SinkDefinition<String>(name: "search") { context in
            let sink = ScriptedSink(context: context)
            prepare(sink)
            holder.sink = sink
            return sink
        }
        b.stream(["in"]).to(definition, named: "to-search") { String(decoding: $0.value ?? [], as: UTF8.self) }
        return try b.build()
    }

    private func config(_ guarantee: ProcessingGuarantee) -> StreamsConfig {
        var config = StreamsConfig(applicationID: "app", kafka: KafkaConfig(["bootstrap.servers": "unused:1"]))
        config.guarantee = guarantee
        config.commitInterval = .milliseconds(100)
        config.operationTimeout = .milliseconds(10)
        return config
    }

    private func thread(_ guarantee: ProcessingGuarantee) throws -> StreamThread {
        StreamThread(index: 0, topology: try topology(), config: config(guarantee), processID: "p1", factory: factory,
                     clock: clock, logger: Logger(label: "test"))
    }

    private func stepAndCommit(_ t: StreamThread) throws {
        clock.advance(by: 100)
        try t.step()
    }

    private var commits: [String] { factory.consumer.events.filter { $0.hasPrefix("commit") } }

    @Test func atLeastOnceCommitsAPartitionOnlyBelowItsFirstItemTheSinkHasNotAcknowledged() throws {
        for value in ["a", "b", "c"] { factory.consumer.append("in", 0, value) }
        factory.consumer.append("in", 1, "x")
        let t = try thread(.atLeastOnce)
        try t.start()
        try t.step()
        holder.sink.acknowledge("x")
        holder.sink.acknowledge("a")
        try stepAndCommit(t)
        try t.step()
        #expect(commits == ["commit async [in-0@1, in-1@1]"], "b at offset 1 is still pending")
        holder.sink.acknowledge("c")
        try t.step()
        #expect(commits.count == 1, "b still holds the partition back, acknowledged out of order or not")
        holder.sink.acknowledge("b")
        try t.step()
        #expect(commits.last == "commit async [in-0@3]")
        try t.step()
        #expect(commits.count == 2, "a position is committed once")
    }

    @Test func aThreadWritingToASinkOutsideKafkaPrefetchesLessInLongerRunsPerPartitionUnlessTheConfigurationSaysOtherwise() throws {
        try thread(.atLeastOnce).start()
        var configured = config(.atLeastOnce)
        configured.consumer = KafkaConfig(["queued.max.messages.kbytes": "4096"])
        try StreamThread(index: 1, topology: try topology(), config: configured, processID: "p1", factory: factory,
                         clock: clock, logger: Logger(label: "test")).start()
        let plain = TopologyBuilder()
        plain.stream(["in"]).to("out")
        try StreamThread(index: 2, topology: try plain.build(), config: config(.atLeastOnce), processID: "p1", factory: factory,
                         clock: clock, logger: Logger(label: "test")).start()
        #expect(factory.consumerConfigs.map { $0["queued.max.messages.kbytes"] } == ["2048", "4096", "8192"])
        #expect(factory.consumerConfigs.map { $0["max.partition.fetch.bytes"] } == ["8388608", "8388608", nil],
                "a sink's thread fetches long runs of one partition")
    }

    /// A thread counting `in`'s values in 10 s windows, results to a scripted sink.
    private func countingThread(_ guarantee: ProcessingGuarantee = .atLeastOnce, idleClose: Duration? = nil) throws -> StreamThread {
        let holder = self.holder
        let b = TopologyBuilder()
        let definition = SinkDefinition<String>(name: "search") { context in
            holder.sink = ScriptedSink(context: context)
            return holder.sink
        }
        let options = WindowedAggregateOptions(windows: try .tumbling(.seconds(10)), idleClose: idleClose)
        b.stream(["in"])
            .windowedAggregate(store: "counts", options: options, CountAggregator())
            .to(definition) { "\(String(decoding: $0.value.key, as: UTF8.self))=\($0.value.aggregate)" }
        let t = StreamThread(index: 0, topology: try b.build(), config: config(guarantee), processID: "p1", factory: factory,
                             clock: clock, logger: Logger(label: "test"))
        t.restoreQuiet = 0
        return t
    }

    /// Starts `t` with one record, "a" at time 0, processed and past a commit point.
    private func startWithOneRecord(_ t: StreamThread) throws {
        factory.consumer.append("in", 0, "a", timestamp: 0)
        try t.start()
        try t.step()
        try stepAndCommit(t)
    }

    /// Loses partition `in-0` and takes it back: its state comes from the changelog.
    private func loseAndRestore(_ t: StreamThread) throws {
        t.partitionsLost([TopicPartition("in", 0)])
        try factory.consumer.subscribe(["in"])
        try t.step()
        try t.step()
    }

    @Test func aStatefulTaskWhoseSinkHoldsItBackCommitsNothingUntilItsStateIsWrittenSoARestoreCountsEveryRecordOnce() throws {
        let t = try countingThread()
        try startWithOneRecord(t)
        try t.step()
        #expect(commits == ["commit async [in-0@1]"])
        // The window closes at offset 2; the sink holds its result, so the
        // commit point at 3 is held, and the state stays at offset 1.
        factory.consumer.append("in", 0, "a", timestamp: 5_000)
        factory.consumer.append("in", 0, "x", timestamp: 20_000)
        try stepAndCommit(t)
        try t.step()
        #expect(holder.sink.written.map(\.item) == ["a=2"])
        #expect(commits == ["commit async [in-0@1]"], "offset 2 lies between two positions the state can be restored to")

        try loseAndRestore(t)
        #expect(holder.sink.written.map(\.item) == ["a=2", "a=2"], "the restored window counts the record at offset 1 once")
    }

    @Test func aWindowClosedIdleStaysOpenInTheChangelogUntilTheSinkHasItsResultSoNoCrashLosesIt() throws {
        let t = try countingThread(idleClose: .seconds(1))
        try startWithOneRecord(t)
        try t.step()
        #expect(commits == ["commit async [in-0@1]"])
        // No record comes; the window closes on the wall clock. Its result
        // derives from the last record processed, whose offset is committed.
        clock.advance(by: 1_500)
        try t.step()
        #expect(holder.sink.written.map(\.item) == ["a=1"])
        #expect(holder.sink.written.last?.source?.offset == 0, "the sink holds the result against the last record processed")
        for _ in 0..<3 { try stepAndCommit(t) }
        #expect(commits == ["commit async [in-0@1]"])

        // A crash now: the close is in no changelog record, so the restored
        // window is open and closes again.
        try loseAndRestore(t)
        clock.advance(by: 1_500)
        try t.step()
        #expect(holder.sink.written.map(\.item) == ["a=1", "a=1"], "the result the sink never acknowledged comes again")

        // Once the sink has it, the close seals, and a restore keeps it closed.
        holder.sink.acknowledge("a=1")
        for _ in 0..<3 { try stepAndCommit(t) }
        try loseAndRestore(t)
        clock.advance(by: 1_500)
        try t.step()
        try stepAndCommit(t)
        #expect(holder.sink.written.map(\.item) == ["a=1", "a=1"], "a window closed once its result was durable stays closed")
    }

    @Test func exactlyOnceFlushesAnIdleWindowsResultBeforeItsCloseJoinsTheChangelog() throws {
        let t = try countingThread(.exactlyOnce, idleClose: .seconds(1))
        try startWithOneRecord(t)
        holder.sink.onFlush = { [factory] in factory.producer.events.append("sink flushed") }
        let before = factory.producer.events.count
        clock.advance(by: 1_500)
        try t.step()
        let events = Array(factory.producer.events[before...])
        #expect(holder.sink.written.map(\.item) == ["a=1"])
        let flushed = try #require(events.firstIndex(of: "sink flushed"))
        let logged = try #require(events.firstIndex { $0.hasPrefix("send app-counts-changelog") })
        #expect(flushed < logged, "the result is durable before the close is logged")
    }

    @Test func anItemTheSinkRefusedIsCommittedOnlyOnceItsDeadLetterIsAcknowledged() throws {
        factory.consumer.append("in", 0, "bad")
        let t = try thread(.atLeastOnce)
        try t.start()
        try stepAndCommit(t)
        try t.step()
        #expect(commits == ["commit async [in-0@0]"], "the sink holds the record at offset 0")
        factory.producer.withholdAcknowledgements = true
        try holder.sink.refuse("bad")
        try t.step()
        #expect(commits.count == 1, "the dead letter is not acknowledged yet")
        factory.producer.withholdAcknowledgements = false
        try t.step()
        #expect(commits.last == "commit async [in-0@1]")
    }

    @Test func aRefusedItemsDeadLetterNamesTheSinkTheErrorAndTheInputRecord() throws {
        factory.consumer.append("in", 0, "bad")
        let t = try thread(.atLeastOnce)
        try t.start()
        try t.step()
        try holder.sink.refuse("bad")
        #expect(factory.producer.events.last == "send app-dlq bad")
        var headers: [String: String] = [:]
        let sent = try #require(factory.producer.sentHeaders.last)
        for h in sent { headers[h.key] = h.value.map { String(decoding: $0, as: UTF8.self) } }
        #expect(headers[DeadLetterHeader.processor] == "search")
        #expect(headers[DeadLetterHeader.errorType] == "mapper_parsing_exception")
        #expect(headers[DeadLetterHeader.reason] == "failed to parse field [status]")
        #expect(headers[DeadLetterHeader.sourceTopic] == "in")
        #expect(headers[DeadLetterHeader.sourcePartition] == "0")
        #expect(headers[DeadLetterHeader.sourceOffset] == "0")
        #expect(headers["sluice.es.index"] == "logs")
    }

    @Test func aFullSinkHoldsInputBackWithoutPausingForAMomentThenPausesEveryOwnedPartitionUntilItHasRoomAgain() throws {
        factory.consumer.append("in", 0, "a")
        factory.consumer.append("in", 1, "b")
        let t = try thread(.atLeastOnce)
        try t.start()
        try t.step()
        holder.sink.full = true
        factory.consumer.append("in", 0, "c")
        try t.step()
        clock.advance(by: 999)
        try t.step()
        #expect(!factory.consumer.events.contains { $0.hasPrefix("pause") }, "a short wait keeps what librdkafka fetched")
        #expect(!holder.sink.written.contains { $0.item == "c" }, "nothing is read while the sink is full")
        clock.advance(by: 1)
        try t.step()
        #expect(factory.consumer.events.contains("pause [in-0, in-1]"))
        #expect(!holder.sink.written.contains { $0.item == "c" }, "nothing is read while the sink is full")
        holder.sink.full = false
        try t.step()
        try t.step()
        #expect(factory.consumer.events.contains("resume [in-0, in-1]"))
        #expect(holder.sink.written.map(\.item) == ["a", "b", "c"])
    }

    @Test func revocationFlushesTheSinkBeforeCommittingAndForgetsThePartitions() throws {
        factory.consumer.append("in", 0, "a")
        let t = try thread(.atLeastOnce)
        try t.start()
        try t.step()
        try factory.consumer.unsubscribe()
        #expect(holder.sink.flushes == 1)
        #expect(commits == ["commit [in-0@1]"])
        #expect(holder.sink.forgotten == [TopicPartition("in", 0)])
    }

    @Test func shutdownWaitsUntilTheSinkHasNothingPendingBeforeCommitting() throws {
        factory.consumer.append("in", 0, "a")
        let t = try thread(.atLeastOnce)
        try t.start()
        try t.step()
        holder.sink.acknowledgeOnFlush = false
        let sink = holder.sink!
        // The sink stays busy for two flush attempts, then catches up.
        var attempts = 0
        sink.onFlush = {
            attempts += 1
            if attempts == 3 { sink.acknowledge("a") }
        }
        try t.shutdown()
        #expect(attempts == 3)
        #expect(commits == ["commit [in-0@1]"])
    }

    @Test func waitWithATimeoutSaysFalseWhileASinkHoldsTheDrainAndTrueOnceItHasAcknowledged() throws {
        let released = Flag()
        let topology = try topology { sink in
            sink.acknowledgeOnFlush = false
            // A destination that is down: each flush attempt takes its time and acknowledges nothing.
            sink.onFlush = { if released.isSet { sink.acknowledge("a") } else { blockThread(for: .milliseconds(5)) } }
        }
        factory.consumer.append("in", 0, "a")
        var config = config(.atLeastOnce)
        config.threads = 1
        config.stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: config.stateDirectory) }
        let app = try StreamApplication(topology: topology, config: config, clientFactory: factory)
        app.start()
        #expect(app.waitUntilProcessed(1, timeout: .seconds(30)))
        app.stop()
        #expect(try app.wait(timeout: .milliseconds(200)) == false, "the drain waits for the sink")
        released.set()
        #expect(try app.wait(timeout: .seconds(30)), "and ends once the sink has acknowledged")
        #expect(commits == ["commit [in-0@1]"])
    }

    @Test func anEndedApplicationHasDestroyedEveryKafkaClientOfItsThreadsWhenWaitReturns() throws {
        let clients = WeakClients()
        var config = config(.exactlyOnce)
        config.threads = 2
        config.stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: config.stateDirectory) }
        let app = try StreamApplication(topology: try topology(), config: config, clientFactory: clients)
        app.start()
        #expect(clients.waitUntilMade(consumers: 2, producers: 2))
        app.stop()
        #expect(try app.wait(timeout: .seconds(30)))
        #expect(clients.alive == 0, "a client still alive at exit races librdkafka's threads against exit handlers")
    }

    @Test func anEndedApplicationWithStoresHasDestroyedItsChangelogClientsToo() throws {
        let clients = WeakClients()
        var config = config(.atLeastOnce)
        config.stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: config.stateDirectory) }
        let b = TopologyBuilder()
        b.stream(["in"])
            .windowedAggregate(store: "counts", options: WindowedAggregateOptions(windows: try .tumbling(.seconds(10))),
                               CountAggregator())
            .to("out") { Array(String($0.aggregate).utf8) }
        let app = try StreamApplication(topology: try b.build(), config: config, clientFactory: clients)
        app.start()
        #expect(clients.waitUntilMade(consumers: 1, producers: 1, changelogs: 1))
        app.stop()
        #expect(try app.wait(timeout: .seconds(30)))
        #expect(clients.alive == 0, "a changelog consumer or admin client still alive at exit races librdkafka's threads against exit handlers")
    }

    @Test func exactlyOnceFlushesTheSinkBeforeTheOffsetsJoinTheTransaction() throws {
        factory.consumer.append("in", 0, "a")
        let t = try thread(.exactlyOnce)
        try t.start()
        holder.sink.onFlush = { [factory] in factory.producer.events.append("sink flushed") }
        try stepAndCommit(t)
        #expect(factory.producer.events == ["init", "begin", "sink flushed", "offsets [in-0@1]", "commit"])
    }

    @Test func theTestDriverRecordsWhatEachSinkWasGivenWithItsSource() throws {
        let b = TopologyBuilder()
        let definition = SinkDefinition<String>(name: "search") { _ in fatalError("the driver makes no real sink") }
        b.stream(["in"]).to(definition) { String(decoding: $0.value ?? [], as: UTF8.self).uppercased() }
        let driver = TopologyTestDriver(topology: try b.build())
        try driver.pipe("in", value: "a")
        try driver.pipe("in", partition: 2, value: "b")
        let output = driver.sinkOutput("search", as: String.self)
        #expect(output.map(\.item) == ["A", "B"])
        #expect(output.map(\.source) == [Provenance(topic: "in", partition: 0, offset: 0),
                                          Provenance(topic: "in", partition: 2, offset: 0)])
    }
}
