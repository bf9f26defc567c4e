import Sluice

/// statsd's aggregation as a windowed aggregate step: each record gives
/// StatsD samples (parsed lines, or metrics derived from a log event); the
/// aggregate of a metric is keyed by its kind and its key, as statsd keeps
/// counters, gauges, timers and sets apart; a gauge's value carries into
/// the metric's next window.
public struct StatsDAggregator<Input>: WindowAggregator {
    /// The samples a record gives.
    public let samples: @Sendable (Record<Input>) throws -> [StatsDSample]
    /// How many timer values a window keeps exactly before sketching.
    public let exactLimit: Int

    /// An aggregator of the samples `samples` finds in each record.
    public init(exactLimit: Int = TimerOptions().exactLimit,
                samples: @escaping @Sendable (Record<Input>) throws -> [StatsDSample]) {
        self.samples = samples
        self.exactLimit = exactLimit
    }

    /// The aggregate key of a metric: its kind's byte, then its key.
    public static func key(kind: MetricKind, key: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(key.utf8.count + 1)
        bytes.append(kindByte(kind))
        bytes.append(contentsOf: key.utf8)
        return bytes
    }

    /// The kind and metric key of an aggregate key.
    public static func metric(of key: [UInt8]) -> (kind: MetricKind, key: String) {
        let kind = MetricKind.allCases.first { kindByte($0) == key.first } ?? .counter
        return (kind, String(decoding: key.dropFirst(), as: UTF8.self))
    }

    private static func kindByte(_ kind: MetricKind) -> UInt8 {
        switch kind {
        case .counter: UInt8(ascii: "c")
        case .gauge: UInt8(ascii: "g")
        case .timer: UInt8(ascii: "t")
        case .set: UInt8(ascii: "s")
        }
    }

    public func updates(of record: Record<Input>) throws -> [(key: [UInt8], update: StatsDSample)] {
        try samples(record).map { (Self.key(kind: $0.kind, key: $0.key), $0) }
    }

    public func initial(key: [UInt8], carried: MetricAggregate?) -> MetricAggregate {
        if case .gauge(let value) = carried { return .gauge(value) }
        return MetricAggregate(kind: Self.metric(of: key).kind)
    }

    public func add(_ update: StatsDSample, to aggregate: inout MetricAggregate) {
        aggregate.add(update, exactLimit: exactLimit)
    }

    public func carry(_ aggregate: MetricAggregate) -> MetricAggregate? {
        if case .gauge = aggregate { return aggregate }
        return nil
    }

    public func encode(_ aggregate: MetricAggregate) -> [UInt8] { aggregate.encoded }

    public func decode(_ bytes: [UInt8]) throws -> MetricAggregate { try MetricAggregate(encoded: bytes) }
}
