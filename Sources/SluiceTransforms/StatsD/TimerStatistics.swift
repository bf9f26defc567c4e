/// Which statistics a timer reports: statsd's `percentThreshold`,
/// `histogram` and `calculatedTimerMetrics` settings, and how many values a
/// window keeps exactly.
public struct TimerOptions: Sendable, Hashable {
    /// The percentiles reported; a negative one is a top percentile
    /// (`-10` reports the largest 10 % as `*_top10`).
    public var percentiles: [Double]
    /// Histogram bins by metric: the first whose `metric` is part of the
    /// key applies.
    public var histograms: [HistogramBins]
    /// The statistics to report (statsd's `calculatedTimerMetrics`:
    /// `mean`, `upper_percent`, `histogram`…); `nil` reports all.
    public var only: Set<String>?
    /// How many values a window keeps exactly; beyond it, values go to a
    /// ``QuantileSketch``.
    public var exactLimit: Int

    /// Options with statsd's defaults: the 90th percentile, no histograms.
    public init(percentiles: [Double] = [90], histograms: [HistogramBins] = [], only: Set<String>? = nil,
                exactLimit: Int = 10_000) {
        self.percentiles = percentiles
        self.histograms = histograms
        self.only = only
        self.exactLimit = exactLimit
    }
}

/// Histogram bins for the timers whose key contains `metric`: each bin
/// counts the values below its upper bound not counted by an earlier bin;
/// values above the last bound are not counted unless it is infinity.
public struct HistogramBins: Sendable, Hashable {
    /// A part of the keys these bins apply to.
    public var metric: String
    /// Ascending upper bounds; `Double.infinity` is statsd's `inf`.
    public var bounds: [Double]

    /// Creates bins.
    public init(metric: String, bounds: [Double]) {
        self.metric = metric
        self.bounds = bounds
    }
}

/// One statistic of a window's result: its statsd name and value.
public struct MetricField: Sendable, Hashable, CustomStringConvertible {
    /// statsd's name (`count`, `upper_90`, `histogram.bin_1`).
    public var name: String
    /// The value.
    public var value: Double

    /// Creates a field.
    public init(_ name: String, _ value: Double) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name)=\(value)" }
}

/// A timer's values in one window: kept exactly up to a limit, then in a
/// sketch, with the sample-rate corrected count beside them.
public struct TimerSamples: Sendable, Hashable {
    /// The number of events the samples stand for: Σ 1/sample rate.
    public private(set) var count = 0.0
    private(set) var values: [Double] = []
    private(set) var sketch: QuantileSketch?

    /// No samples.
    public init() {}

    init(count: Double, values: [Double], sketch: QuantileSketch?) {
        self.count = count
        self.values = values
        self.sketch = sketch
    }

    /// Whether the values are exact (no sketch yet).
    public var isExact: Bool { sketch == nil }

    /// Adds one value sent at `sampleRate`.
    public mutating func add(_ value: Double, sampleRate: Double = 1, exactLimit: Int) {
        count += 1 / sampleRate
        if sketch != nil {
            sketch!.add(value)
        } else if values.count < exactLimit {
            values.append(value)
        } else {
            var s = QuantileSketch()
            for v in values { s.add(v) }
            s.add(value)
            sketch = s
            values = []
        }
    }

    /// statsd's timer statistics (`process_metrics`) over a window of
    /// `windowSeconds`, in statsd's order: per percentile `count_P`,
    /// `mean_P`, `upper_P` (`lower_topP` for a top percentile), `sum_P`,
    /// `sum_squares_P`; then `std` (population), `upper`, `lower`, `count`,
    /// `count_ps`, `sum`, `sum_squares`, `mean`, `median` and the
    /// histogram's `histogram.bin_B`.
    public func statistics(key: String, windowSeconds: Double, options: TimerOptions) -> [MetricField] {
        let ranked = sketch.map(RankedValues.init(sketch:)) ?? RankedValues(exact: values)
        let n = ranked.count
        guard n > 0 else { return filtered([MetricField("count", 0), MetricField("count_ps", 0)], options.only) }
        var out: [MetricField] = []
        let minimum = ranked.value(0), maximum = ranked.value(n - 1)
        var sum = minimum, squares = minimum * minimum, mean = minimum, boundary = maximum
        for pct in options.percentiles {
            var inThreshold = n
            if n > 1 {
                inThreshold = Int((abs(pct) / 100 * Double(n) + 0.5).rounded(.down))
                if inThreshold == 0 { continue }
                if pct > 0 {
                    boundary = ranked.value(inThreshold - 1)
                    (sum, squares) = ranked.prefix(inThreshold)
                } else {
                    boundary = ranked.value(n - inThreshold)
                    let below = ranked.prefix(n - inThreshold), all = ranked.prefix(n)
                    (sum, squares) = (all.sum - below.sum, all.squares - below.squares)
                }
                mean = sum / Double(inThreshold)
            }
            let name = Self.statsdName(pct)
            out += [MetricField("count_\(name)", Double(inThreshold)), MetricField("mean_\(name)", mean),
                    MetricField("\(pct > 0 ? "upper" : "lower")_\(name)", boundary),
                    MetricField("sum_\(name)", sum), MetricField("sum_squares_\(name)", squares)]
        }
        let total = ranked.prefix(n)
        let average = total.sum / Double(n)
        let median = n % 2 == 1 ? ranked.value(n / 2) : (ranked.value(n / 2 - 1) + ranked.value(n / 2)) / 2
        out += [MetricField("std", ranked.deviation(average)), MetricField("upper", maximum),
                MetricField("lower", minimum), MetricField("count", count),
                MetricField("count_ps", count / windowSeconds), MetricField("sum", total.sum),
                MetricField("sum_squares", total.squares), MetricField("mean", average), MetricField("median", median)]
        if let bins = options.histograms.first(where: { key.contains($0.metric) }) {
            var counted = 0
            for bound in bins.bounds {
                let below = bound == .infinity ? n : ranked.countBelow(bound)
                out.append(MetricField("histogram.bin_\(Self.statsdName(bound))", Double(Swift.max(0, below - counted))))
                counted = Swift.max(counted, below)
            }
        }
        return filtered(out, options.only)
    }

