import SluiceKafka

/// A sink that keeps what it is given, in order, and acknowledges it at
/// once: what ``TopologyTestDriver`` runs in place of every real sink.
public final class RecordingSink<Item>: Sink {
    /// Every item written so far with the input record it came from.
    public private(set) var items: [(item: Item, source: Provenance?)] = []

    /// Creates an empty sink.
    public init() {}

    public func write(_ item: Item, source: Provenance?) throws { items.append((item, source)) }
    public func poll(timeout: Duration) throws {}
    public func firstPendingOffset(of partition: TopicPartition) -> Int64? { nil }
    public var isFull: Bool { false }
    public func flush(timeout: Duration) throws -> Bool { true }
    public func forget(_ partitions: [TopicPartition]) {}
    public func close() {}
}
