import Logging
import SluiceKafka
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
        let b = TopologyBuilder()
        b.stream(["in"])
            .windowedAggregate(store: "counts", options: WindowedAggregateOptions(windows: try .tumbling(.seconds(10))),
                               CountAggregator())
            .to("out") { Array("\(String(decoding: $0.key, as: UTF8.self))=\($0.aggregate)".utf8) }
        var config = StreamsConfig(applicationID: "app", kafka: KafkaConfig(["bootstrap.servers": "unused:1"]))
        config.guarantee = guarantee
        config.commitInterval = .milliseconds(100)
        config.operationTimeout = .milliseconds(10)
        return StreamThread(index: 0, topology: try b.build(), config: config, processID: "p1", factory: factory,
                            clock: clock, logger: Logger(label: "test"))
    }

    private func statePosition(_ t: StreamThread) -> Int64? { t.tasks[TopicPartition("in", 0)]?.statePosition }

    @Test func atLeastOnceWritesStateOnlyOnceTheOutputsBeforeItAreAcknowledged() throws {
        factory.consumer.append("in", 0, "a")
        factory.consumer.append("in", 0, "a")
        let t = try thread(.atLeastOnce)
        try t.start()
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
        let t = try thread(.exactlyOnce)
        try t.start()
        factory.producer.failNextCommit = KafkaError(code: 48, message: "invalid txn state", transactionRequiresAbort: true)
        clock.advance(by: 100)
        try t.step()
        #expect((statePosition(t) ?? 0) == 0, "the aborted transaction's state is dropped with its task, and not restored")
        clock.advance(by: 100)
        try t.step()
        #expect(factory.producer.events.suffix(2) == ["offsets [in-0@1]", "commit"])
        #expect(statePosition(t) == 1)
    }

    @Test func aRevokedTaskWritesItsStateBeforeItCloses() throws {
        factory.consumer.append("in", 0, "a")
        let t = try thread(.atLeastOnce)
        try t.start()
        try t.step()
        let task = try #require(t.tasks[TopicPartition("in", 0)])
        let store = try task.store(named: "counts")
        try factory.consumer.unsubscribe()
        #expect(store.committedInputOffset == 1)
    }

    @Test func aStoresChangesGoToItsChangelogWithTheInputPositionTheyReach() throws {
        factory.consumer.append("in", 0, "a")
        let t = try thread(.atLeastOnce)
        try t.start()
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
        let t = try thread(.atLeastOnce)
        try t.start()
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
        let sent = factory.producer.events.filter { $0.hasPrefix("send out") }
        #expect(sent == ["send out a=2", "send out a=2"], "the window is restored open and its result sent again")
    }
}
