import SluiceKafka

/// Where a record entered the topology: the input partition and offset it
/// was read from. Records derived from it keep it.
public struct Provenance: Sendable, Hashable, CustomStringConvertible {
    /// The input topic.
    public var topic: String
    /// The input partition.
    public var partition: Int32
    /// The input record's offset.
    public var offset: Int64

    /// Creates a provenance.
    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public var description: String { "\(topic)-\(partition)@\(offset)" }
}

/// A record flowing through a topology: key bytes, a value, headers and a
/// timestamp, plus where it came from.
///
/// Sources produce `Record<[UInt8]?>` (`nil` is a tombstone); operators such
/// as ``Stream/mapValues(named:_:)`` change the value's type.
public struct Record<Value> {
    /// The key, `nil` if null. It chooses the output partition.
    public var key: [UInt8]?
    /// The value.
    public var value: Value
    /// Headers in order; keys may repeat.
    public var headers: [KafkaHeader]
    /// Event time in milliseconds since the epoch.
    public var timestamp: Int64
    /// The input record this one derives from; `nil` for records a
    /// punctuator made.
    public var provenance: Provenance?

    /// Creates a record.
    @inlinable
    public init(key: [UInt8]?, value: Value, headers: [KafkaHeader] = [], timestamp: Int64,
                provenance: Provenance? = nil) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
        self.provenance = provenance
    }

    /// The same record with another value.
    @inlinable
    public func withValue<New>(_ value: New) -> Record<New> {
        Record<New>(key: key, value: value, headers: headers, timestamp: timestamp, provenance: provenance)
    }

    /// The same record with another value, made from this one, which it
    /// takes over: key, headers and provenance move rather than being
    /// copied. For a record the caller is done with (a node's own).
    @inlinable
    public consuming func replacingValue<New>(with value: consuming New) -> Record<New> {
        // Taken out field by field: reading them from `self` would copy each
        // and release the originals with `self`.
        var headers: [KafkaHeader] = []
        swap(&headers, &self.headers)
        return Record<New>(key: key.take(), value: value, headers: headers, timestamp: timestamp, provenance: provenance.take())
    }

    /// The key as UTF-8 text.
    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
}

extension Record: Sendable where Value: Sendable {}
extension Record: Equatable where Value: Equatable {}