    /// A number as statsd writes it in a name: JavaScript's shortest form
    /// with the first `.` as `_` and a leading `-` as `top`; `inf` for infinity.
    static func statsdName(_ number: Double) -> String {
        if number == .infinity { return "inf" }
        var text = javaScriptText(number)
        if let dot = text.firstIndex(of: ".") { text.replaceSubrange(dot...dot, with: "_") }
        if text.hasPrefix("-") { text = "top" + text.dropFirst() }
        return text
    }

    /// statsd's `calculatedTimerMetrics` filter: a percentile's statistic
    /// is named by its stem and `_percent` (`upper_percent`), a histogram
    /// bin by `histogram`.
    private func filtered(_ fields: [MetricField], _ only: Set<String>?) -> [MetricField] {
        guard let only else { return fields }
        return fields.filter { field in
            if field.name.hasPrefix("histogram.") { return only.contains("histogram") }
            return only.contains(Self.filterName(field.name))
        }
    }

    /// `upper_90` → `upper_percent`, `mean_top10` → `mean_percent`; other names unchanged.
    static func filterName(_ name: String) -> String {
        var stem = Substring(name)
        while let last = stem.last, last.isASCII, last.isNumber { stem.removeLast() }
        guard stem.count < name.count else { return name }
        if stem.hasSuffix("top") { stem.removeLast(3) }
        guard stem.hasSuffix("_") else { return name }
        return stem + "percent"
    }
}

/// A timer's values in ascending order, read by rank: exact values, or a
/// sketch's buckets.
private struct RankedValues {
    let count: Int
    /// The value at a 0-based rank.
    let value: (Int) -> Double
    /// The sum and sum of squares of the `k` smallest values.
    let prefix: (Int) -> (sum: Double, squares: Double)
    /// How many values are below a bound.
    let countBelow: (Double) -> Int
    /// The population standard deviation around `mean`.
    let deviation: (_ mean: Double) -> Double

    init(exact unsorted: [Double]) {
        let values = unsorted.sorted()
        // Running sums in ascending order, as statsd adds them, so results
        // match its floating-point figures exactly.
        var sums = [Double](), squares = [Double]()
        sums.reserveCapacity(values.count)
        squares.reserveCapacity(values.count)
        for v in values {
            sums.append((sums.last ?? 0) + v)
            squares.append((squares.last ?? 0) + v * v)
        }
        count = values.count
        value = { values[$0] }
        prefix = { k in k == 0 ? (0, 0) : (sums[k - 1], squares[k - 1]) }
        countBelow = { bound in values.partitioningIndex { $0 >= bound } }
        deviation = { mean in
            var diffs = 0.0
            for v in values { diffs += (v - mean) * (v - mean) }
            return (diffs / Double(values.count)).squareRoot()
        }
    }

    init(sketch: QuantileSketch) {
        let buckets = sketch.ascendingBuckets()
        var ends = [Int](), sums = [Double](), squares = [Double]()
        for b in buckets {
            ends.append((ends.last ?? 0) + Int(b.count))
            sums.append((sums.last ?? 0) + b.value * Double(b.count))
            squares.append((squares.last ?? 0) + b.value * b.value * Double(b.count))
        }
        let n = Int(sketch.count)
        func bucket(of rank: Int) -> Int { ends.partitioningIndex { $0 > rank } }
        count = n
        value = { rank in
            rank == 0 ? sketch.min : rank == n - 1 ? sketch.max : buckets[bucket(of: rank)].value
        }
        prefix = { k in
            if k == n { return (sketch.sum, sketch.sumSquares) }
            guard k > 0 else { return (0, 0) }
            let b = bucket(of: k - 1)
            let before = b == 0 ? 0 : ends[b - 1]
            let partial = Double(k - before), v = buckets[b].value
            return ((b == 0 ? 0 : sums[b - 1]) + partial * v, (b == 0 ? 0 : squares[b - 1]) + partial * v * v)
        }
        countBelow = { bound in
            let b = buckets.partitioningIndex { $0.value >= bound }
            return b == 0 ? 0 : ends[b - 1]
        }
        deviation = { mean in
            Swift.max(0, sketch.sumSquares / Double(n) - mean * mean).squareRoot()
        }
    }
}

/// A number as JavaScript prints it, as statsd writes it: `500`, `0.3`.
func javaScriptText(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
}

extension RandomAccessCollection {
    /// The index of the first element for which `predicate` holds, given
    /// that it holds for a suffix of the collection.
    func partitioningIndex(where predicate: (Element) -> Bool) -> Index {
        var low = startIndex, high = endIndex
        while low < high {
            let mid = index(low, offsetBy: distance(from: low, to: high) / 2)
            if predicate(self[mid]) { high = mid } else { low = index(after: mid) }
        }
        return low
    }
}
