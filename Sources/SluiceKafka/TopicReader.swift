import Logging

/// Reads whole topics from the beginning, for checks, demos and tools.
///
/// It stops when no record has arrived for `idle`, not at the reported end
/// offsets: some brokers advance the high watermark per batch, so "read
/// until the end offset" would stop early.
public struct TopicReader {
    private let config: KafkaConfig
    private let logger: Logger

    /// Creates a reader with the cluster's connection properties.
    public init(config: KafkaConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Calls `body` for every record of `topics` from their beginning, and
    /// returns how many there were. Reading ends when `done` holds, when no
    /// record arrived for `idle`, or after `timeout`, whichever comes first.
    /// - Parameter isolation: `read_committed` hides open and aborted
    ///   transactions (on brokers that implement it), `read_uncommitted` shows all.
    @discardableResult
    public func read(_ topics: [String], idle: Duration = .seconds(3), timeout: Duration = .seconds(3600),
                     isolation: String = "read_committed", until done: () -> Bool = { false },
                     _ body: (KafkaMessage) throws -> Void) throws -> Int {
        let admin = try KafkaAdmin(config: config, logger: logger)
        var starts: [TopicPartitionOffset] = []
        for topic in topics {
            for p in try admin.describe(topic: topic).partitions {
                starts.append(TopicPartitionOffset(TopicPartition(topic, p.id), TopicPartitionOffset.beginning))
            }
        }
        var consumerConfig = config
        consumerConfig["group.id"] = "sluice-topic-reader"
        consumerConfig["isolation.level"] = isolation
        let consumer = try KafkaConsumer(config: consumerConfig, logger: logger, maxBatch: 5000)
        try consumer.assign(starts)
        var batch: [KafkaMessage] = []
        var count = 0
        let clock = ContinuousClock()
        let start = clock.now
        var lastRecord = start
        while clock.now - lastRecord < idle, clock.now - start < timeout, !done() {
            try consumer.poll(maxMessages: 5000, timeout: .milliseconds(200), into: &batch)
            if !batch.isEmpty { lastRecord = clock.now }
            for message in batch { try body(message) }
            count += batch.count
        }
        return count
    }
}
