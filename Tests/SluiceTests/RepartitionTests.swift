import Foundation
import Logging
import SluiceKafka
import Testing
@testable import Sluice

/// Repartitioning: records with one key meet in one task through an
/// internal topic, and a windowed aggregate after it counts each upstream
/// record once even when the upstream task sends it again.
@Suite struct RepartitionTests {
    static let topic = "app-counts-repartition"

    /// `in` → repartition by value → counts per value in 10 s windows → `out`.
    static func topology() throws -> Topology {
        let b = TopologyBuilder()
        b.stream(["in"])
            .repartition(through: topic, named: "by-value", key: { $0.value }, serialize: { $0 })
            .windowedAggregate(store: "counts", options: WindowedAggregateOptions(windows: try .tumbling(.seconds(10))),
                               CountAggregator())
            .to("out") { Array("\(String(decoding: $0.key, as: UTF8.self))=\($0.aggregate)".utf8) }
        return try b.build()
    }

    private func upstream(_ partition: Int32, _ offset: Int64, _ index: Int64) -> [KafkaHeader] {
        [KafkaHeader(UpstreamPosition.header,
                     UpstreamPosition(source: TopicPartition("in", partition), offset: offset, index: index).encoded)]
    }

    @Test func recordsOfOneKeyFromSeveralInputPartitionsMeetInOneTaskOfTheRepartitionTopic() throws {
        let topology = try Self.topology()
        #expect(topology.repartitionTopics == [Self.topic])
        #expect(topology.inputTopics == ["in"], "the application creates the repartition topic; it is not an input")
        let driver = TopologyTestDriver(topology: topology, applicationID: "app")
        defer { driver.close() }
        try driver.pipe("in", partition: 0, value: "a", timestamp: 1_000)
        try driver.pipe("in", partition: 1, value: "a", timestamp: 2_000)
        try driver.pipe("in", partition: 1, value: "b", timestamp: 3_000)
        try driver.endInput()
        #expect(driver.outputValues("out").sorted() == ["a=2", "b=1"], "one window per key, whichever partition it came from")
        #expect(driver.task(for: Self.topic) != nil && driver.task(for: "in", partition: 0)?.keepsState == false,
                "the aggregate runs in the repartition topic's task; the input's tasks hold no state")
        let sent = driver.output(Self.topic)
        #expect(sent.map { $0.key.map { String(decoding: $0, as: UTF8.self) } } == ["a", "a", "b"])
        #expect(sent.map { UpstreamPosition(headers: $0.headers)?.source.partition } == [0, 1, 1])
    }

    @Test func eachRecordMadeFromOneInputRecordCarriesItsOwnIndex() throws {
        let b = TopologyBuilder()
        b.stream(["in"])
            .flatMap(named: "words") { record in
                String(decoding: record.value ?? [], as: UTF8.self).split(separator: " ").map { record.withValue(Array($0.utf8)) }
            }
            .repartition(through: Self.topic, key: { $0.value }, serialize: { $0 })
            .to("out") { $0 }
        let driver = TopologyTestDriver(topology: try b.build(), applicationID: "app")
        defer { driver.close() }
        try driver.pipe("in", value: "x y z")
        try driver.pipe("in", value: "w")
        let positions = driver.output(Self.topic).compactMap { UpstreamPosition(headers: $0.headers) }
        #expect(positions.map { [$0.offset, $0.index] } == [[0, 0], [0, 1], [0, 2], [1, 0]])
    }

    @Test func aRecordTheUpstreamTaskSendsAgainIsCountedOnceEvenAfterARestart() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("repartition-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let driver = TopologyTestDriver(topology: try Self.topology(), applicationID: "app", stateDirectory: directory)
            defer { driver.close() }
            try driver.pipe(Self.topic, key: "a", value: "a", headers: upstream(0, 5, 0), timestamp: 1_000)
            try driver.pipe(Self.topic, key: "a", value: "a", headers: upstream(0, 5, 1), timestamp: 1_000)
            // The upstream task crashed before committing offset 5 and sends again from there.
            try driver.pipe(Self.topic, key: "a", value: "a", headers: upstream(0, 5, 0), timestamp: 1_000)
            try driver.pipe(Self.topic, key: "a", value: "a", headers: upstream(1, 5, 0), timestamp: 1_000)
        }
        let driver = TopologyTestDriver(topology: try Self.topology(), applicationID: "app", stateDirectory: directory)
        defer { driver.close() }
        try driver.pipe(Self.topic, key: "a", value: "a", headers: upstream(0, 5, 1), timestamp: 1_000)
        try driver.pipe(Self.topic, key: "a", value: "a", headers: upstream(0, 6, 0), timestamp: 1_000)
        try driver.pipe(Self.topic, key: "a", value: "a", timestamp: 1_000)
        try driver.endInput()
        #expect(driver.outputValues("out") == ["a=5"],
                "in-0@5 #0 and #1, in-1@5, in-0@6 and one record without an upstream position; the repeats pass over")
    }

    @Test func aStreamThreadCreatesTheRepartitionTopicWithTheInputsPartitionsBeforeSubscribing() throws {
        let factory = FakeFactory()
        factory.changelogs.partitionCounts["in"] = 6
        var config = StreamsConfig(applicationID: "app", kafka: KafkaConfig(["bootstrap.servers": "unused:1"]))
        config.operationTimeout = .milliseconds(10)
        let thread = StreamThread(index: 0, topology: try Self.topology(), config: config, processID: "p1", factory: factory,
                                  clock: ManualClock(0), logger: Logger(label: "test"))
        try thread.start()
        let created = Dictionary(uniqueKeysWithValues: factory.changelogs.created.map { ($0.name, $0) })
        #expect(created[Self.topic]?.partitions == 6)
        #expect(created[Self.topic]?.configs == ["cleanup.policy": "delete", "retention.ms": "-1"])
        #expect(created["app-counts-changelog"]?.partitions == 6)
        #expect(factory.consumer.events.first == "subscribe")
        try thread.shutdown()
    }

    @Test func aRepartitionTopicWithAnotherPartitionCountStopsTheThreadBeforeItSubscribes() throws {
        let factory = FakeFactory()
        factory.changelogs.partitionCounts["in"] = 6
        factory.changelogs.partitionCounts[Self.topic] = 4
        var config = StreamsConfig(applicationID: "app", kafka: KafkaConfig(["bootstrap.servers": "unused:1"]))
        config.operationTimeout = .milliseconds(10)
        let thread = StreamThread(index: 0, topology: try Self.topology(), config: config, processID: "p1", factory: factory,
                                  clock: ManualClock(0), logger: Logger(label: "test"))
        #expect(throws: TopologyError.self) { try thread.start() }
        #expect(!factory.consumer.events.contains("subscribe"))
    }
}
