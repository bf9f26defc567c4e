import Sluice
import SluiceTransforms

/// The rollup example: StatsD-style metrics from nginx-like JSON access
/// records, in windows of event time per service, as a StatsD daemon fed
/// by a log shipper would compute them, with state in RocksDB and its
/// changelog. Per service and window:
///
/// | metric | kind | from |
/// |---|---|---|
/// | `nginx.requests;service=S` | counter | each record |
/// | `nginx.bytes;service=S` | counter | `bytes` |
/// | `nginx.duration_ms;service=S` | timer (p90, p99) | `duration_ms` |
///
/// Each window's results go to the output topic as JSON documents (see
/// ``Rollup``), once the window closes. A record that is not a JSON object
/// with a string `service` and numeric `bytes` and `duration_ms` goes to
/// the dead-letter topic.
public enum NginxRollup {
    /// The timer percentiles reported.
    public static let timerOptions = TimerOptions(percentiles: [90, 99])

    /// The topology: `input` → 10 s windows (or `window`) → `output`.
    public static func topology(input: String, output: String, window: Duration = .seconds(10)) throws -> Topology {
        let builder = TopologyBuilder()
        builder.stream([input], named: "access")
            .windowedAggregate(named: "rollup", store: "rollups",
                               options: WindowedAggregateOptions(windows: try .tumbling(window)),
                               StatsDAggregator { try samples($0.value) })
            .to(output, named: "rollups-out") { Rollup($0, options: timerOptions).event.json() }
        return try builder.build()
    }

    /// A record that lacks what the metrics are made of.
    public struct NotAnAccessRecord: Error, CustomStringConvertible {
        /// What is missing.
        public var description: String
    }

    /// The samples of one access record.
    public static func samples(_ value: [UInt8]?) throws -> [StatsDSample] {
        let event = try Event(json: value ?? [])
        guard case .string(let service)? = event["service"] else { throw NotAnAccessRecord(description: "no string service") }
        guard let bytes = event["bytes"]?.number, let duration = event["duration_ms"]?.number else {
            throw NotAnAccessRecord(description: "no numeric bytes and duration_ms")
        }
        let tag = ";service=" + service
        return [StatsDSample(key: "nginx.requests" + tag, kind: .counter, value: 1),
                StatsDSample(key: "nginx.bytes" + tag, kind: .counter, value: bytes),
                StatsDSample(key: "nginx.duration_ms" + tag, kind: .timer, value: duration)]
    }
}
