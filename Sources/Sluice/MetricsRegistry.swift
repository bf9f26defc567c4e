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

/// The metrics components register beside the engine's own (a sink's
/// requests, retries and in-flight budget), served at `/metrics`.
/// Registering takes a lock and happens when a component starts or meets
/// a new label value; updating a ``Metric`` takes none.
public final class MetricsRegistry: Sendable {
    private struct Family {
        let type: String
        let help: String
        var series: [(labels: String, metric: Metric)] = []
        /// Series whose value is read when served, not stored.
        var computed: [(labels: String, read: @Sendable () -> Double)] = []
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

    /// A series `name` with `labels` whose value `read` gives each time the
    /// metrics are served (a process's memory, whether it is ready); `type`
    /// is `gauge` or `counter`. Registering the same name and labels again
    /// replaces the reader.
    public func computed(_ name: String, type: String = "gauge", help: String, labels: [(String, String)] = [],
                         read: @escaping @Sendable () -> Double) {
        let rendered = render(labels)
        families.withLock { families in
            let index = Self.family(name, type: type, help: help, in: &families)
            families[index].family.computed.removeAll { $0.labels == rendered }
            families[index].family.computed.append((rendered, read))
        }
    }

    private func metric(_ name: String, type: String, help: String, labels: [(String, String)]) -> Metric {
        let rendered = render(labels)
        return families.withLock { families in
            let index = Self.family(name, type: type, help: help, in: &families)
            if let existing = families[index].family.series.first(where: { $0.labels == rendered }) { return existing.metric }
            let metric = Metric()
            families[index].family.series.append((rendered, metric))
            return metric
        }
    }

    /// The index of family `name`, added if new.
    private static func family(_ name: String, type: String, help: String,
                               in families: inout [(name: String, family: Family)]) -> Int {
        if let index = families.firstIndex(where: { $0.name == name }) { return index }
        families.append((name, Family(type: type, help: help)))
        return families.count - 1
    }

    /// Every family in Prometheus' text exposition format.
    public func prometheusText() -> String {
        families.withLock { families in
            var text = ""
            for (name, family) in families {
                text += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.type)\n"
                for (labels, metric) in family.series { text += "\(name)\(labels) \(metric.current)\n" }
                for (labels, read) in family.computed { text += "\(name)\(labels) \(Self.format(read()))\n" }
            }
            return text
        }
    }

    /// A value as the exposition format writes it: whole numbers without a fraction.
    private static func format(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// `{name="value",…}`, or nothing without labels.
    private func render(_ labels: [(String, String)]) -> String {
        labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(escaped($0.1))\"" }.joined(separator: ",") + "}"
    }

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
