import Foundation
import Logging
import SluiceKafka
import Testing
@testable import Sluice

/// The stream thread's commit protocol, driven step by step with a scripted
/// consumer and a recording producer.
@Suite struct StreamThreadTests {
    let factory = FakeFactory()
    let clock = ManualClock(0)

    private func topology() throws -> Topology {
        let b = TopologyBuilder()
        b.stream(["in"]).filter { $0.value != Array("drop".utf8) }.mapValues { r -> [UInt8]? in
            if r.value == Array("bad".utf8) { throw CocoaError(.formatting) }
            return r.value
        }.to("out")
        return try b.build()
    }

    private func thread(_ guarantee: ProcessingGuarantee, processID: String = "p1",
                        metrics: MetricsRegistry = MetricsRegistry()) throws -> StreamThread {
        var config = StreamsConfig(applicationID: "app", kafka: KafkaConfig(["bootstrap.servers": "unused:1"]))
        config.guarantee = guarantee
        config.commitInterval = .milliseconds(100)
        config.operationTimeout = .milliseconds(10)
        return StreamThread(index: 0, topology: try topology(), config: config, processID: processID, factory: factory,
                            clock: clock, logger: Logger(label: "test"), metrics: metrics)
    }

    /// One loop iteration with the commit interval elapsed.
    private func stepAndCommit(_ t: StreamThread) throws {
        clock.advance(by: 100)
        try t.step()
    }

    @Test func exactlyOnceRunsBeginProduceSendOffsetsCommitInThatOrder() throws {
        factory.consumer.append("in", 0, "a")
        factory.consumer.append("in", 0, "drop")
        factory.consumer.append("in", 0, "b")
        let t = try thread(.exactlyOnce)
        try t.start()
        try stepAndCommit(t)
        #expect(factory.producer.events == ["init", "begin", "send out a", "send out b", "offsets [in-0@3]", "commit"])
        #expect(factory.consumer.events.filter { $0.hasPrefix("commit") }.isEmpty, "offsets go through the transaction only")
        #expect(t.stats.commitDuration.count == 1, "each transaction's commit is timed")
    }

    @Test func exactlyOnceCommitsOffsetsOfRecordsThatProducedNoOutput() throws {
        factory.consumer.append("in", 0, "drop")
        let t = try thread(.exactlyOnce)
        try t.start()
        try stepAndCommit(t)
        #expect(factory.producer.events == ["init", "begin", "offsets [in-0@1]", "commit"])
    }

    @Test func exactlyOnceSendsDeadLettersInsideTheTransaction() throws {
        factory.consumer.append("in", 0, "bad")
        let t = try thread(.exactlyOnce)
        try t.start()
        try stepAndCommit(t)
        #expect(factory.producer.events == ["init", "begin", "send app-dlq bad", "offsets [in-0@1]", "commit"])
    }

    @Test func deadLettersAreCountedByTheProcessorThatThrewAndTheErrorsType() throws {
        factory.consumer.append("in", 0, "bad")
        factory.consumer.append("in", 0, "fine")
        factory.consumer.append("in", 0, "bad")
        let metrics = MetricsRegistry()
        let t = try thread(.atLeastOnce, metrics: metrics)
        try t.start()
        try stepAndCommit(t)
        let series = metrics.prometheusText().split(separator: "\n").filter { $0.hasPrefix("sluice_dead_letters_total{") }
        #expect(series.count == 1)
        #expect(series.first?.contains(#"{application="app",thread="0",processor="MAP-0003",type="CocoaError"} 2"#) == true, "\(series)")
        #expect(t.stats.deadLetters.current == 2)
    }

    @Test func recordsAreCountedBySourceTopicOutputTopicAndProcessorNode() throws {
        for value in ["a", "drop", "b", "bad"] { factory.consumer.append("in", 0, value) }
        let metrics = MetricsRegistry()
        let t = try thread(.atLeastOnce, metrics: metrics)
        try t.start()
        try stepAndCommit(t)
        let text = metrics.prometheusText()
        let labels = #"application="app",thread="0""#
        #expect(text.contains(#"sluice_records_processed_total{\#(labels),topic="in"} 4"#), "\(text)")
        #expect(text.contains(#"sluice_records_produced_total{\#(labels),topic="out"} 2"#))
        #expect(text.contains(#"sluice_records_produced_total{\#(labels),topic="app-dlq"} 1"#))
        let reached = text.split(separator: "\n").filter { $0.hasPrefix("sluice_processor_records_total{") }
        #expect(reached.count == 4, "source, filter, map, sink")
        for (node, count) in [("SOURCE-0001", 4), ("FILTER-0002", 4), ("MAP-0003", 3), ("SINK-0004", 2)] {
            #expect(reached.contains { $0.hasSuffix(#"processor="\#(node)"} \#(count)"#) }, "\(node): \(reached)")
        }
    }

