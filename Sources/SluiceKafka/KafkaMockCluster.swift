import CRdKafka
import Logging

/// librdkafka's mock Kafka cluster, running inside this process with real
/// brokers on loopback ports: any client, here or in a child process,
/// connects with ``bootstrapServers``. A second broker implementation (with
/// exact offsets) for tests; brokers can be taken down and brought back.
public final class KafkaMockCluster: @unchecked Sendable {
    private let owner: KafkaProducer
    private let cluster: OpaquePointer
    /// The brokers' addresses, for `bootstrap.servers`.
    public let bootstrapServers: String

    /// Starts a cluster of `brokers` brokers (ids 1…`brokers`).
    public init(brokers: Int = 3, logger: Logger) throws(KafkaError) {
        // librdkafka keeps the cluster's book on a client instance that stays
        // otherwise idle: it connects nowhere and logs nothing.
        owner = try KafkaProducer(config: KafkaConfig(["enable.idempotence": "false", "log_level": "0"]), logger: logger)
        guard let cluster = rd_kafka_mock_cluster_new(owner.native, Int32(brokers)) else {
            throw KafkaError(code: RD_KAFKA_RESP_ERR__FAIL.rawValue, message: "mock cluster could not start")
        }
        self.cluster = cluster
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit { rd_kafka_mock_cluster_destroy(cluster) }

    /// Creates a topic directly in the cluster.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        try KafkaError.check(rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(replicationFactor)),
                             "mock topic \(name)")
    }

    /// Takes a broker down (its connections drop) or brings it back.
    public func setBroker(_ id: Int32, up: Bool) throws(KafkaError) {
        try KafkaError.check(up ? rd_kafka_mock_broker_set_up(cluster, id) : rd_kafka_mock_broker_set_down(cluster, id),
                             "mock broker \(id)")
    }
}
