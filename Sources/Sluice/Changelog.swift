import Logging
import SluiceKafka

/// The Kafka side of state stores: creating their changelog topics and
/// reading a changelog partition back for a restore. A stream thread has
/// one; tests substitute an in-memory one.
public protocol ChangelogClient: AnyObject {
    /// Creates the topics that do not exist yet.
    func ensureTopics(_ topics: [NewTopic]) throws
    /// The number of partitions of `topic`.
    func partitionCount(of topic: String) throws -> Int
    /// Calls `body` with the records of `tp` from offset `start` up to the
    /// partition's end as of the call, batch by batch, in offset order.
    func read(_ tp: TopicPartition, from start: Int64, _ body: ([KafkaMessage]) throws -> Void) throws
}

/// Changelogs on a Kafka cluster: an admin client and an assign-only
/// consumer that reads whatever is in the log (aborted transactions
/// included: a restore filters records by the input position they carry).
final class KafkaChangelogs: ChangelogClient {
    private let admin: KafkaAdmin
    private let consumer: KafkaConsumer
    private let logger: Logger

    init(config: KafkaConfig, logger: Logger) throws {
        admin = try KafkaAdmin(config: config, logger: logger)
        var consumerConfig = config
        consumerConfig["group.id"] = consumerConfig["group.id"].map { "\($0)-restore" } ?? "sluice-restore"
        consumerConfig["enable.auto.commit"] = "false"
        consumerConfig["isolation.level"] = "read_uncommitted"
        consumer = try KafkaConsumer(config: consumerConfig, logger: logger, maxBatch: 5000)
        self.logger = logger
    }

    func ensureTopics(_ topics: [NewTopic]) throws { try admin.createTopics(topics, ifNotExists: true) }

    func partitionCount(of topic: String) throws -> Int { try admin.describe(topic: topic).partitions.count }

    func read(_ tp: TopicPartition, from start: Int64, _ body: ([KafkaMessage]) throws -> Void) throws {
        let end = try admin.watermarks(tp).high
        guard end > start else { return }
        try consumer.assign([TopicPartitionOffset(tp, max(start, 0))])
        defer { try? consumer.assign([]) }
        var batch: [KafkaMessage] = []
        let clock = ContinuousClock()
        var lastRecord = clock.now
        // Some brokers report the end per batch: a quiet log ends the read too.
        while clock.now - lastRecord < .seconds(5) {
            try consumer.poll(maxMessages: 5000, timeout: .milliseconds(200), into: &batch)
            guard !batch.isEmpty else { continue }
            lastRecord = clock.now
            try body(batch)
            if let last = batch.last, last.offset >= end - 1 { return }
        }
        logger.warning("changelog read ended on a quiet log before its reported end",
                       metadata: ["changelog": "\(tp)", "end": "\(end)"])
    }
}

/// The header a changelog record carries: the input offset its store's
/// state had reached (the first input record it does not reflect).
enum ChangelogHeader {
    static let position = "sluice.position"

    static func encode(_ offset: Int64) -> KafkaHeader {
        KafkaHeader(position, Array(String(offset).utf8))
    }

    static func decode(_ headers: [KafkaHeader]) -> Int64? {
        headers.first { $0.key == position }?.value.flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
    }
}
