import CRdKafka

/// A Kafka record header. Keys may repeat; a `nil` value is a null header.
public struct KafkaHeader: Sendable, Hashable {
    /// The header's name.
    public var key: String
    /// The header's bytes, or `nil` for a null header.
    public var value: [UInt8]?

    /// Creates a header.
    public init(_ key: String, _ value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    /// Creates a header with a UTF-8 string value.
    public init(_ key: String, _ value: String) {
        self.init(key, Array(value.utf8))
    }
}

/// A record read from a partition.
public struct KafkaMessage: Sendable {
    /// Where the record was read.
    public var topic: String
    /// Its partition.
    public var partition: Int32
    /// Its offset in the partition.
    public var offset: Int64
    /// Its key, `nil` if null.
    public var key: [UInt8]?
    /// Its value, `nil` for a tombstone.
    public var value: [UInt8]?
    /// Its timestamp in milliseconds since the epoch (create or log-append time).
    public var timestamp: Int64
    /// Its headers in order.
    public var headers: [KafkaHeader]

    /// Creates a record, as a test or a replay would.
    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8]?,
                timestamp: Int64, headers: [KafkaHeader] = []) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.headers = headers
    }

    /// Copies a librdkafka message; `topic` is the caller's cached name of its topic.
    init(_ m: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) {
        let msg = m.pointee
        self.init(
            topic: topic, partition: msg.partition, offset: msg.offset,
            key: msg.key.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.key_len)) },
            value: msg.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.len)) },
            timestamp: rd_kafka_message_timestamp(m, nil),
            headers: Self.headers(of: m))
    }

    private static func headers(of m: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var hdrs: OpaquePointer?
        guard rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs else { return [] }
        var out: [KafkaHeader] = []
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        var i = 0
        while rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            out.append(KafkaHeader(String(cString: name!), value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
            i += 1
        }
        return out
    }
}

extension Array where Element == KafkaHeader {
    /// The last header named `key` as a UTF-8 string.
    public func string(_ key: String) -> String? {
        last { $0.key == key }?.value.map { String(decoding: $0, as: UTF8.self) }
    }
}
