import CRdKafka
import Logging

/// What a consumer's owner hears about its assignment changing. The calls
/// happen inside ``KafkaConsumer/poll(maxMessages:timeout:into:)``, on the
/// polling thread, before librdkafka applies the change: a listener that
/// commits in ``partitionsRevoked(_:)`` still owns the partitions.
public protocol KafkaRebalanceListener: AnyObject {
    /// Partitions were added to this member's assignment.
    func partitionsAssigned(_ partitions: [TopicPartition])
    /// Partitions are being taken away in an orderly rebalance.
    func partitionsRevoked(_ partitions: [TopicPartition])
    /// Partitions were lost (session timeout, fencing): another member may
    /// already own them, so nothing may be committed for them.
    func partitionsLost(_ partitions: [TopicPartition])
}

/// The consumer group's identity for a transaction (generation, member id).
public final class ConsumerGroupMetadata: @unchecked Sendable {
    let native: OpaquePointer
    init(_ native: OpaquePointer) { self.native = native }
    /// Metadata naming only the group, as a member that has not joined would send.
    public convenience init(groupID: String) { self.init(rd_kafka_consumer_group_metadata_new(groupID)) }
    deinit { rd_kafka_consumer_group_metadata_destroy(native) }
}

/// A group consumer over librdkafka.
///
/// Defaults: manual commits of explicit offsets only
/// (`enable.auto.commit=false`, `enable.auto.offset.store=false`),
/// `partition.assignment.strategy=cooperative-sticky`,
/// `auto.offset.reset=earliest`. One thread uses a consumer at a time.
public final class KafkaConsumer {
    /// Properties set unless the configuration says otherwise.
    public static let defaults: [String: String] = [
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
    ]

    private let handle: OpaquePointer
    private let queue: OpaquePointer
    private let callbacks: ClientCallbacks
    private let logger: Logger
    private var topicNames: [OpaquePointer: String] = [:]
    private var lastTopic: (handle: OpaquePointer, name: String)?
    private var batch: [UnsafeMutablePointer<rd_kafka_message_t>?]
    private var closed = false
    /// The effective configuration, defaults included.
    public let config: KafkaConfig
    private let listener = ListenerBox()
    /// Told about assignment changes; held weakly.
    public var rebalanceListener: KafkaRebalanceListener? {
        get { listener.value }
        set { listener.value = newValue }
    }

    /// Creates a consumer; `group.id` must be set.
    public init(config: KafkaConfig, logger: Logger, maxBatch: Int = 1000) throws(KafkaError) {
        self.config = config.withDefaults(Self.defaults)
        guard self.config["group.id"] != nil else {
            throw KafkaError(code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, message: "group.id is required")
        }
        self.logger = logger
        callbacks = ClientCallbacks(logger: logger)
        batch = Array(repeating: nil, count: maxBatch)
        let rk = try callbacks.makeClient(RD_KAFKA_CONSUMER, config: self.config, extra: callbacks.installConsumer)
        handle = rk
        rd_kafka_poll_set_consumer(rk)
        queue = rd_kafka_queue_get_consumer(rk)
        // The callback must not reach `self`: it also runs while `deinit` closes the consumer.
        callbacks.rebalance = { [listener, logger] err, list in
            Self.rebalance(rk, err, list, listener: listener.value, logger: logger)
        }
    }

    deinit {
        close()
        rd_kafka_queue_destroy(queue)
        rd_kafka_destroy(handle)
    }

    /// Subscribes to topics; a name starting with `^` is a regex pattern.
    public func subscribe(_ topics: [String]) throws(KafkaError) {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for t in topics { rd_kafka_topic_partition_list_add(list, t, RD_KAFKA_PARTITION_UA) }
        try KafkaError.check(rd_kafka_subscribe(handle, list), "subscribe to \(topics)")
    }

    /// Leaves the current subscription; owned partitions are revoked.
    public func unsubscribe() throws(KafkaError) {
        try KafkaError.check(rd_kafka_unsubscribe(handle), "unsubscribe")
    }

    /// Reads up to `maxMessages` records into `messages` (replacing its
    /// contents), waiting up to `timeout` for the first. Rebalance callbacks
    /// run inside this call.
    public func poll(maxMessages: Int, timeout: Duration, into messages: inout [KafkaMessage]) throws(KafkaError) {
        messages.removeAll(keepingCapacity: true)
        try poll(maxMessages: maxMessages, timeout: timeout, atEnd: nil) { messages.append(KafkaMessage(copying: $0, topic: $1)) }
    }

