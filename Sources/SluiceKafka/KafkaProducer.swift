import CRdKafka
import Logging

/// A Kafka producer over librdkafka.
///
/// Records are batched by librdkafka (`linger.ms`, `batch.size`); `send`
/// only enqueues. Delivery reports are served by ``poll(timeout:)`` and
/// ``flush(timeout:)``: a record that could not be delivered after
/// librdkafka's retries (bounded by `message.timeout.ms`) surfaces as a
/// ``KafkaError`` from ``flush(timeout:)`` or ``checkDeliveries()``.
///
/// Defaults: `acks=all`, `enable.idempotence=true`, `compression.type=lz4`,
/// `linger.ms=5`. With `transactional.id` set, the transaction methods are
/// available. One thread uses a producer at a time.
public final class KafkaProducer {
    /// Properties set unless the configuration says otherwise.
    public static let defaults: [String: String] = [
        "acks": "all",
        "enable.idempotence": "true",
        "compression.type": "lz4",
        "linger.ms": "5",
    ]

    private let handle: OpaquePointer
    private let callbacks: ClientCallbacks
    private var topics: [String: SendTopic] = [:]
    // This and the count below are read or written for each record sent. An
    // access never calls back into the producer, so none overlaps another,
    // and the run-time exclusivity check (about 80 instructions each) is
    // skipped.
    /// The last topics sent to (see `sendTopic`).
    @exclusivity(unchecked) private var recentTopics: [SendTopic] = []
    @exclusivity(unchecked) private var sentCount = 0
    private let logger: Logger
    /// The effective configuration, defaults included.
    public let config: KafkaConfig

    /// Creates a producer; fails on an invalid property.
    public init(config: KafkaConfig, logger: Logger) throws(KafkaError) {
        self.config = config.withDefaults(Self.defaults)
        self.logger = logger
        callbacks = ClientCallbacks(logger: logger)
        handle = try callbacks.makeClient(RD_KAFKA_PRODUCER, config: self.config, extra: callbacks.installDeliveryReports)
        logger.debug("producer created", metadata: ["config": "\(self.config.redacted)"])
    }

    deinit {
        for (_, topic) in topics { rd_kafka_topic_destroy(topic.handle) }
        rd_kafka_destroy(handle)
    }

    /// The librdkafka handle, for the admin client and tests.
    var native: OpaquePointer { handle }

    /// Records delivered since the producer was created.
    public var deliveredCount: Int { callbacks.deliveredCount }

    /// Records whose delivery failed since the producer was created.
    public var failedCount: Int { callbacks.failedCount }

    /// Records enqueued whose delivery has not been reported yet.
    ///
    /// Counted from ``send`` and the delivery reports rather than read from
    /// `rd_kafka_outq_len`, which also counts pending error events and requests.
    public var inFlightCount: Int { sentCount - callbacks.deliveredCount - callbacks.failedCount }

