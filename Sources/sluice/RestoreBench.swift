import Foundation
import Logging
import Sluice
import SluiceExamples
import SluiceKafka
import SluiceState
import SluiceTransforms

/// The restore benchmark's state: the rollup example's changelog as its
/// stream threads write it (timer aggregates per service and 10 s window,
/// each with the input position it reflects, and a closed mark per
/// partition), and the input offsets committed at that position, so that
/// a restore applies every record.
struct RestoreBenchState {
    /// The input topic, empty.
    let input: String
    let partitions: Int
    /// Changelog records in all.
    let records: Int

    /// The application whose state it is; every round restores it anew.
    var applicationID: String { "\(input)-restore" }
    var changelog: String { StreamsConfig.changelogTopic(applicationID: applicationID, store: "rollups") }

    /// Creates the topics, writes the changelog and commits the input position.
    func prepare(config: KafkaConfig, logger: Logger) throws {
        try KafkaAdmin(config: config, logger: logger).createTopics([
            NewTopic(input, partitions: partitions),
            NewTopic(changelog, partitions: partitions, configs: ["cleanup.policy": "compact,delete", "retention.ms": "-1"]),
        ])
        var producerConfig = config
        producerConfig.lingerMilliseconds = 20
        let producer = try KafkaProducer(config: producerConfig, logger: logger)
        let prefix = Array(input.utf8) + [0]
        let header = [ChangelogHeader.encode(0)]
        let values = (0..<16).map(Self.timerAggregate)
        let services = 50
        let windowsPerPartition = records / partitions
        for i in 0..<(records - partitions) {
            let partition = i % partitions, n = i / partitions
            let metric = StatsDAggregator<[UInt8]?>.key(kind: .timer, key: "nginx.duration_ms;service=s\(n % services)")
            let key = prefix + WindowStore.storeKey(metric, windowStart: Int64(n / services) * 10_000)
            try producer.send(topic: changelog, partition: Int32(partition), key: key, value: values[i % values.count],
                              headers: header)
            if i % 10_000 == 0 { try producer.checkDeliveries() }
        }
        // Every window written is closed: a restored task reads none back into memory.
        let mark = AggregateStoreLayout.closedMark(before: Int64(windowsPerPartition / services + 1) * 10_000)
        for partition in 0..<partitions {
            try producer.send(topic: changelog, partition: Int32(partition), key: prefix + mark.key, value: mark.value,
                              headers: header)
        }
        try producer.flushUntilAcknowledged(attempt: .seconds(30), logger: logger)
        var consumerConfig = config
        consumerConfig["group.id"] = applicationID
        let consumer = try KafkaConsumer(config: consumerConfig, logger: logger)
        try consumer.commit((0..<partitions).map { TopicPartitionOffset(TopicPartition(input, Int32($0)), 0) })
        consumer.close()
    }

    /// A timer's aggregate of a few dozen request durations, as a window holds it.
    private static func timerAggregate(_ seed: Int) -> [UInt8] {
        var aggregate = MetricAggregate(kind: .timer)
        for j in 0..<(20 + seed) {
            aggregate.add(StatsDSample(key: "nginx.duration_ms", kind: .timer, value: Double((seed * 31 + j * 17) % 900)))
        }
        return aggregate.encoded
    }
}