    /// Reads up to `maxMessages` records, waiting up to `timeout` for the
    /// first, and lends each to `body` in order without copying it; returns
    /// how many it lent. Rebalance callbacks run inside this call.
    /// - Parameter atEnd: told, in order with the records, when a partition's
    ///   fetch has reached the end of its log (the offset after its last
    ///   record, as the broker's fetch response reports it); only with
    ///   `enable.partition.eof=true`.
    @discardableResult
    public func poll(maxMessages: Int, timeout: Duration, atEnd: ((TopicPartitionOffset) -> Void)? = nil,
                     _ body: (KafkaRecordView) -> Void) throws(KafkaError) -> Int {
        try poll(maxMessages: maxMessages, timeout: timeout, atEnd: atEnd) { body(KafkaRecordView($0, topic: $1)) }
    }

    /// The loop under both polls: hands each record's librdkafka message
    /// and its topic's name to `body`, and destroys the message after.
    @discardableResult
    private func poll(maxMessages: Int, timeout: Duration, atEnd: ((TopicPartitionOffset) -> Void)?,
                      _ body: (UnsafeMutablePointer<rd_kafka_message_t>, String) -> Void) throws(KafkaError) -> Int {
        let n = try fetch(maxMessages: maxMessages, timeout: timeout)
        var firstError: KafkaError?
        var lent = 0
        for i in 0..<n {
            let m = batch[i]!
            defer { rd_kafka_message_destroy(m) }
            let err = m.pointee.err
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                body(m, topicName(m.pointee.rkt))
                lent += 1
            } else if err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
                atEnd?(TopicPartitionOffset(TopicPartition(topicName(m.pointee.rkt), m.pointee.partition), m.pointee.offset))
            } else {
                let reason = m.pointee.payload.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) } ?? ""
                logger.warning("consume error", metadata: ["error": "\(KafkaError(err, reason))"])
                if firstError == nil, rd_kafka_fatal_error(handle, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR {
                    firstError = KafkaError(err, "fatal consumer error")
                }
            }
        }
        if let firstError { throw firstError }
        return lent
    }

    /// Takes up to `maxMessages` messages into `batch`, waiting up to
    /// `timeout` only while there are none. librdkafka's batch consume
    /// waits until the batch is full, so at a topic's end (or whenever the
    /// fetches lag) a poll sat out its whole timeout beside records it held.
    /// Waiting for one message first, then taking what else is there,
    /// returns as Kafka's own poll does.
    private func fetch(maxMessages: Int, timeout: Duration) throws(KafkaError) -> Int {
        let n = batch.withUnsafeMutableBufferPointer { buf -> Int in
            let limit = min(maxMessages, buf.count)
            guard limit > 0 else { return 0 }
            let first = rd_kafka_consume_batch_queue(queue, timeout.milliseconds, buf.baseAddress, 1)
            guard first == 1, limit > 1 else { return first }
            // A failure here leaves the rest to the next poll.
            return 1 + max(0, rd_kafka_consume_batch_queue(queue, 0, buf.baseAddress! + 1, limit - 1))
        }
        guard n >= 0 else { throw KafkaError(rd_kafka_last_error(), "consume") }
        return n
    }

    /// Ends at once the wait of a poll on another thread, or, if no poll is
    /// waiting, that of the next one (a poll taking records when it comes
    /// may return them instead). Safe from any thread while the consumer
    /// exists: Kafka's `wakeup()`, without the exception.
    public func wakeup() {
        rd_kafka_queue_yield(queue)
    }

    /// Commits explicit positions (offset = next record to read). A
    /// synchronous commit waits for the coordinator and throws its error; an
    /// asynchronous one returns at once and a failure is only logged.
    public func commit(_ offsets: [TopicPartitionOffset], async: Bool = false) throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_commit(handle, list, async ? 1 : 0), "commit")
        if !async, let e = PartitionList.firstError(list, "commit") { throw e }
    }

    /// The group's committed positions; ``TopicPartitionOffset/invalid`` where none.
    public func committed(_ partitions: [TopicPartition], timeout: Duration) throws(KafkaError) -> [TopicPartitionOffset] {
        let list = PartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_committed(handle, list, timeout.milliseconds), "committed offsets")
        return PartitionList.offsets(list)
    }

    /// Reads exactly these partitions from these positions, outside any
    /// group rebalancing (no `subscribe`).
    public func assign(_ offsets: [TopicPartitionOffset]) throws(KafkaError) {
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_assign(handle, list), "assign")
    }

    /// Moves the fetch positions; the next poll returns records from there.
    public func seek(_ offsets: [TopicPartitionOffset], timeout: Duration) throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_seek_partitions(handle, list, timeout.milliseconds), "seek")
        if let e = PartitionList.firstError(list, "seek") { throw e }
    }

    /// Stops fetching from partitions (their records stay unread).
    public func pause(_ partitions: [TopicPartition]) throws(KafkaError) {
        let list = PartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_pause_partitions(handle, list), "pause")
    }

    /// Resumes fetching from paused partitions.
    public func resume(_ partitions: [TopicPartition]) throws(KafkaError) {
        let list = PartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_resume_partitions(handle, list), "resume")
    }

    /// The high watermark (the offset after the last record) of each of
    /// `partitions` as the last fetch reported it, without asking the
    /// broker; a partition not fetched yet is absent.
    public func highWatermarks(_ partitions: [TopicPartition]) -> [TopicPartition: Int64] {
        var out: [TopicPartition: Int64] = [:]
        for tp in partitions {
            var low: Int64 = -1, high: Int64 = -1
            let err = rd_kafka_get_watermark_offsets(handle, tp.topic, tp.partition, &low, &high)
            if err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 { out[tp] = high }
        }
        return out
    }

    /// The partitions currently assigned to this member.
    public func assignment() throws(KafkaError) -> [TopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        try KafkaError.check(rd_kafka_assignment(handle, &list), "assignment")
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return PartitionList.offsets(list!).map(\.topicPartition)
    }

    /// The group metadata to pass to ``KafkaProducer/sendOffsetsToTransaction(_:groupMetadata:timeout:)``.
    public func groupMetadata() -> ConsumerGroupMetadata {
        ConsumerGroupMetadata(rd_kafka_consumer_group_metadata(handle))
    }

    /// Leaves the group (revoking partitions through the listener) and stops
    /// fetching. Safe to call twice.
    public func close() {
        guard !closed else { return }
        closed = true
        let err = rd_kafka_consumer_close(handle)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("consumer close", metadata: ["error": "\(KafkaError(err))"])
        }
    }

    private func topicName(_ rkt: OpaquePointer?) -> String {
        guard let rkt else { return "" }
        // Records of a batch mostly share a topic: no hashing for a repeat.
        if let last = lastTopic, last.handle == rkt { return last.name }
        let name = topicNames[rkt] ?? String(cString: rd_kafka_topic_name(rkt))
        topicNames[rkt] = name
        lastTopic = (rkt, name)
        return name
    }

    private static func rebalance(_ handle: OpaquePointer, _ err: rd_kafka_resp_err_t,
                                  _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>,
                                  listener rebalanceListener: KafkaRebalanceListener?, logger: Logger) {
        let partitions = PartitionList.offsets(list).map(\.topicPartition)
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        var error: OpaquePointer?
        var legacyErr = RD_KAFKA_RESP_ERR_NO_ERROR
        if err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
            logger.info("partitions assigned", metadata: ["partitions": "\(partitions.sorted())"])
            rebalanceListener?.partitionsAssigned(partitions)
            if cooperative { error = rd_kafka_incremental_assign(handle, list) } else { legacyErr = rd_kafka_assign(handle, list) }
        } else {
            let lost = rd_kafka_assignment_lost(handle) != 0
            logger.info(lost ? "partitions lost" : "partitions revoked", metadata: ["partitions": "\(partitions.sorted())"])
            if lost { rebalanceListener?.partitionsLost(partitions) } else { rebalanceListener?.partitionsRevoked(partitions) }
            if cooperative { error = rd_kafka_incremental_unassign(handle, list) } else { legacyErr = rd_kafka_assign(handle, nil) }
        }
        if let error { logger.error("rebalance", metadata: ["error": "\(KafkaError(consuming: error, "apply assignment"))"]) }
        if legacyErr != RD_KAFKA_RESP_ERR_NO_ERROR { logger.error("rebalance", metadata: ["error": "\(KafkaError(legacyErr))"]) }
    }
}

/// A weak reference the rebalance callback can hold without holding the consumer.
private final class ListenerBox {
    weak var value: KafkaRebalanceListener?
}
