import SluiceKafka

/// What a stream thread promises about records and their outputs.
public enum ProcessingGuarantee: String, Sendable, CaseIterable {
    /// Offsets are committed only after every output derived from the
    /// records before them is acknowledged. A crash can repeat outputs,
    /// never lose them.
    case atLeastOnce = "at_least_once"
    /// Outputs and input offsets commit in one Kafka transaction per stream
    /// thread (read_committed consumers see each output once, on a broker
    /// that hides aborted transactions).
    case exactlyOnce = "exactly_once"

    /// How often a stream thread commits under this guarantee unless
    /// configured otherwise: every 100 ms under exactly-once (as Kafka
    /// Streams), so that read_committed consumers see outputs soon; every
    /// second at least once.
    public var defaultCommitInterval: Duration {
        self == .exactlyOnce ? .milliseconds(100) : .seconds(1)
    }
}

/// The configuration of a ``StreamApplication``.
public struct StreamsConfig: Sendable {
    /// The consumer group, the prefix of internal topics and of transactional ids.
    public var applicationID: String
    /// Properties every client gets: `bootstrap.servers`, security, `client.rack`…
    public var kafka: KafkaConfig
    /// Properties for the stream threads' consumers only.
    public var consumer = KafkaConfig()
    /// Properties for the stream threads' producers only.
    public var producer = KafkaConfig()
    /// Stream threads in this process, each with its own consumer and producer.
    public var threads = 1
    /// The processing guarantee.
    public var guarantee = ProcessingGuarantee.atLeastOnce
    /// How often offsets commit; `nil` means the guarantee's
    /// ``ProcessingGuarantee/defaultCommitInterval``.
    public var commitInterval: Duration?
    /// Where failed records go; `nil` means `<applicationID>-dlq`.
    public var deadLetterTopic: String?
    /// Local state: the process id file (which keeps transactional ids
    /// stable across restarts) and the tasks' RocksDB stores, under
    /// `<stateDirectory>/<applicationID>/`.
    public var stateDirectory = "/tmp/sluice"
    /// The block cache every RocksDB store of the process shares, in bytes.
    public var stateBlockCacheBytes = 32 << 20
    /// The memtables every RocksDB store of the process shares, in bytes,
    /// divided evenly among the open stores.
    public var stateMemtableBytes = 32 << 20
    /// The largest batch one poll returns.
    public var maxPollRecords = 1000
    /// How long a poll waits for records when there are none.
    public var pollTimeout = Duration.milliseconds(100)
    /// How long a full sink holds input back by not polling before the
    /// thread pauses its partitions. Pausing makes librdkafka discard what
    /// it has already fetched (refetched on resume), a stall on every wait
    /// for a bulk request; a short wait without polling keeps it. Keep it
    /// well under `max.poll.interval.ms`: while it lasts, the consumer is
    /// not polled.
    public var holdBeforePausing = Duration.seconds(1)
    /// Timeout of transaction operations and of each flush attempt.
    public var operationTimeout = Duration.seconds(30)
    /// How many other instances keep a warm copy of each task's state
    /// stores, so that one taking a task over reads only the changelog's
    /// tail; `0` keeps none.
    public var standbyReplicas = 0

    /// Creates a configuration.
    public init(applicationID: String, kafka: KafkaConfig) {
        self.applicationID = applicationID
        self.kafka = kafka
    }

    /// The commit interval in force.
    public var effectiveCommitInterval: Duration {
        commitInterval ?? guarantee.defaultCommitInterval
    }

    /// The dead-letter topic in force.
    public var effectiveDeadLetterTopic: String { deadLetterTopic ?? "\(applicationID)-dlq" }

    /// Producer properties stream threads use unless configured otherwise:
    /// murmur2 places keys where Java producers do (topics stay
    /// co-partitioned); a linger of 20 ms makes fuller batches when one input
    /// fans out to many output partitions; a bounded send queue keeps memory
    /// flat (a full queue makes the thread wait for acknowledgements).
    public static let producerDefaults = KafkaConfig([
        "partitioner": "murmur2_random", "linger.ms": "20",
        "queue.buffering.max.messages": "20000", "queue.buffering.max.kbytes": "16384",
    ])