    @Test func lagIsTheHighWatermarkLessThePositionAndLeavesWithThePartition() throws {
        for value in ["a", "b", "c", "d", "e"] { factory.consumer.append("in", 0, value) }
        let metrics = MetricsRegistry()
        var config = StreamsConfig(applicationID: "app", kafka: KafkaConfig(["bootstrap.servers": "unused:1"]))
        config.maxPollRecords = 2
        let t = StreamThread(index: 0, topology: try topology(), config: config, processID: "p1", factory: factory,
                             clock: clock, logger: Logger(label: "test"), metrics: metrics)
        try t.start()
        try stepAndCommit(t)
        let series = #"sluice_consumer_lag_records{application="app",thread="0",topic="in",partition="0"}"#
        #expect(metrics.prometheusText().contains(series + " 3"))
        try factory.consumer.unsubscribe()
        #expect(!metrics.prometheusText().contains(series), "a partition no longer owned has no lag series")
    }

    @Test func aFailedCommitAbortsAndRewindsTasksToTheCommittedOffsets() throws {
        factory.consumer.append("in", 0, "a")
        let t = try thread(.exactlyOnce)
        try t.start()
        try stepAndCommit(t)
        factory.consumer.append("in", 0, "b")
        factory.consumer.append("in", 0, "c")
        factory.producer.failNextCommit = KafkaError(code: 48, message: "invalid txn state", transactionRequiresAbort: true)
        try stepAndCommit(t)
        #expect(factory.producer.events.suffix(5) == ["begin", "send out b", "send out c", "offsets [in-0@3]", "abort"])
        #expect(factory.consumer.events.last == "seek [in-0@1]")
        #expect(t.tasks[TopicPartition("in", 0)]?.nextOffset == nil, "a fresh task replaces the rewound one")
        factory.producer.events.removeAll()
        try stepAndCommit(t)
        #expect(factory.producer.events == ["begin", "send out b", "send out c", "offsets [in-0@3]", "commit"])
    }

    @Test func aFencedProducerClosesTasksWithoutCommitAndRejoinsWithANewProducer() throws {
        factory.consumer.append("in", 0, "a")
        let t = try thread(.exactlyOnce)
        try t.start()
        let first = factory.producer
        first.failNextCommit = KafkaError(code: 90, message: "producer fenced", isFatal: true)
        try stepAndCommit(t)
        #expect(!first.events.contains("commit"))
        #expect(!first.events.contains("abort"), "a fenced producer may not touch the transaction")
        #expect(factory.producers.count == 2)
        #expect(factory.producer.events == ["init"])
        #expect(factory.consumer.events.suffix(2) == ["unsubscribe", "subscribe"])
        #expect(factory.consumer.events.allSatisfy { !$0.hasPrefix("commit") })
        try stepAndCommit(t)
        #expect(factory.producer.events == ["init", "begin", "send out a", "offsets [in-0@1]", "commit"])
    }

    @Test func theTransactionalIDDependsOnlyOnApplicationProcessAndThreadIndex() throws {
        let t1 = try thread(.exactlyOnce, processID: "p1")
        try t1.start()
        let t2 = try thread(.exactlyOnce, processID: "p1")
        try t2.start()
        let ids = factory.producerConfigs.map { $0["transactional.id"] }
        #expect(ids == ["app-p1-0", "app-p1-0"])
    }

