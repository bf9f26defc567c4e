import Sluice
import SluiceTransforms

/// Runs a topology's steps on records without Kafka, in order, one record
/// at a time: what `sluice run --dry-run` and `sluice test` use.
public final class DryRun {
    /// What became of one input record.
    public enum Output: Sendable, Equatable {
        /// Sent to a destination.
        case destination(name: String, topic: String, key: [UInt8]?, event: Event)
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
            let event = try attributedTo("decode-\(spec.sources[source].format.rawValue)-\(source)") {
                try spec.sources[source].format.decode(value)
            }
            let record = Record(key: key, value: event, timestamp: timestamp,
                                provenance: Provenance(topic: topic, partition: 0, offset: offset))
            try run(record) { index, out in
                let d = spec.destinations[index]
                outputs.append(.destination(name: d.name, topic: d.topic, key: out.key, event: out.value))
            }
        } catch {
            let failure = error as? ProcessingError
            // Outputs already made for this record stay: the engine would have sent them too.
            outputs.append(.deadLetter(topic: spec.effectiveDeadLetterTopic, key: key, value: value,
                                       step: failure?.processor ?? "steps", reason: "\(failure?.underlying ?? error)"))
        }
        return outputs
    }

    private func attributedTo<T>(_ step: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw ProcessingError(processor: step, underlying: error) }
    }
}

extension DryRun.Output {
    /// The output as one JSON line: `{"destination": …, "key": …, "value": …}`,
    /// plus `"error": {"step": …, "reason": …}` for a dead letter.
    public func jsonLine() -> [UInt8] {
        var map = FieldMap()
        switch self {
        case .destination(let name, _, let key, let event):
            map["destination"] = .string(name)
            map["key"] = key.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null
            map["value"] = .object(event.fields)
        case .deadLetter(let topic, let key, let value, let step, let reason):
            map["destination"] = .string(topic)
            map["key"] = key.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null
            map["value"] = value.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null
            map["error"] = .object(FieldMap([("step", .string(step)), ("reason", .string(reason))]))
        }
        return JSONWriter.encode(.object(map))
    }
}
