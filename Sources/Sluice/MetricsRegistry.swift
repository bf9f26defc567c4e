import Synchronization

/// One exported number: a stream thread writes it, the metrics endpoint's
/// thread reads it. A counter only grows; a gauge goes up and down.
public final class Metric: Sendable {
    private let value = Atomic<Int>(0)

    /// Adds `amount`.
    public func add(_ amount: Int) { value.add(amount, ordering: .relaxed) }
    /// Sets a gauge to `amount`.
    public func set(_ amount: Int) { value.store(amount, ordering: .relaxed) }
    /// The current value.
    public var current: Int { value.load(ordering: .relaxed) }
}

/// Observations counted into buckets by upper bound, with their sum: what
/// Prometheus' `histogram_quantile` reads. Observing takes a short lock,
/// so it suits events (a commit, a request), not every record.
public final class Histogram: Sendable {
    /// The buckets' upper bounds, ascending; `+Inf` is implied.
    public let bounds: [Double]
    private let state: Mutex<(buckets: [Int], sum: Double)>

    init(bounds: [Double]) {
        self.bounds = bounds
        state = Mutex((Array(repeating: 0, count: bounds.count + 1), 0))
    }

    /// Counts `value` in the first bucket whose bound is not below it.
    public func observe(_ value: Double) {
        let index = bounds.firstIndex { value <= $0 } ?? bounds.count
        state.withLock {
            $0.buckets[index] += 1
            $0.sum += value
        }
    }

    /// How many values were observed.
    public var count: Int { state.withLock { $0.buckets.reduce(0, +) } }

    /// Bucket counts (the last for values above every bound) and the sum.
    var snapshot: (buckets: [Int], sum: Double) { state.withLock { $0 } }

    /// Bounds for durations in seconds: Prometheus' defaults, and 30 s and
    /// 60 s for requests that wait on a slow destination.
    public static let secondsBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
}

/// The metrics components register beside the engine's own (a sink's
/// requests, retries and in-flight budget), served at `/metrics`.
/// Registering takes a lock and happens when a component starts or meets
/// a new label value; updating a ``Metric`` takes none.
public final class MetricsRegistry: Sendable {
    private enum Series {
        case stored(Metric)
        case computed(@Sendable () -> Double)
        case histogram(Histogram)
    }

    private struct Family {
        let type: String
        let help: String
        /// Each series by its labels, rendered as `a="b",c="d"`.
        var series: [(labels: String, value: Series)] = []
    }

    private let families = Mutex<[(name: String, family: Family)]>([])

    /// Creates an empty registry.
    public init() {}

    /// The counter `name` with `labels`, made on first use; the same name
    /// and labels give the same counter.
    public func counter(_ name: String, help: String, labels: [(String, String)]) -> Metric {
        metric(name, type: "counter", help: help, labels: labels)
    }

    /// The gauge `name` with `labels`, made on first use.
    public func gauge(_ name: String, help: String, labels: [(String, String)]) -> Metric {
        metric(name, type: "gauge", help: help, labels: labels)
    }

    /// The histogram `name` with `labels` and bucket `bounds`, made on first use.
    public func histogram(_ name: String, help: String, labels: [(String, String)],
                          bounds: [Double] = Histogram.secondsBounds) -> Histogram {
        register(name, type: "histogram", help: help, labels: labels) {
            let histogram = Histogram(bounds: bounds)
            return (.histogram(histogram), histogram)
        } reuse: {
            if case .histogram(let h) = $0 { h } else { nil }
        }
    }

    /// A series `name` with `labels` whose value `read` gives each time the
    /// metrics are served (a process's memory, whether it is ready); `type`
    /// is `gauge` or `counter`.
    public func computed(_ name: String, type: String = "gauge", help: String, labels: [(String, String)] = [],
                         read: @escaping @Sendable () -> Double) {
        register(name, type: type, help: help, labels: labels) { (.computed(read), ()) } reuse: { _ in nil }
    }

    /// Drops the series `name` with `labels` (a partition no longer owned),
    /// so that `/metrics` stops serving its last value.
    public func remove(_ name: String, labels: [(String, String)]) {
        let rendered = render(labels)
        families.withLock { families in
            guard let index = families.firstIndex(where: { $0.name == name }) else { return }
            families[index].family.series.removeAll { $0.labels == rendered }
        }
    }

    private func metric(_ name: String, type: String, help: String, labels: [(String, String)]) -> Metric {
        register(name, type: type, help: help, labels: labels) {
            let metric = Metric()
            return (.stored(metric), metric)
        } reuse: {
            if case .stored(let m) = $0 { m } else { nil }
        }
    }

    /// The series `name` with `labels`: the existing one as `reuse` gives
    /// it, or else (replacing any other) the one `make` makes.
    private func register<T>(_ name: String, type: String, help: String, labels: [(String, String)],
                             make: () -> (Series, T), reuse: (Series) -> T?) -> T {
        let rendered = render(labels)
        return families.withLock { families in
            let index = families.firstIndex { $0.name == name } ?? {
                families.append((name, Family(type: type, help: help)))
                return families.count - 1
            }()
            let existing = families[index].family.series.firstIndex { $0.labels == rendered }
            if let existing, let found = reuse(families[index].family.series[existing].value) { return found }
            let (series, made) = make()
            if let existing { families[index].family.series[existing].value = series }
            else { families[index].family.series.append((rendered, series)) }
            return made
        }
    }

    /// Every family in Prometheus' text exposition format.
    public func prometheusText() -> String {
        families.withLock { families in
            var text = ""
            for (name, family) in families {
                text += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.type)\n"
                for (labels, series) in family.series {
                    switch series {
                    case .stored(let metric): text += "\(name)\(braced(labels)) \(metric.current)\n"
                    case .computed(let read): text += "\(name)\(braced(labels)) \(Self.format(read()))\n"
                    case .histogram(let histogram): text += histogramLines(name, labels, histogram)
                    }
                }
            }
            return text
        }
    }

    /// A histogram's cumulative buckets, sum and count.
    private func histogramLines(_ name: String, _ labels: String, _ histogram: Histogram) -> String {
        let (buckets, sum) = histogram.snapshot
        let prefix = labels.isEmpty ? "" : labels + ","
        var text = "", cumulative = 0
        for (i, count) in buckets.enumerated() {
            cumulative += count
            let bound = i < histogram.bounds.count ? Self.format(histogram.bounds[i]) : "+Inf"
            text += "\(name)_bucket{\(prefix)le=\"\(bound)\"} \(cumulative)\n"
        }
        return text + "\(name)_sum\(braced(labels)) \(Self.format(sum))\n\(name)_count\(braced(labels)) \(cumulative)\n"
    }

    /// A value as the exposition format writes it: whole numbers without a fraction.
    private static func format(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Labels as a series key and as the exposition format writes them: `a="b",c="d"`.
    private func render(_ labels: [(String, String)]) -> String {
        labels.map { "\($0.0)=\"\(escaped($0.1))\"" }.joined(separator: ",")
    }

    /// `{labels}`, or nothing without labels.
    private func braced(_ labels: String) -> String { labels.isEmpty ? "" : "{\(labels)}" }

    private func escaped(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
