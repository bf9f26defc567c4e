import CRdKafka
import Logging

/// A topic to create.
public struct NewTopic: Sendable, Hashable {
    /// The topic's name.
    public var name: String
    /// Its partition count.
    public var partitions: Int
    /// Its replication factor; `-1` uses the broker's default.
    public var replicationFactor: Int
    /// Topic configs such as `cleanup.policy` or `retention.ms`. Spell out
    /// every config the topic relies on: some brokers only report the ones
    /// given at creation.
    public var configs: [String: String]

    /// Describes a topic to create.
    public init(_ name: String, partitions: Int, replicationFactor: Int = -1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// What the cluster says about a topic's partitions.
public struct TopicDescription: Sendable, Hashable {
    /// The topic's name.
    public var name: String
    /// Each partition's number and leader broker id, in partition order.
    public var partitions: [(id: Int32, leader: Int32)] { zip(ids, leaders).map { ($0, $1) } }
    var ids: [Int32]
    var leaders: [Int32]
}

/// Administrative operations: topics and their layout.
public final class KafkaAdmin {
    private let producer: KafkaProducer
    private let logger: Logger

    /// Creates an admin client from the cluster's connection properties.
    public init(config: KafkaConfig, logger: Logger) throws(KafkaError) {
        var config = config
        // The admin client never produces; idempotence would only add start-up round trips.
        config["enable.idempotence"] = "false"
        producer = try KafkaProducer(config: config, logger: logger)
        self.logger = logger
    }

    /// Creates topics; a topic that already exists is not an error when
    /// `ifNotExists` is true.
    public func createTopics(_ topics: [NewTopic], ifNotExists: Bool = true, timeout: Duration = .seconds(30)) throws(KafkaError) {
        guard !topics.isEmpty else { return }
        let rk = producer.native
        var errstr = [CChar](repeating: 0, count: 512)
        var specs: [OpaquePointer?] = []
        defer { specs.forEach { rd_kafka_NewTopic_destroy($0) } }
        for t in topics {
            guard let spec = rd_kafka_NewTopic_new(t.name, Int32(t.partitions), Int32(t.replicationFactor), &errstr, errstr.count) else {
                throw KafkaError(code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, message: "topic \(t.name): \(String(nulTerminated: errstr))")
            }
            for (k, v) in t.configs.sorted(by: { $0.key < $1.key }) {
                try KafkaError.check(rd_kafka_NewTopic_set_config(spec, k, v), "topic \(t.name) config \(k)")
            }
            specs.append(spec)
        }
        try request(RD_KAFKA_ADMIN_OP_CREATETOPICS, "create topics", timeout: timeout,
                    send: { options, queue in
                        specs.withUnsafeMutableBufferPointer { rd_kafka_CreateTopics(rk, $0.baseAddress, $0.count, options, queue) }
                    },
                    results: { event, count in rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count) }
        ) { name, err, reason throws(KafkaError) in
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                logger.info("topic created", metadata: ["topic": "\(name)"])
            } else if !(ifNotExists && err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                throw KafkaError(err, "create topic \(name): \(reason)")
            }
        }
    }

    /// Deletes topics; one that does not exist is not an error.
    public func deleteTopics(_ names: [String], timeout: Duration = .seconds(30)) throws(KafkaError) {
        guard !names.isEmpty else { return }
        let rk = producer.native
        var specs: [OpaquePointer?] = names.map { rd_kafka_DeleteTopic_new($0) }
        defer { specs.forEach { rd_kafka_DeleteTopic_destroy($0) } }
        try request(RD_KAFKA_ADMIN_OP_DELETETOPICS, "delete topics", timeout: timeout,
                    send: { options, queue in
                        specs.withUnsafeMutableBufferPointer { rd_kafka_DeleteTopics(rk, $0.baseAddress, $0.count, options, queue) }
                    },
                    results: { event, count in rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event), &count) }
        ) { name, err, reason throws(KafkaError) in
            guard err != RD_KAFKA_RESP_ERR_NO_ERROR, err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART else { return }
            throw KafkaError(err, "delete topic \(name): \(reason)")
        }
    }

    /// The names of the cluster's topics that start with `prefix`.
    public func topics(startingWith prefix: String, timeout: Duration = .seconds(10)) throws(KafkaError) -> [String] {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        try KafkaError.check(rd_kafka_metadata(producer.native, 1, nil, &metadata, timeout.milliseconds), "list topics")
        defer { rd_kafka_metadata_destroy(metadata) }
        guard let md = metadata?.pointee else { return [] }
        return (0..<Int(md.topic_cnt)).map { String(cString: md.topics[$0].topic) }.filter { $0.hasPrefix(prefix) }.sorted()
    }

    /// Sends one admin request of `operation` and hands each topic's
    /// outcome (name, error, reason) to `check`.
    private func request(_ operation: rd_kafka_admin_op_t, _ what: String, timeout: Duration,
                         send: (OpaquePointer, OpaquePointer) -> Void,
                         results: (OpaquePointer, inout Int) -> UnsafeMutablePointer<OpaquePointer?>?,
                         check: (String, rd_kafka_resp_err_t, String) throws(KafkaError) -> Void) throws(KafkaError) {
        let rk = producer.native
        let queue = rd_kafka_queue_new(rk)!
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(rk, operation)!
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeout.milliseconds, nil, 0)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeout.milliseconds, nil, 0)
        send(options, queue)
        guard let event = rd_kafka_queue_poll(queue, timeout.milliseconds + 1000) else {
            throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, what)
        }
        defer { rd_kafka_event_destroy(event) }
        try KafkaError.check(rd_kafka_event_error(event), what)
        var count = 0
        guard let topics = results(event, &count) else { return }
        for i in 0..<count {
            let r = topics[i]
            let reason = rd_kafka_topic_result_error_string(r).map { String(cString: $0) } ?? ""
            try check(String(cString: rd_kafka_topic_result_name(r)), rd_kafka_topic_result_error(r), reason)
        }
    }

    /// The partitions of `topic` and their leaders; throws if it does not exist.
    public func describe(topic: String, timeout: Duration = .seconds(10)) throws(KafkaError) -> TopicDescription {
        let rk = producer.native
        let rkt = rd_kafka_topic_new(rk, topic, nil)
        defer { rd_kafka_topic_destroy(rkt) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        try KafkaError.check(rd_kafka_metadata(rk, 0, rkt, &metadata, timeout.milliseconds), "describe \(topic)")
        defer { rd_kafka_metadata_destroy(metadata) }
        guard let md = metadata?.pointee, md.topic_cnt == 1 else {
            throw KafkaError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "describe \(topic)")
        }
        let t = md.topics[0]
        try KafkaError.check(t.err, "describe \(topic)")
        let parts = (0..<Int(t.partition_cnt)).map { t.partitions[$0] }.sorted { $0.id < $1.id }
        return TopicDescription(name: topic, ids: parts.map(\.id), leaders: parts.map(\.leader))
    }

    /// The low and high watermarks of a partition, asked of its leader.
    /// Some brokers advance the high watermark per batch, not per record:
    /// read it as an estimate, never as the exact record count.
    public func watermarks(_ tp: TopicPartition, timeout: Duration = .seconds(10)) throws(KafkaError) -> (low: Int64, high: Int64) {
        var low: Int64 = 0, high: Int64 = 0
        try KafkaError.check(rd_kafka_query_watermark_offsets(producer.native, tp.topic, tp.partition, &low, &high, timeout.milliseconds),
                             "watermarks of \(tp)")
        return (low, high)
    }
}
