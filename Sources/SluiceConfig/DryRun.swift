import Logging
import Sluice
import SluiceTransforms

/// Runs a topology's decoding, steps and aggregates on records without
/// Kafka, in order, one record at a time, in the engine's own tasks (a
/// ``TopologyTestDriver`` with stores in memory): what `sluice run
/// --dry-run` and `sluice test` use. Each source's records go to one task;
/// their timestamps (or the time read from their timestamp field) drive
/// the windows, and ``finish()`` closes the windows still open.
public final class DryRun {
    /// What became of one input record.
    public enum Output: Sendable, Equatable {
        /// Sent to a destination.
        case destination(name: String, target: String, key: [UInt8]?, event: Event)
        /// A rollup sent to a StatsD or Graphite destination: the rollup as
        /// an event (what test cases check) and the lines the server gets.
        case metricLines(name: String, target: String, rollup: Event, lines: [String])
        /// Sent to the dead-letter topic: the step that failed and why.
        case deadLetter(topic: String, key: [UInt8]?, value: [UInt8]?, step: String, reason: String)
    }

    private let spec: TopologySpec
    private let driver: TopologyTestDriver
    private let captured = Captured()
    /// Per source, the topic its records are piped into; per destination,
    /// its name and label (worked out once, not per record).
    private let sourceTopics: [String]
    private let destinations: [(name: String, label: String)]

    /// A dry run of `spec`.
    public init(_ spec: TopologySpec) throws {
        self.spec = spec
        sourceTopics = spec.sources.indices.map(TopologySpec.dryRunTopic(source:))
        destinations = spec.destinations.map { ($0.name, $0.label) }
        let captured = captured
        driver = TopologyTestDriver(topology: try spec.dryRunTopology { captured.records.append($0) },
                                    applicationID: spec.application, deadLetterTopic: spec.effectiveDeadLetterTopic,
                                    // Dead letters are outputs of a dry run, not news.
                                    logger: Logger(label: spec.application) { _ in SwiftLogNoOpLogHandler() })
    }

    /// Runs one record read from source `source` (its format decides how
    /// the value reads) and returns what it produced, dead letters last.
    /// Throws only what would stop the engine's thread.
    public func process(value: [UInt8]?, key: [UInt8]? = nil, timestamp: Int64 = 0, source: Int = 0) throws -> [Output] {
        try driver.pipe(sourceTopics[source], key: key, value: value, timestamp: timestamp)
        return drain()
    }

    /// Ends the input: the windows still open close, and their results come back.
    public func finish() throws -> [Output] {
        try driver.endInput()
        return drain()
    }

    private func drain() -> [Output] {
        var outputs = captured.records.map { record -> Output in
            let d = destinations[record.value.destination]
            let event = record.value.event ?? Event()
            if let rollup = record.value.rollup, case .metricLines(let server) = spec.destinations[record.value.destination].target {
                return .metricLines(name: d.name, target: d.label, rollup: event, lines: server.textLines(of: rollup))
            }
            return .destination(name: d.name, target: d.label, key: record.key, event: event)
        }
        captured.records.removeAll(keepingCapacity: true)
        for letter in driver.takeOutputs()[spec.effectiveDeadLetterTopic] ?? [] {
            func header(_ name: String) -> String {
                letter.headers.last { $0.key == name }?.value.map { String(decoding: $0, as: UTF8.self) } ?? ""
            }
            outputs.append(.deadLetter(topic: spec.effectiveDeadLetterTopic, key: letter.key, value: letter.value,
                                       step: header(DeadLetterHeader.processor), reason: header(DeadLetterHeader.reason)))
        }
        return outputs
    }
}

/// What a dry run's topology hands over, read on the same thread.
private final class Captured: @unchecked Sendable {
    var records: [Record<Routed>] = []
}

extension DryRun.Output {
    /// The output as one JSON line: `{"destination": …, "key": …, "value": …}`,
    /// plus `"error": {"step": …, "reason": …}` for a dead letter. An event is
    /// written with its own encoding, so untouched fields keep their bytes;
    /// a StatsD or Graphite destination's value is its lines, as an array.
    public func jsonLine() -> [UInt8] {
        var writer = JSONWriter(capacity: 2048)
        write(to: &writer)
        return writer.bytes
    }

    /// Appends each output's ``jsonLine()`` and a newline to `writer`, as
    /// `sluice run --dry-run` prints them: one buffer for many outputs.
    public static func writeLines(_ outputs: [DryRun.Output], to writer: inout JSONWriter) {
        for output in outputs {
            output.write(to: &writer)
            writer.append(0x0A)
        }
    }

    /// Appends ``jsonLine()`` to `writer` (without a newline).
    public func write(to writer: inout JSONWriter) {
        func text(_ bytes: [UInt8]?) -> FieldValue { bytes.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null }
        let (destination, key): (String, [UInt8]?)
        switch self {
        case .destination(let name, _, let k, _): (destination, key) = (name, k)
        case .metricLines(let name, _, _, _): (destination, key) = (name, nil)
        case .deadLetter(let topic, let k, _, _, _): (destination, key) = (topic, k)
        }
        writer.append(#"{"destination":"#)
        writer.write(string: destination)
        writer.append(#","key":"#)
        writer.write(text(key))
        writer.append(#","value":"#)
        switch self {
        case .destination(_, _, _, let event):
            event.write(to: &writer)
        case .metricLines(_, _, _, let lines):
            writer.write(.array(lines.map { .string($0) }))
        case .deadLetter(_, _, let value, let step, let reason):
            writer.write(text(value))
            writer.append(#","error":"#)
            writer.write(.object(FieldMap([("step", .string(step)), ("reason", .string(reason))])))
        }
        writer.append(UInt8(ascii: "}"))
    }
}
