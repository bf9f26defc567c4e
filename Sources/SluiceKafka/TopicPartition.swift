import CRdKafka

/// A partition of a topic.
public struct TopicPartition: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// The topic's name.
    public var topic: String
    /// The partition's number.
    public var partition: Int32

    /// Creates a topic-partition.
    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)-\(partition)" }

    public static func < (a: Self, b: Self) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }
}

/// A position in a partition: the offset of the next record to read.
public struct TopicPartitionOffset: Sendable, Hashable, CustomStringConvertible {
    /// The partition.
    public var topicPartition: TopicPartition
    /// The offset; negative values are librdkafka's logical offsets.
    public var offset: Int64

    /// Creates a position.
    public init(_ topicPartition: TopicPartition, _ offset: Int64) {
        self.topicPartition = topicPartition
        self.offset = offset
    }

    /// No committed offset is known for the partition.
    public static let invalid: Int64 = Int64(RD_KAFKA_OFFSET_INVALID)
    /// The first offset the partition still holds.
    public static let beginning: Int64 = Int64(RD_KAFKA_OFFSET_BEGINNING)

    public var description: String { "\(topicPartition)@\(offset)" }
}

/// Conversions to and from librdkafka's partition lists.
enum PartitionList {
    /// A new `rd_kafka_topic_partition_list_t`; the caller destroys it.
    static func make(_ offsets: [TopicPartitionOffset]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))!
        for item in offsets {
            let entry = rd_kafka_topic_partition_list_add(list, item.topicPartition.topic, item.topicPartition.partition)!
            entry.pointee.offset = item.offset
        }
        return list
    }

    static func make(_ partitions: [TopicPartition]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        make(partitions.map { TopicPartitionOffset($0, TopicPartitionOffset.invalid) })
    }

    static func offsets(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartitionOffset] {
        (0..<Int(list.pointee.cnt)).map { i in
            let e = list.pointee.elems[i]
            return TopicPartitionOffset(TopicPartition(String(cString: e.topic), e.partition), e.offset)
        }
    }

    /// The first per-partition error in the list, if any.
    static func firstError(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>, _ context: String) -> KafkaError? {
        for i in 0..<Int(list.pointee.cnt) where list.pointee.elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let e = list.pointee.elems[i]
            return KafkaError(e.err, "\(context) \(String(cString: e.topic))-\(e.partition)")
        }
        return nil
    }
}

extension Duration {
    /// Whole milliseconds.
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Whole milliseconds, clamped to what librdkafka's `int` timeouts take.
    var milliseconds: Int32 { Int32(clamping: wholeMilliseconds) }

    /// The duration in seconds, fraction included.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
