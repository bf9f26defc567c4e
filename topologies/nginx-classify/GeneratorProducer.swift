import Logging
import Sluice
import SluiceKafka

/// A deterministic source of keyed, timestamped records by index.
public protocol IndexedRecordGenerator: Sendable {
    /// The key, value and timestamp of record `index`.
    func record(_ index: Int) -> (key: [UInt8], value: [UInt8], timestamp: Int64)
}

extension NginxLogGenerator: IndexedRecordGenerator {
    public func record(_ index: Int) -> (key: [UInt8], value: [UInt8], timestamp: Int64) {
        let e = entry(index)
        return (e.key, e.value, e.timestamp)
    }
}

extension MixedLogGenerator: IndexedRecordGenerator {
    public func record(_ index: Int) -> (key: [UInt8], value: [UInt8], timestamp: Int64) {
        let e = entry(index)
        return (e.key, e.value, e.timestamp)
    }
}

extension IndexedRecordGenerator {
    /// Produces records `range` into `topic`, spread round-robin over its
    /// `partitions` partitions, creating the topic if `create` says so;
    /// returns when the broker has acknowledged them all.
    public func produce(_ range: Range<Int>, topic: String, partitions: Int, create: Bool = true,
                        config: KafkaConfig, logger: Logger) throws {
        if create { try KafkaAdmin(config: config, logger: logger).createTopics([NewTopic(topic, partitions: partitions)]) }
        var producerConfig = config
        producerConfig.lingerMilliseconds = producerConfig.lingerMilliseconds ?? 20
        let producer = try KafkaProducer(config: producerConfig, logger: logger)
        for i in range {
            let e = record(i)
            try producer.send(topic: topic, partition: Int32(i % partitions), key: e.key, value: e.value, timestamp: e.timestamp)
            if i % 10_000 == 0 { try producer.checkDeliveries() }
        }
        try producer.flushUntilAcknowledged(attempt: .seconds(30), logger: logger)
    }
}
