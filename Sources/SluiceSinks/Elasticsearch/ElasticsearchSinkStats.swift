import SluiceKafka

/// Counters of one sink instance.
public struct ElasticsearchSinkStats: Sendable {
    /// Bulk requests sent.
    public var requests = 0
    /// Request bytes sent (before compression).
    public var bytes = 0
    /// Documents acknowledged.
    public var documents = 0
    /// Version conflicts ignored.
    public var conflicts = 0
    /// Documents sent to the dead-letter topic.
    public var deadLettered = 0
    /// Items retried, by reason (`item`, `connection`, `http_503`, …).
    public var retries: [String: Int] = [:]
    /// Request latencies in milliseconds.
    public var latencies = LatencySamples()
}

/// The most recent request latencies (a bounded window), for percentiles.
public struct LatencySamples: Sendable {
    private var samples: [Int64] = []
    private var next = 0
    private static let capacity = 4096

    /// Creates an empty window.
    public init() {}

    /// Adds the time since `start`.
    public mutating func record(since start: ContinuousClock.Instant) {
        record((ContinuousClock.now - start).wholeMilliseconds)
    }

    /// Adds the latencies `other` holds.
    public mutating func merge(_ other: LatencySamples) {
        for sample in other.samples { record(sample) }
    }

    /// Adds a latency in milliseconds.
    mutating func record(_ milliseconds: Int64) {
        if samples.count < Self.capacity { samples.append(milliseconds) } else { samples[next] = milliseconds }
        next = (next + 1) % Self.capacity
    }

    /// How many latencies the window holds.
    public var count: Int { samples.count }

    /// The nearest-rank `p`-th percentile (0–100) of the window, in milliseconds.
    public func percentile(_ p: Double) -> Int64? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[max(0, min(sorted.count - 1, rank - 1))]
    }
}
