import Logging
import SluiceKafka

/// The Kafka side of state stores: creating their changelog topics and
/// reading changelog partitions back for restores. A stream thread has
/// one; tests substitute an in-memory one.
public protocol ChangelogClient: AnyObject {
    /// Creates the topics that do not exist yet.
    func ensureTopics(_ topics: [NewTopic]) throws
    /// The number of partitions of `topic`.
    func partitionCount(of topic: String) throws -> Int
    /// The end of `tp` as the broker reports it (its high watermark): some
    /// brokers report it per batch, so records may follow it.
    func endOffset(of tp: TopicPartition) throws -> Int64
    /// Reads exactly these partitions from now on, each from its offset
    /// (an empty list stops reading).
    func read(_ positions: [TopicPartitionOffset]) throws
    /// Lends `body` up to `maxMessages` records of the partitions being
    /// read, in offset order per partition, waiting at most `timeout` for
    /// the first; returns how many it lent. A restore copies only what it keeps.
    /// `atEnd` is told, in order with the records, when a fetch of a
    /// partition found nothing past the end its response reported.
    @discardableResult
    func poll(maxMessages: Int, timeout: Duration, atEnd: ((TopicPartitionOffset) -> Void)?,
              _ body: (KafkaRecordView) -> Void) throws -> Int
}

extension ChangelogClient {
    /// Lends records as ``poll(maxMessages:timeout:atEnd:_:)`` does, ends of logs untold.
    @discardableResult
    func poll(maxMessages: Int, timeout: Duration, _ body: (KafkaRecordView) -> Void) throws -> Int {
        try poll(maxMessages: maxMessages, timeout: timeout, atEnd: nil, body)
    }
}

/// Changelogs on a Kafka cluster: an admin client and an assign-only
/// consumer that reads whatever is in the log (aborted transactions
/// included: a restore filters records by the input position they carry).
final class KafkaChangelogs: ChangelogClient {
    private let admin: KafkaAdmin
    private let consumer: KafkaConsumer

    init(config: KafkaConfig, logger: Logger) throws {
        admin = try KafkaAdmin(config: config, logger: logger)
        // A stream thread's consumer settings: its bounded prefetch queue, say.
        var consumerConfig = StreamsConfig.consumerDefaults.merging(config)
        consumerConfig["group.id"] = consumerConfig["group.id"].map { "\($0)-restore" } ?? "sluice-restore"
        consumerConfig["enable.auto.commit"] = "false"
        consumerConfig["isolation.level"] = "read_uncommitted"
        // A restore ends when a fetch finds the end of the log (see
        // StateRestorer); a fetch there comes back empty after this wait.
        consumerConfig["enable.partition.eof"] = "true"
        consumerConfig["fetch.wait.max.ms"] = consumerConfig["fetch.wait.max.ms"] ?? "20"
        consumer = try KafkaConsumer(config: consumerConfig, logger: logger, maxBatch: StateRestorer.batchSize)
    }

    func ensureTopics(_ topics: [NewTopic]) throws { try admin.createTopics(topics, ifNotExists: true) }

    func partitionCount(of topic: String) throws -> Int { try admin.describe(topic: topic).partitions.count }

    func endOffset(of tp: TopicPartition) throws -> Int64 { try admin.watermarks(tp).high }

    func read(_ positions: [TopicPartitionOffset]) throws { try consumer.assign(positions) }

    func poll(maxMessages: Int, timeout: Duration, atEnd: ((TopicPartitionOffset) -> Void)?,
              _ body: (KafkaRecordView) -> Void) throws -> Int {
        try consumer.poll(maxMessages: maxMessages, timeout: timeout, atEnd: atEnd, body)
    }
}

/// The header a changelog record carries: the input offset its store's
/// state had reached (the first input record it does not reflect).
public enum ChangelogHeader {
    /// The header's key.
    public static let position = "sluice.position"

    /// The header for input position `offset`.
    public static func encode(_ offset: Int64) -> KafkaHeader {
        KafkaHeader(position, Array(String(offset).utf8))
    }

    /// The position `record` carries; read digit by digit, as a restore
    /// decodes one per changelog record.
    static func decode(_ record: KafkaRecordView) -> Int64? {
        record.withLastHeader(position) { $0.flatMap(decode) }
    }

    private static func decode(_ digits: UnsafeRawBufferPointer) -> Int64? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value: Int64 = 0
        for d in digits {
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(d - UInt8(ascii: "0"))
        }
        return value
    }
}
