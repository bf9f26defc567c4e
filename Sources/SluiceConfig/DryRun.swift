import Sluice
import SluiceTransforms

/// Runs a topology's steps on records without Kafka, in order, one record
/// at a time: what `sluice run --dry-run` and `sluice test` use.
public final class DryRun {
    /// What became of one input record.
    public enum Output: Sendable, Equatable {
        /// Sent to a destination.
        case destination(name: String, target: String, key: [UInt8]?, event: Event)
        /// Sent to the dead-letter topic: the step that failed and why.
        case deadLetter(topic: String, key: [UInt8]?, value: [UInt8]?, step: String, reason: String)
    }

    private let spec: TopologySpec
    private let run: (Record<Event>, (Int, Record<Event>) throws -> Void) throws -> Void
    private var offset: Int64 = 0

    /// A dry run of `spec`.
    public init(_ spec: TopologySpec) {
        self.spec = spec
        run = spec.pipeline.makeRunner()
    }

    /// Runs one record read from source `source` (its format decides how the value reads).
    public func process(value: [UInt8]?, key: [UInt8]? = nil, timestamp: Int64 = 0, source: Int = 0) -> [Output] {
        let topic = spec.sources[source].topics.first ?? ""
        defer { offset += 1 }
        var outputs: [Output] = []
        do {
            let input = Record(key: key, value: value, timestamp: timestamp,
                               provenance: Provenance(topic: topic, partition: 0, offset: offset))
            let record = try attributed(to: spec.decodeStepName(source: source)) { try spec.sources[source].read(input) }
            try run(record) { index, out in
                let d = spec.destinations[index]
                outputs.append(.destination(name: d.name, target: d.label, key: out.key, event: out.value))
            }
        } catch {
            let failure = error as? ProcessingError
            // Outputs already made for this record stay: the engine would have sent them too.
            outputs.append(.deadLetter(topic: spec.effectiveDeadLetterTopic, key: key, value: value,
                                       step: failure?.processor ?? "steps", reason: "\(failure?.underlying ?? error)"))
        }
        return outputs
    }
}

extension DryRun.Output {
    /// The output as one JSON line: `{"destination": …, "key": …, "value": …}`,
    /// plus `"error": {"step": …, "reason": …}` for a dead letter. An event is
    /// written with its own encoding, so untouched fields keep their bytes.
    public func jsonLine() -> [UInt8] {
        func text(_ bytes: [UInt8]?) -> FieldValue { bytes.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null }
        let (destination, key): (String, [UInt8]?)
        switch self {
        case .destination(let name, _, let k, _): (destination, key) = (name, k)
        case .deadLetter(let topic, let k, _, _, _): (destination, key) = (topic, k)
        }
        var writer = JSONWriter()
        writer.out += Array(#"{"destination":"#.utf8)
        writer.write(string: destination)
        writer.out += Array(#","key":"#.utf8)
        writer.write(text(key))
        writer.out += Array(#","value":"#.utf8)
        switch self {
        case .destination(_, _, _, let event):
            writer.out += event.json()
        case .deadLetter(_, _, let value, let step, let reason):
            writer.write(text(value))
            writer.out += Array(#","error":"#.utf8)
            writer.write(.object(FieldMap([("step", .string(step)), ("reason", .string(reason))])))
        }
        writer.out.append(UInt8(ascii: "}"))
        return writer.out
    }
}
