import Logging
import SluiceKafka

/// The consumer operations a stream thread uses. ``KafkaConsumer``
/// implements it; tests substitute a scripted consumer.
public protocol ConsumerClient: AnyObject {
    /// Told about assignment changes during ``poll(maxMessages:timeout:into:)``.
    var rebalanceListener: KafkaRebalanceListener? { get set }
    /// Joins the group for these topics (`^` marks a pattern).
    func subscribe(_ topics: [String]) throws
    /// Leaves the subscription; owned partitions are revoked.
    func unsubscribe() throws
    /// Reads a batch of records into `messages`.
    func poll(maxMessages: Int, timeout: Duration, into messages: inout [KafkaMessage]) throws
    /// Commits positions; an asynchronous commit only logs its failure.
    func commit(_ offsets: [TopicPartitionOffset], async: Bool) throws
    /// The group's committed positions for `partitions`.
    func committed(_ partitions: [TopicPartition], timeout: Duration) throws -> [TopicPartitionOffset]
    /// Moves fetch positions.
    func seek(_ offsets: [TopicPartitionOffset], timeout: Duration) throws
    /// Stops fetching from partitions.
    func pause(_ partitions: [TopicPartition]) throws
    /// Resumes fetching from partitions.
    func resume(_ partitions: [TopicPartition]) throws
    /// The high watermarks the last fetches reported (no broker call).
    func highWatermarks(_ partitions: [TopicPartition]) -> [TopicPartition: Int64]
    /// The group's metadata for a transaction.
    func groupMetadata() -> ConsumerGroupMetadata
    /// Leaves the group.
    func close()
    /// Ends at once the wait of a poll on another thread (or, if no poll is
    /// waiting, of the next one). The only method other threads may call,
    /// and only while the consumer exists.
    func wakeup()
}

/// The producer operations a stream thread uses. ``KafkaProducer``
/// implements it; tests substitute a recording producer.
public protocol ProducerClient: AnyObject {
    /// Enqueues a record; with `trackOffset`, its offset is reported once
    /// delivered by ``deliveredOffsets(through:)``.
    func send(topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?,
              headers: [KafkaHeader], timestamp: Int64?, trackOffset: Bool) throws
    /// The highest delivered offset per partition of tracked records of
    /// epochs up to `epoch`, each reported once.
    func deliveredOffsets(through epoch: Int) -> [TopicPartition: Int64]
    /// Serves delivery reports.
    @discardableResult func poll(timeout: Duration) -> Int
    /// Throws the first delivery failure since the last check.
    func checkDeliveries() throws
    /// Records enqueued per topic since the last call.
    func takeSentCounts() -> [String: Int]
    /// Closes the current delivery epoch and returns its number.
    func closeEpoch() -> Int
    /// The highest closed epoch whose records (and all before) were acknowledged.
    var acknowledgedEpoch: Int { get }
    /// Waits for every enqueued record's acknowledgement.
    func flush(timeout: Duration) throws
    /// Registers the transactional id, fencing older instances.
    func initTransactions(timeout: Duration) throws
    /// Opens a transaction.
    func beginTransaction() throws
    /// Adds consumer positions to the open transaction.
    func sendOffsetsToTransaction(_ offsets: [TopicPartitionOffset], groupMetadata: ConsumerGroupMetadata,
                                  timeout: Duration) throws
    /// Commits the open transaction.
    func commitTransaction(timeout: Duration) throws
    /// Aborts the open transaction.
    func abortTransaction(timeout: Duration) throws
}

extension ProducerClient {
    /// Waits until every enqueued record is acknowledged, however long the
    /// broker takes: a broker that is down means waiting (librdkafka retries
    /// until `message.timeout.ms`), logged once per `attempt`. A record that
    /// fails for good throws.
    public func flushUntilAcknowledged(attempt: Duration, logger: Logger) throws {
        while true {
            do {
                try flush(timeout: attempt)
                return
            } catch let error as KafkaError {
                guard error.isTimeout else { throw error }
                logger.warning("waiting for the broker to acknowledge records", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension KafkaConsumer: ConsumerClient {}
extension KafkaProducer: ProducerClient {}

/// Makes the Kafka clients of stream threads; tests substitute fakes.
public protocol KafkaClientFactory: Sendable {
    /// A group consumer with `config`.
    func makeConsumer(config: KafkaConfig, logger: Logger) throws -> ConsumerClient
    /// A producer with `config` (transactional when it sets `transactional.id`).
    func makeProducer(config: KafkaConfig, logger: Logger) throws -> ProducerClient
    /// What creates and reads back state stores' changelog topics.
    func makeChangelogs(config: KafkaConfig, logger: Logger) throws -> ChangelogClient
}

/// The factory of real librdkafka clients.
public struct LibrdkafkaClientFactory: KafkaClientFactory {
    /// Creates the factory.
    public init() {}

    public func makeConsumer(config: KafkaConfig, logger: Logger) throws -> ConsumerClient {
        try KafkaConsumer(config: config, logger: logger)
    }

    public func makeProducer(config: KafkaConfig, logger: Logger) throws -> ProducerClient {
        try KafkaProducer(config: config, logger: logger)
    }

    public func makeChangelogs(config: KafkaConfig, logger: Logger) throws -> ChangelogClient {
        try KafkaChangelogs(config: config, logger: logger)
    }
}

/// Sends a task's output records to the thread's producer; under
/// exactly-once it opens the thread's transaction before the first one.
final class ProducerCollector: RecordCollector {
    let producer: ProducerClient
    let transactional: Bool
    /// Whether a transaction is open (exactly-once only).
    var inTransaction = false

    init(producer: ProducerClient, transactional: Bool) {
        self.producer = producer
        self.transactional = transactional
    }

    /// Opens a transaction unless one is open (exactly-once only).
    @inline(__always)
    func beginTransactionIfNeeded() throws {
        guard transactional, !inTransaction else { return }
        try producer.beginTransaction()
        inTransaction = true
    }

    func send(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], timestamp: Int64) throws {
        try beginTransactionIfNeeded()
        try producer.send(topic: topic, partition: nil, key: key, value: value, headers: headers, timestamp: timestamp,
                          trackOffset: false)
    }

    func sendChangelog(topic: String, partition: Int32, key: [UInt8], value: [UInt8]?, headers: [KafkaHeader],
                       timestamp: Int64) throws {
        try beginTransactionIfNeeded()
        try producer.send(topic: topic, partition: partition, key: key, value: value, headers: headers, timestamp: timestamp,
                          trackOffset: true)
    }
}