    @Test func aRestartedApplicationKeepsItsProcessIDAndSoItsTransactionalIDs() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = StreamsConfig(applicationID: "app", kafka: KafkaConfig())
        config.stateDirectory = dir
        let topology = try topology()
        let first = try StreamApplication(topology: topology, config: config, clientFactory: factory).processID
        let second = try StreamApplication(topology: topology, config: config, clientFactory: factory).processID
        #expect(first == second)
        config.stateDirectory = dir + "-other"
        defer { try? FileManager.default.removeItem(atPath: dir + "-other") }
        let other = try StreamApplication(topology: topology, config: config, clientFactory: factory).processID
        #expect(other != first)
    }

    @Test func aThreadWhoseDeliveryFailsStopsTheInstanceAndWaitThrowsItsError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = StreamsConfig(applicationID: "app", kafka: KafkaConfig())
        config.stateDirectory = dir
        config.threads = 1
        factory.consumer.append("in", 0, "a")
        let failing = FailingFactory(inner: factory)
        let app = try StreamApplication(topology: try topology(), config: config, clientFactory: failing)
        app.start()
        #expect { try app.wait() } throws: { ($0 as? StreamThreadError)?.underlying is KafkaError }
        #expect(factory.consumer.events.allSatisfy { !$0.hasPrefix("commit") })
    }

    @Test func twoProcessesCannotShareAStateDirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = StreamsConfig(applicationID: "app", kafka: KafkaConfig())
        config.stateDirectory = dir
        let holder = try StreamApplication(topology: try topology(), config: config, clientFactory: factory)
        #expect(throws: TopologyError.self) { try StreamApplication(topology: try topology(), config: config, clientFactory: factory) }
        withExtendedLifetime(holder) {}
    }

    /// An at-least-once thread over two partitions that has reached a
    /// commit point while the broker has acknowledged nothing.
    private func threadAtAnUnacknowledgedCommitPoint() throws -> StreamThread {
        factory.consumer.append("in", 0, "a")
        factory.consumer.append("in", 1, "b")
        let t = try thread(.atLeastOnce)
        try t.start()
        factory.producer.withholdAcknowledgements = true
        try stepAndCommit(t)
        return t
    }

    @Test func atLeastOnceCommitsOffsetsOnlyOnceTheOutputsBeforeThemAreAcknowledged() throws {
        let t = try threadAtAnUnacknowledgedCommitPoint()
        try t.step()
        #expect(factory.consumer.events.allSatisfy { !$0.hasPrefix("commit") }, "outputs not acknowledged yet")
        #expect(!factory.producer.events.contains("flush"), "a commit point never stops the thread to flush")
        factory.producer.withholdAcknowledgements = false
        clock.advance(by: 250)
        try t.step()
        #expect(factory.consumer.events.last == "commit async [in-0@1, in-1@1]")
        #expect(!factory.producer.events.contains("begin"))
        #expect(t.stats.commitDuration.count == 1)
        #expect(t.stats.commitDuration.snapshot.sum == 0.25, "the commit came 250 ms after its commit point")
    }

    @Test func atLeastOnceNeverCommitsPastAFailedDelivery() throws {
        factory.consumer.append("in", 0, "a")
        let t = try thread(.atLeastOnce)
        try t.start()
        factory.producer.withholdAcknowledgements = true
        factory.producer.deliveryFailure = KafkaError(code: -192, message: "message timed out")
        #expect(throws: KafkaError.self) { try stepAndCommit(t) }
        #expect(throws: KafkaError.self) { try t.shutdown() }
        #expect(factory.consumer.events.allSatisfy { !$0.hasPrefix("commit") })
    }

    @Test func lostPartitionsLeaveThePendingCommitPoints() throws {
        let t = try threadAtAnUnacknowledgedCommitPoint()
        t.partitionsLost([TopicPartition("in", 1)])
        factory.producer.withholdAcknowledgements = false
        try t.step()
        #expect(factory.consumer.events.last == "commit async [in-0@1]")
    }

    @Test func revokedPartitionsAreCommittedBeforeTheirTasksClose() throws {
        factory.consumer.append("in", 0, "a")
        let t = try thread(.atLeastOnce)
        try t.start()
        try t.step()
        #expect(factory.consumer.events.allSatisfy { !$0.hasPrefix("commit") }, "the interval has not elapsed")
        try factory.consumer.unsubscribe()
        #expect(factory.consumer.events.suffix(2) == ["unsubscribe", "commit [in-0@1]"], "a synchronous commit before the tasks go")
        #expect(t.tasks.isEmpty)
    }

    @Test func shutdownCommitsClosesTasksAndLeavesTheGroup() throws {
        factory.consumer.append("in", 0, "a")
        let t = try thread(.exactlyOnce)
        try t.start()
        try t.step()
        try t.shutdown()
        #expect(factory.producer.events.suffix(3) == ["offsets [in-0@1]", "commit", "flush"])
        #expect(factory.consumer.events.last == "close")
        #expect(factory.consumer.committedOffsets == [TopicPartition("in", 0): 1])
        #expect(t.tasks.isEmpty)
    }
}

/// The fake clients, with every delivery failing.
final class FailingFactory: KafkaClientFactory, @unchecked Sendable {
    let inner: FakeFactory
    init(inner: FakeFactory) { self.inner = inner }

    func makeConsumer(config: KafkaConfig, logger: Logger) throws -> ConsumerClient {
        try inner.makeConsumer(config: config, logger: logger)
    }

    func makeProducer(config: KafkaConfig, logger: Logger) throws -> ProducerClient {
        let producer = try inner.makeProducer(config: config, logger: logger) as! RecordingProducer
        producer.deliveryFailure = KafkaError(code: -192, message: "message timed out")
        return producer
    }

    func makeChangelogs(config: KafkaConfig, logger: Logger) throws -> ChangelogClient {
        try inner.makeChangelogs(config: config, logger: logger)
    }
}
