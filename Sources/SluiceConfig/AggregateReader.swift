import Sluice
import SluiceSinks
import SluiceTransforms
import Yams

/// Reads an `aggregate` step:
///
/// ```yaml
/// - name: nginx-rollups          # names the state store and its changelog topic
///   aggregate:
///     window: 10s                # tumbling; `advance: 5s` makes them hopping
///     grace: 2s
///     emit: final                # or update, at most every `update_interval`
///     idle_close: 30s
///     late: dlq                  # or count
///     repartition: false         # each metric's samples arrive on one partition already (default: true)
///     percentiles: [90, 99]
///     metrics:                   # omitted for StatsD samples from a statsd source
///       - counter: nginx.requests
///         tags: [service, status_class]
///       - timer: nginx.duration_ms
///         value: duration_ms
///     to: rollups                # one destination or a list
/// ```
struct AggregateReader {
    let reader: YAMLReader
    let destinations: [DestinationSpec]
    /// Whether some source reads StatsD lines, whose samples need no `metrics`.
    let statsdSources: Bool

    static let keys = ["window", "advance", "grace", "emit", "update_interval", "idle_close", "late", "percentiles",
                       "histograms", "timer_statistics", "exact_limit", "metrics", "repartition", "to"]
    static let metricKeys = ["value", "tags", "sample_rate", "optional"]

    func aggregate(_ body: Node, name: String?, step: Node) -> AggregateSpec? {
        guard let f = reader.mapping(body, "an aggregate step", allowed: Self.keys, required: ["window", "to"]) else { return nil }
        guard let name else {
            reader.report(step, "expected a `name` on an aggregate step: it names the state store and its changelog topic, which must stay the same when other steps change")
            return nil
        }
        var ok = true
        func read<T>(_ key: String, _ parse: (Node) -> T?, into apply: (T) -> Void) {
            ok = f.read(key, parse, into: apply) && ok
        }
        var size: Duration?, advance: Duration?, grace = Duration.zero
        read("window", { reader.duration($0, "a window size") }) { size = $0 }
        read("advance", { reader.duration($0, "a window advance") }) { advance = $0 }
        read("grace", { reader.duration($0, "a grace period") }) { grace = $0 }
        var windows: TimeWindows?
        if let size { windows = reader.checked(f["advance"] ?? f["window"]!, "bad windows") { try TimeWindows(size: size, advance: advance, grace: grace) } }
        let emit = emitMode(f)
        var idleClose: Duration?, lateToDeadLetter = true, timers = TimerOptions()
        read("idle_close", { reader.duration($0, "an idle close time") }) { idleClose = $0 }
        read("late", { reader.choice($0, "late policy", as: LatePolicy.self) }) { lateToDeadLetter = $0 == .dlq }
        read("percentiles", percentiles) { timers.percentiles = $0 }
        read("histograms", histograms) { timers.histograms = $0 }
        read("timer_statistics", { reader.strings($0, "timer statistics") }) { timers.only = Set($0) }
        read("exact_limit", { reader.int($0, "exact_limit", atLeast: 1) }) { timers.exactLimit = $0 }
        var metrics: [MetricDerivation]?
        read("metrics", self.metrics) { metrics = $0 }
        var repartition = true
        read("repartition", { reader.bool($0, "repartition") }) { repartition = $0 }
        if f["metrics"] == nil, !statsdSources {
            reader.report(body, "expected `metrics` in an aggregate step: only a statsd source gives events that are StatsD samples")
            ok = false
        }
        let targets = f["to"].flatMap(rollupDestinations)
        guard ok, let windows, let emit, let targets else { return nil }
        return AggregateSpec(name: name, options: WindowedAggregateOptions(windows: windows, emit: emit, idleClose: idleClose,
                                                                          lateToDeadLetter: lateToDeadLetter),
                             timers: timers, metrics: metrics, destinations: targets, repartition: repartition)
    }

    private enum LatePolicy: String, CaseIterable { case dlq, count }
    private enum EmitChoice: String, CaseIterable { case final, update }

    private func emitMode(_ f: YAMLReader.Fields) -> EmitMode? {
        let choice = f["emit"].map { reader.choice($0, "emit mode", as: EmitChoice.self) } ?? .final
        let interval = f["update_interval"].map { reader.duration($0, "an update interval") } ?? .seconds(1)
        if let node = f["update_interval"], choice == .final {
            reader.report(node, "update_interval applies to `emit: update` only")
            return nil
        }
        guard let choice, let interval else { return nil }
        return choice == .final ? .final : .update(every: interval)
    }

    private func percentiles(_ node: Node) -> [Double]? {
        let items = reader.items(node)
        let values = items.compactMap { item -> Double? in
            guard let p = reader.double(item, "a percentile") else { return nil }
            guard p != 0, abs(p) <= 100 else {
                reader.report(item, "expected a percentile between -100 and 100 other than 0 (negative for a top percentile), found \(p)")
                return nil
            }
            return p
        }
        return values.count == items.count ? values : nil
    }

