import Sluice
import SluiceKafka

/// What one sink instance has done. The counters are the series it
/// exports at `/metrics` (`sluice_es_*`, labelled with the application,
/// thread and sink), so the endpoint reads them while the sink runs.
public struct ElasticsearchSinkStats {
    private let registry: MetricsRegistry
    private let labels: [(String, String)]
    private let requestsSent, bytesSent, acknowledged, conflictsIgnored, deadLetters: Metric
    private let inFlightRequests, failingGauge: Metric
    private let requestDuration: Histogram
    /// The retried-items counter of each reason met so far.
    private var retryCounters: [String: Metric] = [:]
    /// Request latencies in milliseconds, the most recent.
    public private(set) var latencies = LatencySamples()

    /// Registers the sink's series in `context`'s registry.
    init(_ context: SinkContext) {
        registry = context.metrics
        labels = context.metricLabels
        func counter(_ name: String, _ help: String) -> Metric {
            context.metrics.counter("sluice_es_\(name)", help: help, labels: context.metricLabels)
        }
        requestsSent = counter("requests_total", "Bulk requests sent to Elasticsearch.")
        bytesSent = counter("request_bytes_total", "Bulk request bytes sent, before compression.")
        acknowledged = counter("documents_total", "Documents Elasticsearch acknowledged.")
        conflictsIgnored = counter("version_conflicts_ignored_total", "Version conflicts ignored (on_version_conflict: ignore).")
        deadLetters = counter("dead_letters_total", "Documents sent to the dead-letter topic.")
        inFlightRequests = context.metrics.gauge("sluice_es_in_flight_requests", help: "Bulk requests under way.",
                                                 labels: context.metricLabels)
        failingGauge = context.metrics.gauge("sluice_es_failing", help: "1 while requests fail and are retried with backoff.",
                                             labels: context.metricLabels)
        requestDuration = context.metrics.histogram("sluice_es_request_duration_seconds",
                                                    help: "From sending a bulk request to reading its response.",
                                                    labels: context.metricLabels)
        for reason in ["item", "connection"] { _ = retryCounter(reason) }
    }

    /// Counts a request answered (or failed) `milliseconds` after it was sent.
    mutating func requestEnded(after milliseconds: Int64) {
        latencies.record(milliseconds)
        requestDuration.observe(Double(milliseconds) / 1000)
    }

    /// Items retried, by reason (`item`, `connection`, `http_503`, …).
    public var retries: [String: Int] { retryCounters.mapValues(\.current) }

    /// Bulk requests sent.
    public var requests: Int { get { requestsSent.current } nonmutating set { requestsSent.set(newValue) } }
    /// Request bytes sent (before compression).
    public var bytes: Int { get { bytesSent.current } nonmutating set { bytesSent.set(newValue) } }
    /// Documents acknowledged.
    public var documents: Int { get { acknowledged.current } nonmutating set { acknowledged.set(newValue) } }
    /// Version conflicts ignored.
    public var conflicts: Int { get { conflictsIgnored.current } nonmutating set { conflictsIgnored.set(newValue) } }
    /// Documents sent to the dead-letter topic.
    public var deadLettered: Int { get { deadLetters.current } nonmutating set { deadLetters.set(newValue) } }
    /// Bulk requests under way now.
    public var inFlight: Int { get { inFlightRequests.current } nonmutating set { inFlightRequests.set(newValue) } }
    /// Whether requests are failing now (and being retried with backoff).
    public var failing: Bool { get { failingGauge.current == 1 } nonmutating set { failingGauge.set(newValue ? 1 : 0) } }

    /// Counts `count` items scheduled for a retry because of `reason`.
    mutating func retried(_ count: Int, reason: String) {
        retryCounter(reason).add(count)
    }

    /// The counter of `reason`, registered the first time the reason comes up.
    private mutating func retryCounter(_ reason: String) -> Metric {
        if let counter = retryCounters[reason] { return counter }
        let counter = registry.counter("sluice_es_retried_items_total", help: "Items scheduled for a retry, by reason.",
                                       labels: labels + [("reason", reason)])
        retryCounters[reason] = counter
        return counter
    }
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