    /// Enqueues a record. When librdkafka's queue is full, serves delivery
    /// reports until there is room (back-pressure, never a drop).
    ///
    /// - Parameters:
    ///   - partition: `nil` lets the partitioner choose by key.
    ///   - timestamp: milliseconds since the epoch; `nil` means now.
    ///   - trackOffset: report the record's offset, once delivered, through
    ///     ``deliveredOffsets(through:)`` (a changelog's end, say).
    public func send(topic: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8]?,
                     headers: [KafkaHeader] = [], timestamp: Int64? = nil, trackOffset: Bool = false) throws(KafkaError) {
        let target = sendTopic(topic)
        let rkt = target.handle
        let epoch = UnsafeMutableRawPointer(
            bitPattern: callbacks.acknowledgements.current | (trackOffset ? ClientCallbacks.trackedFlag : 0))
        while true {
            let nativeHeaders = makeHeaders(headers)
            let err = withOptionalBytes(key) { k, kl in
                withOptionalBytes(value) { v, vl in
                    sluice_produce(handle, rkt, partition ?? RD_KAFKA_PARTITION_UA, k, kl, v, vl,
                                   nativeHeaders, timestamp ?? 0, epoch)
                }
            }
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                callbacks.acknowledgements.sent()
                sentCount += 1
                target.sent += 1
                return
            }
            if let nativeHeaders { rd_kafka_headers_destroy(nativeHeaders) }
            guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else {
                throw KafkaError(err, "produce to \(topic)")
            }
            rd_kafka_poll(handle, 50)
        }
    }

    /// Serves delivery reports for up to `timeout`; returns how many events were served.
    @discardableResult
    public func poll(timeout: Duration = .zero) -> Int {
        Int(rd_kafka_poll(handle, timeout.milliseconds))
    }

    /// Closes the current delivery epoch and returns its number: the records
    /// sent so far belong to it or to earlier ones.
    public func closeEpoch() -> Int { callbacks.acknowledgements.close() }

    /// The highest closed epoch whose records (and all before them) the
    /// broker acknowledged. Delivery reports arrive through ``poll(timeout:)``.
    public var acknowledgedEpoch: Int { callbacks.acknowledgements.acknowledged() }

    /// The highest delivered offset, per partition, of the records sent
    /// with `trackOffset` in epochs up to `epoch`; later calls report only
    /// later epochs.
    public func deliveredOffsets(through epoch: Int) -> [TopicPartition: Int64] {
        callbacks.trackedOffsets.take(through: epoch)
    }

    /// Throws the first delivery failure seen since the last check, if any.
    public func checkDeliveries() throws(KafkaError) {
        if let failure = callbacks.firstDeliveryFailure {
            callbacks.firstDeliveryFailure = nil
            throw failure
        }
    }

    /// Waits until every enqueued record is acknowledged or failed, then
    /// throws the first failure. Throws a timeout error if records are still
    /// in flight after `timeout`.
    public func flush(timeout: Duration) throws(KafkaError) {
        let err = rd_kafka_flush(handle, timeout.milliseconds)
        try checkDeliveries()
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(err, "flush with \(inFlightCount) records in flight")
        }
    }

    /// The fatal error that made this producer unusable, if any.
    public var fatalError: KafkaError? {
        var errstr = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(handle, &errstr, errstr.count)
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return KafkaError(code: err.rawValue, message: String(nulTerminated: errstr), isFatal: true)
    }

    // MARK: Transactions

    /// Registers `transactional.id` with the coordinator, fencing any older
    /// producer with the same id and finishing its open transaction.
    public func initTransactions(timeout: Duration) throws(KafkaError) {
        try KafkaError.check(rd_kafka_init_transactions(handle, timeout.milliseconds), "init transactions")
    }

    /// Starts a transaction; records sent until commit or abort belong to it.
    public func beginTransaction() throws(KafkaError) {
        try KafkaError.check(rd_kafka_begin_transaction(handle), "begin transaction")
    }

    /// Adds consumed positions to the open transaction, so that they commit
    /// with its records (the group coordinator fences zombie members by the
    /// metadata's generation).
    public func sendOffsetsToTransaction(_ offsets: [TopicPartitionOffset], groupMetadata: ConsumerGroupMetadata,
                                         timeout: Duration) throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_send_offsets_to_transaction(handle, list, groupMetadata.native, timeout.milliseconds),
                             "send offsets to transaction")
    }

    /// Flushes and commits the open transaction.
    public func commitTransaction(timeout: Duration) throws(KafkaError) {
        try KafkaError.check(rd_kafka_commit_transaction(handle, timeout.milliseconds), "commit transaction")
        try checkDeliveries()
    }

    /// Aborts the open transaction; its records are marked aborted.
    public func abortTransaction(timeout: Duration) throws(KafkaError) {
        try KafkaError.check(rd_kafka_abort_transaction(handle, timeout.milliseconds), "abort transaction")
        callbacks.firstDeliveryFailure = nil
    }

    /// Records enqueued per topic since the last call; each record is
    /// reported once (a stream thread's records-out counters).
    public func takeSentCounts() -> [String: Int] {
        var out: [String: Int] = [:]
        for (name, topic) in topics where topic.sent > 0 {
            out[name] = topic.sent
            topic.sent = 0
        }
        return out
    }

    // MARK: Internals

    /// The topic `name` as sent to. A few recent topics are kept in a small
    /// list first: comparing the same string instances is cheaper than
    /// hashing one per record, and names of another length are passed over
    /// without comparing their characters.
    private func sendTopic(_ name: String) -> SendTopic {
        let length = name.utf8.count
        for entry in recentTopics where entry.name.utf8.count == length && entry.name == name { return entry }
        let topic = topics[name] ?? SendTopic(name: name, handle: rd_kafka_topic_new(handle, name, nil)!)
        topics[name] = topic
        if recentTopics.count == 8 { recentTopics.removeFirst() }
        recentTopics.append(topic)
        return topic
    }

    private func makeHeaders(_ headers: [KafkaHeader]) -> OpaquePointer? {
        guard !headers.isEmpty else { return nil }
        let native = rd_kafka_headers_new(headers.count)!
        for h in headers {
            if let value = h.value {
                value.withUnsafeBytes { _ = rd_kafka_header_add(native, h.key, -1, $0.baseAddress, $0.count) }
            } else {
                _ = rd_kafka_header_add(native, h.key, -1, nil, 0)
            }
        }
        return native
    }
}

/// A topic the producer sends to: librdkafka's handle and the records
/// enqueued since ``KafkaProducer/takeSentCounts()`` last took them.
private final class SendTopic {
    let name: String
    let handle: OpaquePointer
    /// Records sent since the counts were last taken; unchecked for the
    /// same reason as the producer's own counts.
    @exclusivity(unchecked) var sent = 0

    init(name: String, handle: OpaquePointer) {
        self.name = name
        self.handle = handle
    }
}

/// Calls `body` with the bytes' address and count, or `(nil, 0)` for `nil`.
@inline(__always)
func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
    guard let bytes else { return body(nil, 0) }
    // An empty value is not a null one: it needs an address.
    if bytes.isEmpty { return withUnsafeBytes(of: UInt8(0)) { body($0.baseAddress, 0) } }
    return bytes.withUnsafeBytes { body($0.baseAddress, $0.count) }
}
