import Logging
import Sluice
import SluiceKafka

extension NginxLogGenerator {
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
            let e = entry(i)
            try producer.send(topic: topic, partition: Int32(i % partitions), key: e.key, value: e.value, timestamp: e.timestamp)
            if i % 10_000 == 0 { try producer.checkDeliveries() }
        }
        try producer.flushUntilAcknowledged(attempt: .seconds(30), logger: logger)
    }
}
