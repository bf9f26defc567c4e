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

    private func metric(_ name: String, type: String, help: String, labels: [(String, String)]) -> Metric {
        let rendered = labels.map { "\($0.0)=\"\(escaped($0.1))\"" }.joined(separator: ",")
        return families.withLock { families in
            let index = families.firstIndex { $0.name == name } ?? {
                families.append((name, Family(type: type, help: help)))
                return families.count - 1
            }()
            if let existing = families[index].family.series.first(where: { $0.labels == rendered }) { return existing.metric }
            let metric = Metric()
            families[index].family.series.append((rendered, metric))
            return metric
        }
    }

    /// Every family in Prometheus' text exposition format.
    public func prometheusText() -> String {
        families.withLock { families in
            var text = ""
            for (name, family) in families {
                text += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.type)\n"
                for (labels, metric) in family.series { text += "\(name){\(labels)} \(metric.current)\n" }
            }
            return text
        }
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
