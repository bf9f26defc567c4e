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
    // Constants, as a consumer's record is: with seven stored `var`s,
    // Swift 6.3 built each record in a temporary and copied it once more
    // on its way out of the initializer (every reference retained and
    // released again), once per polled record.
    /// Where the record was read.
    public let topic: String
    /// Its partition.
    public let partition: Int32
    /// Its offset in the partition.
    public let offset: Int64
    /// Its key, `nil` if null.
    public let key: [UInt8]?
    /// Its value, `nil` for a tombstone.
    public let value: [UInt8]?
    /// Its timestamp in milliseconds since the epoch (create or log-append time).
    public let timestamp: Int64
    /// Its headers in order.
    public let headers: [KafkaHeader]

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

    /// Copies a lent record whole.
    public init(_ view: borrowing KafkaRecordView) {
        // Borrowed and built member by member: taking the view by value and
        // delegating copied it once more per record (a retain and a release
        // of its topic name).
        topic = view.topic
        partition = view.partition
        offset = view.offset
        key = view.key.map(Array.init)
        value = view.value.map(Array.init)
        timestamp = view.timestamp
        headers = view.headers
    }

    /// Lends this record as a view, for code that reads records the way a
    /// consumer lends them (a restore reading a changelog, say).
    public func withView<R>(_ body: (KafkaRecordView) throws -> R) rethrows -> R {
        try withBytes(of: key) { key in
            try withBytes(of: value) { value in
                try headers.withUnsafeBufferPointer { headers in
                    try body(KafkaRecordView(topic: topic, partition: partition, offset: offset, key: key, value: value,
                                             timestamp: timestamp, headerSource: .copied(headers)))
                }
            }
        }
    }
}

private func withBytes<R>(of bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
    guard let bytes else { return try body(nil) }
    return try bytes.withUnsafeBytes { try body($0) }
}

/// A record lent for the length of one call: its key, value and headers
/// point into the consumer's buffers, so reading it copies nothing. It
/// must not be kept past the call that lends it; ``KafkaMessage/init(_:)``
/// copies one that must.
public struct KafkaRecordView {
    /// Where the record was read.
    public let topic: String
    /// Its partition.
    public let partition: Int32
    /// Its offset in the partition.
    public let offset: Int64
    /// Its key, `nil` if null.
    public let key: UnsafeRawBufferPointer?
    /// Its value, `nil` for a tombstone.
    public let value: UnsafeRawBufferPointer?
    /// Its timestamp in milliseconds since the epoch.
    public let timestamp: Int64
    fileprivate let headerSource: HeaderSource

    fileprivate enum HeaderSource {
        case native(UnsafeMutablePointer<rd_kafka_message_t>)
        case copied(UnsafeBufferPointer<KafkaHeader>)
    }

    /// Calls `body` with the value of the last header called `name`
    /// (`nil` if there is none, or it is null), readable during the call.
    public func withLastHeader<R>(_ name: String, _ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
        switch headerSource {
        case .native(let m):
            var hdrs: OpaquePointer?
            var value: UnsafeRawPointer?
            var size = 0
            guard rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs,
                  rd_kafka_header_get_last(hdrs, name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR, let value else {
                return try body(nil)
            }
            return try body(UnsafeRawBufferPointer(start: value, count: size))
        case .copied(let headers):
            return try withBytes(of: headers.last(where: { $0.key == name })?.value, body)
        }
    }

    /// Its headers in order, copied.
    public var headers: [KafkaHeader] {
        switch headerSource {
        case .native(let m): Self.headers(of: m)
        case .copied(let headers): Array(headers)
        }
    }

    /// A librdkafka message's headers in order, copied.
    static func headers(of m: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
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

extension KafkaMessage {
    /// Copies a librdkafka message; `topic` is the caller's cached name of
    /// its topic. A consumer's batch poll reads the message itself: built
    /// through a view, each record also copied the view twice (its topic
    /// name retained and released).
    init(copying m: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) {
        let msg = m.pointee
        self.init(topic: topic, partition: msg.partition, offset: msg.offset,
                  key: msg.keyBytes.map { Array($0) }, value: msg.valueBytes.map { Array($0) },
                  timestamp: rd_kafka_message_timestamp(m, nil), headers: KafkaRecordView.headers(of: m))
    }
}

extension KafkaRecordView {
    /// Lends a librdkafka message; `topic` is the caller's cached name of its topic.
    init(_ m: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) {
        let msg = m.pointee
        self.init(topic: topic, partition: msg.partition, offset: msg.offset,
                  key: msg.keyBytes, value: msg.valueBytes,
                  timestamp: rd_kafka_message_timestamp(m, nil), headerSource: .native(m))
    }
}

extension rd_kafka_message_t {
    /// The key's bytes in librdkafka's buffer, `nil` if null.
    fileprivate var keyBytes: UnsafeRawBufferPointer? { key.map { UnsafeRawBufferPointer(start: $0, count: key_len) } }
    /// The value's bytes in librdkafka's buffer, `nil` for a tombstone.
    fileprivate var valueBytes: UnsafeRawBufferPointer? { payload.map { UnsafeRawBufferPointer(start: $0, count: len) } }
}

extension Array where Element == KafkaHeader {
    /// The last header named `key` as a UTF-8 string.
    public func string(_ key: String) -> String? {
        last { $0.key == key }?.value.map { String(decoding: $0, as: UTF8.self) }
    }
}
