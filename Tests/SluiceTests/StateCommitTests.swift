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
        #expect(statePosition(t) == nil, "the aborted transaction's state is dropped with its task")
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
}