    /// Consumer properties stream threads use unless configured otherwise:
    /// a prefetch queue of 8 MB instead of librdkafka's 64 MB (the same
    /// throughput in `sluice bench`, a third less memory), refilled 10 ms
    /// after it drains below its limit instead of 1 s later (librdkafka 2.1
    /// and later: with the default, the thread idles on a full-speed stream,
    /// measured at a third of the throughput).
    public static let consumerDefaults: KafkaConfig = {
        var config = KafkaConfig(["queued.max.messages.kbytes": "8192"])
        if Librdkafka.supports(property: "fetch.queue.backoff.ms") { config["fetch.queue.backoff.ms"] = "10" }
        return config
    }()

    /// What a stream thread whose topology writes to a sink outside Kafka
    /// changes in ``consumerDefaults``:
    /// - a prefetch queue of 2 MB: such a sink (Elasticsearch) takes records
    ///   tens of times slower than the broker hands them out, so 2 MB covers
    ///   any fetch's round trip, and a deeper queue only holds memory
    ///   (measured: the Elasticsearch sink's peak RSS 147 MB with 8 MB, 114 MB
    ///   with 2 MB);
    /// - fetches of up to 8 MB per partition instead of 1 MB, so that the
    ///   sink is handed long runs of one partition: Elasticsearch looks up
    ///   each document's id in the index's segments, and segments of
    ///   `topic+partition+offset` ids written one partition at a time are
    ///   passed over by the other partitions' ids (measured: Elasticsearch's
    ///   CPU per million documents 177 s with 1 MB fetches, 89–113 s with
    ///   8 MB, at the same peak RSS).
    public static let sinkConsumerDefaults = KafkaConfig([
        "queued.max.messages.kbytes": "2048", "max.partition.fetch.bytes": String(8 << 20),
    ])

    /// The consumer configuration of stream thread `thread`; `writesToSinks`
    /// when its topology writes to a sink outside Kafka.
    func consumerConfig(processID: String, thread: Int, writesToSinks: Bool = false) -> KafkaConfig {
        var defaults = Self.consumerDefaults
        if writesToSinks { defaults = defaults.merging(Self.sinkConsumerDefaults) }
        var config = defaults.merging(kafka).merging(consumer)
        config["group.id"] = applicationID
        if config.clientID == nil { config.clientID = "\(applicationID)-\(processID)-StreamThread-\(thread)-consumer" }
        if guarantee == .exactlyOnce { config["isolation.level"] = "read_committed" }
        return config
    }

    /// The producer configuration of stream thread `thread`. Its
    /// transactional id depends only on the application, the process id
    /// (kept in the state directory) and the thread's index, so a restarted
    /// thread fences the zombie it replaces.
    func producerConfig(processID: String, thread: Int) -> KafkaConfig {
        var config = Self.producerDefaults.merging(kafka).merging(producer)
        if config.clientID == nil { config.clientID = "\(applicationID)-\(processID)-StreamThread-\(thread)-producer" }
        if guarantee == .exactlyOnce {
            config["transactional.id"] = Self.transactionalID(applicationID: applicationID, processID: processID, thread: thread)
        }
        return config
    }

    /// The changelog topic of the state store `store`.
    public func changelogTopic(store: String) -> String {
        Self.changelogTopic(applicationID: applicationID, store: store)
    }

    /// The changelog topic of the state store `store` of application `applicationID`.
    public static func changelogTopic(applicationID: String, store: String) -> String {
        "\(applicationID)-\(store)-changelog"
    }

    /// The compacted topic through which the application's instances
    /// announce their tasks, for standby placement.
    public var membershipTopic: String { "\(applicationID)-members" }

    /// The transactional id of a stream thread.
    public static func transactionalID(applicationID: String, processID: String, thread: Int) -> String {
        "\(applicationID)-\(processID)-\(thread)"
    }
}
