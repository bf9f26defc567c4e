/// The samples of a Prometheus text exposition, as ``MetricsRegistry``
/// writes it (or any `/metrics` serves it), for reading totals back: the
/// live status line of `sluice run`, and the demo's progress.
public struct MetricSamples: Sendable {
    /// One sample: a series and its value.
    public struct Sample: Sendable {
        /// The sample's name (a histogram's carry `_bucket`, `_sum`, `_count`).
        public let name: String
        /// The label set as written, braces included (empty without labels).
        public let labels: String
        public let value: Double
    }

    /// Every sample, in the order written.
    public private(set) var samples: [Sample] = []
    /// Every family a `# TYPE` line announces.
    public private(set) var families: Set<String> = []

    /// Reads `text`; lines that are not samples or `# TYPE` lines are skipped.
    public init(text: String) {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                if let name = line.split(separator: " ").dropFirst(2).first { families.insert(String(name)) }
                continue
            }
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...])
            else { continue }
            let series = line[..<space]
            let name = series.prefix { $0 != "{" }
            samples.append(Sample(name: String(name), labels: String(series.dropFirst(name.count)), value: value))
        }
    }

    /// The sum of family `name`'s samples whose labels contain `label` (all without one).
    public func sum(_ name: String, where label: String? = nil) -> Double {
        samples.reduce(0) { total, s in
            s.name == name && (label.map { s.labels.contains($0) } ?? true) ? total + s.value : total
        }
    }

    /// Whether family `name` has a sample (a histogram's `_count` counts).
    public func hasSamples(of name: String) -> Bool {
        samples.contains { $0.name == name || $0.name == name + "_count" }
    }
}