    private func histograms(_ node: Node) -> [HistogramBins]? {
        guard let items = reader.sequence(node, "histograms") else { return nil }
        let bins = items.compactMap { item -> HistogramBins? in
            guard let f = reader.mapping(item, "a histogram", allowed: ["metric", "bins"], required: ["metric", "bins"]),
                  let metric = f["metric"].flatMap({ reader.string($0, "a metric name part") }),
                  let binsNode = f["bins"], let texts = reader.strings(binsNode, "histogram bins") else { return nil }
            let bounds = texts.compactMap { $0 == "inf" ? Double.infinity : Double($0) }
            guard bounds.count == texts.count, zip(bounds, bounds.dropFirst()).allSatisfy({ $0 < $1 }) else {
                reader.report(binsNode, "expected histogram bins as ascending numbers, `inf` last for an unbounded bin")
                return nil
            }
            return HistogramBins(metric: metric, bounds: bounds)
        }
        return bins.count == items.count ? bins : nil
    }

    private func metrics(_ node: Node) -> [MetricDerivation]? {
        guard let items = reader.sequence(node, "metrics") else { return nil }
        if items.isEmpty { reader.report(node, "expected at least one metric") }
        let derived = items.compactMap(metric)
        return derived.count == items.count && !items.isEmpty ? derived : nil
    }

    /// `- counter|gauge|timer|set: name` with `value`, `tags`, `sample_rate`, `optional`.
    private func metric(_ item: Node) -> MetricDerivation? {
        let kinds = MetricKind.allCases.map(\.rawValue)
        guard let f = reader.mapping(item, "a metric", allowed: kinds + Self.metricKeys) else { return nil }
        let named = kinds.filter { f[$0] != nil }
        guard named.count == 1, let kind = MetricKind(rawValue: named[0]) else {
            reader.report(item, "expected a metric to name exactly one kind (\(kinds.joined(separator: ", "))) with its name")
            return nil
        }
        guard let name = reader.template(f[named[0]]!, "a metric name") else { return nil }
        var metric = MetricDerivation(kind: kind, name: name)
        var ok = true
        ok = f.read("value", field) { metric.value = $0 } && ok
        ok = f.read("tags", tags) { metric.tags = $0 } && ok
        ok = f.read("sample_rate", { reader.double($0, "a sample rate") }) { metric.sampleRate = $0 } && ok
        ok = f.read("optional", { reader.bool($0, "optional") }) { metric.optional = $0 } && ok
        if metric.value == nil, kind != .counter {
            reader.report(item, "expected a `value` field for a \(kind.rawValue) (only a counter counts events without one)")
            return nil
        }
        if !(metric.sampleRate > 0 && metric.sampleRate <= 1) {
            reader.report(f["sample_rate"] ?? item, "expected a sample rate above 0 and at most 1")
            return nil
        }
        return ok ? metric : nil
    }

    private func field(_ node: Node) -> FieldPath? {
        guard let text = reader.string(node, "a field") else { return nil }
        return reader.checked(node, "bad field reference") { try FieldPath(text) }
    }

    /// `[field, …]` (each tag named as its field) or `{tag: "%{field}…", …}`.
    private func tags(_ node: Node) -> [(key: String, value: Template)]? {
        if case .mapping(let mapping) = node {
            let pairs = mapping.compactMap { k, v -> (key: String, value: Template)? in
                guard let key = reader.string(k, "a tag name"), let value = reader.template(v, "a tag value") else { return nil }
                return (key, value)
            }
            return pairs.count == mapping.count ? pairs : nil
        }
        guard let names = reader.strings(node, "tags (field names, or a mapping of tag names to values)") else { return nil }
        let pairs = names.compactMap { name -> (key: String, value: Template)? in
            reader.checked(node, "bad tag field") { (name, try Template("%{\(name)}")) }
        }
        return pairs.count == names.count ? pairs : nil
    }

    /// The destinations rollups go to: Kafka topics, and Elasticsearch
    /// indices whose document id is the rollup's stable id (the record key).
    private func rollupDestinations(_ node: Node) -> [Int]? {
        let items = reader.items(node)
        var out: [Int] = []
        for item in items {
            guard let name = reader.string(item, "a destination") else { return nil }
            guard let index = destinations.firstIndex(where: { $0.name == name }) else {
                let names = destinations.map(\.name)
                reader.report(item, "unknown destination '\(name)'\(didYouMean(name, among: names)) (declared: \(names.joined(separator: ", ")))")
                return nil
            }
            if case .elasticsearch(let es) = destinations[index].target, !es.documents.id.isKey {
                reader.report(item, "expected destination '\(name)' to have `id: key`: a rollup's key is its stable id (metric, tags, window start), so a replay overwrites its document instead of adding one")
                return nil
            }
            out.append(index)
        }
        return out
    }
}

extension DocumentID {
    /// Whether the id is the record's key.
    var isKey: Bool { if case .key = self { true } else { false } }
}
