import SluiceKafka
import SluiceState

/// Where a record sent through a repartition topic came from: the input
/// partition and offset of the record it was made from, and its index among
/// the records made from that one (a log line can give several metrics).
///
/// It travels in a header. A stateful step after the repartition topic keeps
/// the last position it applied per upstream partition, with its state, and
/// passes over a record at or before it. The upstream task sends what it
/// sends again after a crash (from its last committed offset) in the same
/// order, so each record counts once without trusting broker transactions.
struct UpstreamPosition: Equatable {
    /// The header that carries it.
    static let header = "sluice.upstream"

    /// The upstream input partition.
    var source: TopicPartition
    /// The upstream input offset.
    var offset: Int64
    /// The index among the records made from that input record.
    var index: Int64

    /// Whether this position comes after `last`, of the same partition.
    func isAfter(_ last: UpstreamPosition?) -> Bool {
        guard let last else { return true }
        return offset > last.offset || (offset == last.offset && index > last.index)
    }

    /// The upstream partition as bytes: partition (4, big-endian), topic (UTF-8).
    var sourceBytes: [UInt8] {
        var bytes: [UInt8] = []
        appendSource(to: &bytes)
        return bytes
    }

    private func appendSource(to bytes: inout [UInt8]) {
        withUnsafeBytes(of: source.partition.bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: source.topic.utf8)
    }

    /// offset, index (each 8 bytes, big-endian), then ``sourceBytes``: the
    /// header's value, and what a windowed aggregate stores.
    var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20 + source.topic.utf8.count)
        bytes.appendBigEndian(offset)
        bytes.appendBigEndian(index)
        // Appended in place: this runs for every repartitioned record.
        appendSource(to: &bytes)
        return bytes
    }

    init(source: TopicPartition, offset: Int64, index: Int64) {
        self.source = source
        self.offset = offset
        self.index = index
    }

    /// Reads what ``encoded`` wrote.
    init?(encoded value: [UInt8]) {
        guard value.count >= 20 else { return nil }
        let partition = value[16..<20].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        self.init(source: TopicPartition(String(decoding: value[20...], as: UTF8.self), Int32(bitPattern: partition)),
                  offset: value.readBigEndian(at: 0), index: value.readBigEndian(at: 8))
    }

    /// The position in `headers`, if they carry one.
    init?(headers: [KafkaHeader]) {
        guard !headers.isEmpty, let value = headers.last(where: { $0.key == Self.header })?.value else { return nil }
        self.init(encoded: value)
    }
}

extension Stream {
    /// Sends each record through `topic`, keyed by `key`, and reads it
    /// back as the stream this returns: records with one key meet in one
    /// task, whichever input partition they came from (Kafka Streams'
    /// `repartition`). The application creates `topic` with as many
    /// partitions as its widest input and never deletes from it by time
    /// (records keep their event time). Each record carries its upstream
    /// position in a header, so a windowed aggregate downstream applies it
    /// once even when the upstream task sends it again after a crash.
    public func repartition(through topic: String, named name: String? = nil,
                            key: @escaping @Sendable (Record<Value>) throws -> [UInt8]?,
                            serialize: @escaping @Sendable (Value) throws -> [UInt8]?) -> Stream<[UInt8]?> {
        let name = builder.name(name, "repartition")
        builder.repartitionTopics.append(topic)
        builder.add(name, kind: "sink", parents: [node]) { context in
            let collector = context.task.collector
            var last: Provenance?
            var index: Int64 = 0
            return Node<Value>(name: name) { record in
                try attributed(to: name) {
                    var headers = record.headers.filter { $0.key != UpstreamPosition.header }
                    if let p = record.provenance {
                        index = p == last ? index + 1 : 0
                        last = p
                        let position = UpstreamPosition(source: TopicPartition(p.topic, p.partition), offset: p.offset, index: index)
                        headers.append(KafkaHeader(UpstreamPosition.header, position.encoded))
                    }
                    try collector.send(topic: topic, key: try key(record), value: try serialize(record.value), headers: headers,
                                       timestamp: record.timestamp)
                }
            }
        }.sinkTopic = topic
        return builder.stream([topic], named: "\(name)-source")
    }
}
