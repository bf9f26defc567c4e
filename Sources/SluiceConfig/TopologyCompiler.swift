import Sluice
import SluiceSinks
import SluiceKafka
import SluiceTransforms

/// An event on its way to one of the topology's destinations.
public struct Routed: Sendable {
    /// The index of the destination in ``TopologySpec/destinations``.
    public var destination: Int
    /// The event; `nil` for a tombstone, which only Elasticsearch destinations get.
    public var event: Event?
}

/// A value that is not what its source's format promises.
public struct DecodeError: Error, Sendable, CustomStringConvertible {
    /// Why.
    public var description: String
}

/// Runs a ``Pipeline`` in a task, with that task's own runner; a tombstone
/// skips the steps and goes to each of `tombstoneDestinations`.
final class PipelineProcessor: Processor {
    typealias Input = Event?
    typealias Output = Routed
    private let run: (Record<Event>, (Int, Record<Event>) throws -> Void) throws -> Void
    private let tombstoneDestinations: [Int]
    private var context: ProcessorContext<Routed>!

    init(_ pipeline: Pipeline, tombstoneDestinations: [Int]) {
        run = pipeline.makeRunner()
        self.tombstoneDestinations = tombstoneDestinations
    }

    func initialize(context: ProcessorContext<Routed>) throws { self.context = context }

    func process(_ record: Record<Event?>) throws {
        guard let event = record.value else {
            for destination in tombstoneDestinations {
                try context.forward(record.withValue(Routed(destination: destination, event: nil)))
            }
            return
        }
        try run(record.withValue(event)) { destination, out in
            try context.forward(out.withValue(Routed(destination: destination, event: out.value)))
        }
    }
}

extension SourceFormat {
    /// Reads a record value in this format.
    public func decode(_ value: [UInt8]?) throws -> Event {
        guard let value else { throw DecodeError(description: "tombstone: a null value has no fields") }
        switch self {
        case .json:
            return try Event(json: value)
        case .text:
            var line = value[...]
            while let last = line.last, last == 0x0A || last == 0x0D { line.removeLast() }
            var event = Event()
            event["message"] = .string(String(decoding: line, as: UTF8.self))
            return event
        }
    }
}

extension SourceSpec {
    /// A record as the steps see it: the value decoded and, when the source
    /// names a timestamp field, the record time read from it. A time that
    /// does not read keeps the Kafka record's and tags `_dateparsefailure`.
    public func read(_ record: Record<[UInt8]?>) throws -> Record<Event> {
        var out = record.withValue(try format.decode(record.value))
        guard let timestamp, let value = out.value[timestamp.field] else { return out }
        if let ms = timestamp.formats.parse(value.text, defaultOffsetSeconds: timestamp.defaultOffsetSeconds) {
            out.timestamp = ms
        } else {
            out.value.addTags(["_dateparsefailure"])
        }
        return out
    }
}

extension TopologySpec {
    /// The engine topology: sources → decode → steps → destinations. A
    /// tombstone (a record without a value) has no fields for the steps:
    /// when the file has Elasticsearch destinations it goes straight to
    /// each of them, whose `on_tombstone` says what it does; otherwise it
    /// fails to decode and goes to the dead-letter topic.
    public func topology() throws -> Topology {
        let builder = TopologyBuilder()
        let search = destinations.indices.filter { destinations[$0].topic == nil }
        let decoded = sources.enumerated().map { i, source in
            builder.stream(source.topics, named: "source-\(i)").map(named: decodeStepName(source: i)) { record -> Record<Event?> in
                if record.value == nil, !search.isEmpty { return record.withValue(nil) }
                let read = try source.read(record)
                return read.withValue(read.value)
            }
        }
        let merged = decoded.count == 1 ? decoded[0] : decoded[0].merge(named: "sources", Array(decoded[1...]))
        let pipeline = pipeline
        let routed = merged.process(named: "steps") { PipelineProcessor(pipeline, tombstoneDestinations: search) }
        guard !search.isEmpty else {
            toTopics(routed)
            return try builder.build()
        }
        // Each Elasticsearch destination is a branch of its own; the topics share the rest.
        var split = routed.split(named: "destinations")
        for i in search { split = split.branch(destinations[i].name) { $0.value.destination == i } }
        // Parentheses keep the default branch's name apart from any destination's.
        let branches = search.count == destinations.count ? split.noDefaultBranch() : split.defaultBranch("(topics)")
        if let topics = branches["(topics)"] { toTopics(topics) }
        for i in search {
            guard case .elasticsearch(let es) = destinations[i].target else { continue }
            let name = destinations[i].name
            branches[name]!.to(.elasticsearch(name, es.config), named: "to-\(name)", documents: es.documents) { $0.value.event }
        }
        return try builder.build()
    }

    private func toTopics(_ routed: Stream<Routed>) {
        let topics = destinations.map { $0.topic ?? "" }
        routed.to(named: "to-topics", topic: { topics[$0.value.destination] }) { $0.event?.json() }
    }

    /// The name of the node that decodes source `source`'s values; the
    /// dead-letter header names it for a record that does not decode.
    func decodeStepName(source: Int) -> String { "decode-\(sources[source].format.rawValue)-\(source)" }

    /// The engine configuration: application id, Kafka properties, guarantee,
    /// threads, commit interval and dead-letter topic from the file, with
    /// `overrides` (from the command line) taking precedence.
    public func streamsConfig(overrides: KafkaConfig = KafkaConfig(), stateDirectory: String? = nil) -> StreamsConfig {
        let kafkaConfig = KafkaConfig(kafka).merging(overrides)
        var config = StreamsConfig(applicationID: application, kafka: kafkaConfig)
        config.threads = threads
        config.guarantee = guarantee
        config.commitInterval = commitIntervalMilliseconds.map { .milliseconds($0) }
        config.deadLetterTopic = deadLetterTopic
        if let stateDirectory { config.stateDirectory = stateDirectory }
        return config
    }
}
