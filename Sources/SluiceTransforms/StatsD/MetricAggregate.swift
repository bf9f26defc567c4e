/// What one metric (a key of one ``MetricKind``) accumulates in one
/// window, combined as the statsd daemon combines samples between flushes.
public enum MetricAggregate: Sendable, Hashable {
    /// Σ value / sample rate.
    case counter(Double)
    /// The current value.
    case gauge(Double)
    /// The values and their corrected count.
    case timer(TimerSamples)
    /// The unique members.
    case set(Set<String>)

    /// The empty aggregate of `kind`. A gauge starts from `carriedGauge`,
    /// its value at the end of an earlier window, so `+N`/`-N` change it.
    public init(kind: MetricKind, carriedGauge: Double? = nil) {
        switch kind {
        case .counter: self = .counter(0)
        case .gauge: self = .gauge(carriedGauge ?? 0)
        case .timer: self = .timer(TimerSamples())
        case .set: self = .set([])
        }
    }

    /// The kind of metric this aggregates.
    public var kind: MetricKind {
        switch self {
        case .counter: .counter
        case .gauge: .gauge
        case .timer: .timer
        case .set: .set
        }
    }

    /// Adds one sample of the same kind (a sample of another kind is a
    /// programming error: aggregates are keyed by kind and name).
    public mutating func add(_ sample: StatsDSample, exactLimit: Int = TimerOptions().exactLimit) {
        precondition(sample.kind == kind, "a \(sample.kind) sample added to a \(kind) aggregate")
        switch self {
        case .counter(let sum):
            self = .counter(sum + sample.value / sample.sampleRate)
        case .gauge(let value):
            self = .gauge(sample.isDelta ? value + sample.value : sample.value)
        case .timer(var samples):
            self = .counter(0) // drops the reference, so the values are changed in place
            samples.add(sample.value, sampleRate: sample.sampleRate, exactLimit: exactLimit)
            self = .timer(samples)
        case .set(var members):
            self = .counter(0)
            members.insert(sample.member ?? "0")
            self = .set(members)
        }
    }

    /// The window's result as statsd reports it at a flush: a counter's
    /// `count` and `rate` (per second), a gauge's `value`, a timer's
    /// statistics (``TimerSamples/statistics(key:windowSeconds:options:)``),
    /// a set's `count` of unique members.
    public func fields(key: String, windowSeconds: Double, options: TimerOptions = TimerOptions()) -> [MetricField] {
        switch self {
        case .counter(let count):
            [MetricField("count", count), MetricField("rate", count / windowSeconds)]
        case .gauge(let value):
            [MetricField("value", value)]
        case .timer(let samples):
            samples.statistics(key: key, windowSeconds: windowSeconds, options: options)
        case .set(let members):
            [MetricField("count", Double(members.count))]
        }
    }
}
