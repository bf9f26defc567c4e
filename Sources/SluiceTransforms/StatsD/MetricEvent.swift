/// StatsD samples as events, so that the steps of a topology can filter,
/// route and rename them like any other record, and events back as samples
/// for an aggregate.
///
/// A sample reads as `{"metric": name, "type": kind, "value": v}` plus
/// `"sample_rate"` when it is not 1, `"delta": true` for a gauge written
/// `+N`/`-N`, and `"tags"` (an object; a flag tag is `true`) when the key
/// has any. A set's `value` is its member, as text.
extension StatsDSample {
    /// The sample as an event.
    public var event: Event {
        let (name, tags) = MetricKey.parse(key)
        var fields: [(String, FieldValue)] = [("metric", .string(name)), ("type", .string(kind.rawValue))]
        fields.append(("value", kind == .set ? .string(member ?? "0") : Rollup.number(value)))
        if sampleRate != 1 { fields.append(("sample_rate", .double(sampleRate))) }
        if isDelta { fields.append(("delta", .bool(true))) }
        if !tags.isEmpty {
            fields.append(("tags", .object(FieldMap(tags.map { ($0.key, $0.value.map(FieldValue.string) ?? .bool(true)) }))))
        }
        return Event(FieldMap(fields))
    }

    /// The sample an event written as ``event`` describes (its fields may
    /// have been changed by steps since).
    public init(event: Event) throws(MetricEventError) {
        guard let name = event["metric"]?.string, !name.isEmpty else { throw MetricEventError("no string field metric") }
        guard let typeName = event["type"]?.string, let kind = MetricKind(rawValue: typeName) else {
            throw MetricEventError("field type is not counter, gauge, timer or set")
        }
        var tags: [Rollup.Tag] = []
        if case .object(let map)? = event["tags"] {
            for field in map.entries {
                tags.append(Rollup.Tag(field.key, field.value == .bool(true) ? nil : field.value.text))
            }
        }
        let key = MetricKey.make(name: name, tags: tags)
        let rate = event["sample_rate"]?.number ?? 1
        guard rate > 0 else { throw MetricEventError("sample_rate \(rate) is not above 0") }
        if kind == .set {
            guard let member = event["value"], member != .null else { throw MetricEventError("a set sample without a value") }
            self.init(key: key, kind: .set, value: 0, member: member.text, sampleRate: rate)
            return
        }
        guard let value = event["value"]?.metricNumber else { throw MetricEventError("field value is not a number") }
        self.init(key: key, kind: kind, value: value, sampleRate: rate, isDelta: event["delta"] == .bool(true))
    }
}

/// An event that does not describe a StatsD sample, or lacks a field a
/// metric is derived from.
public struct MetricEventError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var description: String

    init(_ description: String) { self.description = description }
}

/// Metric keys as statsd keys them: `name;k=v;flag`.
enum MetricKey {
    /// The name and tags of `key`.
    static func parse(_ key: String) -> (name: String, tags: [Rollup.Tag]) {
        let parts = key.split(separator: ";", omittingEmptySubsequences: false)
        let tags = parts.dropFirst().map { part in
            guard let eq = part.firstIndex(of: "=") else { return Rollup.Tag(String(part), nil) }
            return Rollup.Tag(String(part[..<eq]), String(part[part.index(after: eq)...]))
        }
        return (String(parts[0]), tags)
    }

    /// `name` followed by `;k=v` or `;flag` per tag, as they are.
    static func join(_ name: String, _ tags: [Rollup.Tag]) -> String {
        tags.reduce(name) { $0 + ";" + $1.key + ($1.value.map { "=" + $0 } ?? "") }
    }

    /// A key from a name and tags that may hold anything: each part is
    /// sanitized as statsd sanitizes a key, and a tag's `;` and `=` (which
    /// would change the key's shape) become `_`.
    static func make(name: String, tags: [Rollup.Tag]) -> String {
        join(StatsDLine.sanitize(name), tags.map { Rollup.Tag(part($0.key), $0.value.map(part)) })
    }

    private static func part(_ text: String) -> String {
        String(StatsDLine.sanitize(text).map { $0 == ";" || $0 == "=" ? "_" : $0 })
    }
}

extension FieldValue {
    /// The finite number a metric takes from this value, converted as
    /// `convert: float` converts (a field grok left as text counts).
    var metricNumber: Double? {
        converted(to: .float)?.number.flatMap { $0.isFinite ? $0 : nil }
    }
}

/// A metric derived from log events (Logstash's `metrics` filter and
/// statsd output in one): a counter, gauge, timer or set whose name and
/// tags come from the event's fields.
///
/// ```swift
/// let requests = try MetricDerivation(kind: .counter, name: Template("nginx.requests"),
///                                     tags: [("service", Template("%{service}"))])
/// ```
public struct MetricDerivation: Sendable {
    /// The kind of metric.
    public var kind: MetricKind
    /// Its name; field references are filled from the event.
    public var name: Template
    /// The field holding the value (a set's member); `nil` for a counter of 1 per event.
    public var value: FieldPath?
    /// Tags in order: name and template of the value. A tag whose fields
    /// the event lacks is left out.
    public var tags: [(key: String, value: Template)]
    /// The sample rate the metric reports (statsd scales counters by its inverse).
    public var sampleRate: Double
    /// An event without the value field gives no sample instead of failing.
    public var optional: Bool

    /// A derivation; `value` is required for gauges, timers and sets.
    public init(kind: MetricKind, name: Template, value: FieldPath? = nil, tags: [(key: String, value: Template)] = [],
                sampleRate: Double = 1, optional: Bool = false) {
        self.kind = kind
        self.name = name
        self.value = value
        self.tags = tags
        self.sampleRate = sampleRate
        self.optional = optional
    }

    /// Adds the sample `event` gives to `samples`; throws when the value
    /// field is missing (unless ``optional``) or not a number.
    public func sample(of event: Event, into samples: inout [StatsDSample]) throws(MetricEventError) {
        var number = 1.0, member: String?
        if !name.fieldsPresent(in: event) {
            if optional { return }
            throw MetricEventError("the event lacks a field of metric name \(name)")
        }
        if let path = value {
            guard let found = event[path], found != .null else {
                if optional { return }
                throw MetricEventError("no field \(path) for metric \(name)")
            }
            if kind == .set {
                member = found.text
            } else if let n = found.metricNumber {
                number = n
            } else {
                throw MetricEventError("field \(path) for metric \(name) is \(found.kindName) \(found.text), not a number")
            }
        }
        let tags = self.tags.compactMap { tag -> Rollup.Tag? in
            tag.value.fieldsPresent(in: event) ? Rollup.Tag(tag.key, tag.value.render(event)) : nil
        }
        let key = MetricKey.make(name: name.render(event), tags: tags)
        samples.append(StatsDSample(key: key, kind: kind, value: kind == .set ? 0 : number, member: member, sampleRate: sampleRate))
    }
}
