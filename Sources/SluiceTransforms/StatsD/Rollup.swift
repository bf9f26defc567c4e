import Sluice

/// One metric's result for one window, as the rollup outputs write it: a
/// JSON document (Kafka topics, Elasticsearch), Graphite plaintext lines or
/// StatsD lines, named as statsd names them.
public struct Rollup: Sendable, Equatable {
    /// The metric's name, without its tags.
    public var name: String
    /// The tags in the order the key has them; a tag without `=` has no value.
    public var tags: [Tag]
    /// The kind of metric.
    public var kind: MetricKind
    /// The window's start, in milliseconds since the epoch (inclusive).
    public var start: Int64
    /// The window's end (exclusive).
    public var end: Int64
    /// The statistics, named as statsd names them (``MetricAggregate/fields(key:windowSeconds:options:)``).
    public var fields: [MetricField]

    /// A tag of a metric: `key=value`, or a bare flag.
    public struct Tag: Sendable, Hashable {
        /// The tag's name.
        public var key: String
        /// Its value; `nil` for a flag.
        public var value: String?

        /// Creates a tag.
        public init(_ key: String, _ value: String?) {
            self.key = key
            self.value = value
        }
    }

    /// A rollup of the metric keyed `key` as statsd keys it (`name;k=v;flag`).
    public init(key: String, kind: MetricKind, start: Int64, end: Int64, fields: [MetricField]) {
        (name, tags) = MetricKey.parse(key)
        self.kind = kind
        self.start = start
        self.end = end
        self.fields = fields
    }

    /// The rollup of a windowed StatsD aggregate's result.
    public init(_ result: WindowedResult<MetricAggregate>, options: TimerOptions = TimerOptions()) {
        let metric = StatsDAggregator<Never>.metric(of: result.key)
        self.init(key: metric.key, kind: metric.kind, start: result.start, end: result.end,
                  fields: result.aggregate.fields(key: metric.key, windowSeconds: Double(result.end - result.start) / 1000,
                                                  options: options))
    }

    /// The key as statsd writes it: the name, then `;k=v` or `;flag` per tag.
    public var key: String { MetricKey.join(name, tags) }

    /// The rollup as an event: `@timestamp` (the window's start), `metric`,
    /// `type`, `tags` (a flag is `true`), `window` (`start`, `end`,
    /// `seconds`), then each statistic, a histogram's bins under `histogram`.
    public var event: Event {
        var event = Event()
        event["@timestamp"] = .string(iso8601(milliseconds: start))
        event["metric"] = .string(name)
        event["type"] = .string(kind.rawValue)
        if !tags.isEmpty {
            event["tags"] = .object(FieldMap(tags.map { ($0.key, $0.value.map(FieldValue.string) ?? .bool(true)) }))
        }
        event["window"] = .object(FieldMap([("start", .string(iso8601(milliseconds: start))),
                                            ("end", .string(iso8601(milliseconds: end))),
                                            ("seconds", Self.number(Double(end - start) / 1000))]))
        var bins: [(String, FieldValue)] = []
        for field in fields {
            if field.name.hasPrefix("histogram.") {
                bins.append((String(field.name.dropFirst("histogram.".count)), Self.number(field.value)))
            } else {
                event[field.name] = Self.number(field.value)
            }
        }
        if !bins.isEmpty { event["histogram"] = .object(FieldMap(bins)) }
        return event
    }

    /// A document id that depends only on the metric's key, kind and window
    /// start: a replay overwrites the document instead of adding one.
    public var documentID: String {
        FingerprintEncoding.hex.encode(Array(SHA256.hash(Array("\(kind.rawValue)\u{0}\(key)\u{0}\(start)".utf8)).prefix(16)))
    }

    /// Graphite plaintext lines (`name value seconds`) in statsd's namespace
    /// (`legacyNamespace: false`): `<prefix>.counters.<name>.count` and
    /// `.rate`, `<prefix>.timers.<name>.<statistic>`, `<prefix>.gauges.<name>`,
    /// `<prefix>.sets.<name>.count`, tags after the name as `;k=v`; the time
    /// is the window's end, when statsd would have flushed.
    public func graphiteLines(prefix: String = "stats") -> [String] {
        let seconds = end / 1000
        return graphiteNames(prefix: prefix).map { "\($0.name) \(javaScriptText($0.value)) \(seconds)" }
    }

    /// StatsD lines that carry the window's statistics on to another StatsD
    /// or DogStatsD server: each statistic as a gauge named as in Graphite,
    /// the tags as DogStatsD tags.
    public func statsdLines(prefix: String = "stats") -> [String] {
        let dogTags = tags.isEmpty ? "" : "|#" + tags.map { $0.key + ($0.value.map { ":" + $0 } ?? "") }.joined(separator: ",")
        return graphiteNames(prefix: prefix, tagged: false).map { "\($0.name):\(javaScriptText($0.value))|g\(dogTags)" }
    }

    private func graphiteNames(prefix: String, tagged: Bool = true) -> [(name: String, value: Double)] {
        let suffix = tagged ? MetricKey.join("", tags) : ""
        let base = (prefix.isEmpty ? [] : [prefix])
        func named(_ parts: [String]) -> String { (base + parts).joined(separator: ".") + suffix }
        switch kind {
        case .counter: return fields.map { (named(["counters", name, $0.name]), $0.value) }
        case .timer: return fields.map { (named(["timers", name, $0.name]), $0.value) }
        case .gauge: return fields.map { (named(["gauges", name]), $0.value) }
        case .set: return fields.map { (named(["sets", name, $0.name]), $0.value) }
        }
    }

    /// A statistic as JSON: integral values as integers.
    static func number(_ value: Double) -> FieldValue {
        value == value.rounded() && abs(value) < 1e15 ? .int(Int(value)) : .double(value)
    }

}
