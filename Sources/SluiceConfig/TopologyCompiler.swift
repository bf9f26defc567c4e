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
    /// The rollup the event shows, for a rollup (StatsD and Graphite
    /// destinations write its lines).
    public var rollup: Rollup? = nil
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
    private let run: (consuming Record<Event>, (Int, Record<Event>) throws -> Void) throws -> Void
    private let tombstoneDestinations: [Int]
    private var context: ProcessorContext<Routed>!

    init(_ pipeline: Pipeline, tombstoneDestinations: [Int]) {
        run = pipeline.makeRunner()
        self.tombstoneDestinations = tombstoneDestinations
    }

    func initialize(context: ProcessorContext<Routed>) throws { self.context = context }

    func process(_ record: consuming Record<Event?>) throws {
        // Taken out of the record, the event is this call's alone: the steps
        // change it in place rather than copying its fields first.
        var record = record
        guard let event = record.value.take() else {
            for destination in tombstoneDestinations {
                try context.forward(record.withValue(Routed(destination: destination, event: nil)))
            }
            return
        }
        try run(record.replacingValue(with: event)) { destination, out in
            try context.forward(out.withValue(Routed(destination: destination, event: out.value)))
        }
    }
}

extension SourceSpec {
    /// A `json` or `text` record as the steps see it: the value decoded
    /// and, when the source names a timestamp field, the record time read
    /// from it. A time that does not read keeps the Kafka record's and tags
    /// `_dateparsefailure`. (A `statsd` record gives one event per sample:
    /// ``StatsDDecoder`` reads it.)
    func read(_ record: Record<[UInt8]?>) throws -> Record<Event> {
        guard let value = record.value else { throw DecodeError(description: "tombstone: a null value has no fields") }
        var event: Event
        switch format {
        case .json:
            event = try Event(json: value)
        case .text:
            var line = value[...]
            while let last = line.last, last == 0x0A || last == 0x0D { line.removeLast() }
            event = Event(capacity: 48)  // the fields the steps will add, at every depth
            event["message"] = .string(String(decoding: line, as: UTF8.self))
        case .statsd:
            preconditionFailure("a statsd source is read by StatsDDecoder")
        }
        var out = record.withValue(event)
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
    /// The engine topology: sources → decode → steps → aggregates →
    /// destinations. A tombstone (a record without a value) has no fields
    /// for the steps: when the file has Elasticsearch destinations it goes
    /// straight to each of them, whose `on_tombstone` says what it does;
    /// otherwise it fails to decode and goes to the dead-letter topic.
    public func topology() throws -> Topology {
        let builder = TopologyBuilder()
        let sinks = destinations.indices.filter { destinations[$0].topic == nil }
        let search = sinks.filter { if case .elasticsearch = destinations[$0].target { true } else { false } }
        let outputs = steps(builder, sources: sources.map(\.topics), tombstoneDestinations: search, repartition: true)
        guard !sinks.isEmpty else {
            toTopics(outputs)
            return try builder.build()
        }
        // Each destination outside Kafka is a branch of its own; the topics share the rest.
        var split = outputs.split(named: "destinations")
        for i in sinks { split = split.branch(destinations[i].name) { $0.value.destination == i } }
        // Parentheses keep the default branch's name apart from any destination's.
        let branches = sinks.count == destinations.count ? split.noDefaultBranch() : split.defaultBranch("(topics)")
        if let topics = branches["(topics)"] { toTopics(topics) }
        for i in sinks {
            let name = destinations[i].name
            switch destinations[i].target {
            case .elasticsearch(let es):
                branches[name]!.to(.elasticsearch(name, es.config), named: "to-\(name)", documents: es.documents) { $0.value.event }
            case .metricLines(let m):
                branches[name]!.to(.metricLines(name, m.config), named: "to-\(name)") { $0.value.rollup.map(m.lines) }
            case .topic:
                continue
            }
        }
        return try builder.build()
    }

    /// The topology a dry run drives: the same decoding, steps and
    /// aggregates, reading source `i` from topic `dryRunTopic(source: i)`,
    /// with every output handed to `capture` instead of a destination.
    func dryRunTopology(capture: @escaping @Sendable (Record<Routed>) -> Void) throws -> Topology {
        let builder = TopologyBuilder()
        // One task reads all of a dry run's records: nothing to repartition.
        _ = steps(builder, sources: sources.indices.map { [Self.dryRunTopic(source: $0)] }, tombstoneDestinations: [],
                  repartition: false)
            .peek(named: "capture") { capture($0) }
        return try builder.build()
    }

    /// The topic a dry run feeds source `source`'s records to.
    static func dryRunTopic(source: Int) -> String { "dry-run-source-\(source)" }

    /// Everything before the destinations: each source decoded, the steps,
    /// and the aggregates' rollups merged with the events the steps sent on.
    private func steps(_ builder: TopologyBuilder, sources topics: [[String]], tombstoneDestinations: [Int],
                       repartition: Bool) -> Stream<Routed> {
        let passTombstones = !tombstoneDestinations.isEmpty
        let decoded = sources.enumerated().map { i, source in
            let stream = builder.stream(topics[i], named: "source-\(i)")
            let name = decodeStepName(source: i)
            if source.format == .statsd { return stream.process(named: name) { StatsDDecoder(passTombstones: passTombstones) } }
            return stream.map(named: name) { record -> Record<Event?> in
                if record.value == nil, passTombstones { return record.withValue(nil) }
                let read = try source.read(record)
                return read.replacingValue(with: read.value)
            }
        }
        let merged = decoded.count == 1 ? decoded[0] : decoded[0].merge(named: "sources", Array(decoded[1...]))
        let pipeline = pipeline
        let routed = merged.process(named: "steps") { PipelineProcessor(pipeline, tombstoneDestinations: tombstoneDestinations) }
        return aggregates.isEmpty ? routed : rollups(of: routed, repartition: repartition)
    }

    /// Sends what the steps sent to each aggregate through its windowed
    /// aggregate (through its repartition topic first, where it has one and
    /// `repartition` allows), whose results go on as rollup events keyed by
    /// their stable id, merged with the events the steps sent to destinations.
    private func rollups(of routed: Stream<Routed>, repartition: Bool) -> Stream<Routed> {
        let first = destinations.count
        var split = routed.split(named: "aggregates")
        for (k, aggregate) in aggregates.enumerated() {
            split = split.branch(aggregate.name) { $0.value.destination == first + k }
        }
        let branches = split.defaultBranch("(events)")
        let results = aggregates.map { aggregate in
            windowed(branches[aggregate.name]!, aggregate, repartition: repartition && aggregate.repartition)
                .flatMap(named: "\(aggregate.name)-rollups") { result -> [Record<Routed>] in
                    let rollup = Rollup(result.value, options: aggregate.timers)
                    let key = Array(rollup.documentID.utf8), event = rollup.event
                    return aggregate.destinations.map {
                        Record(key: key, value: Routed(destination: $0, event: event, rollup: rollup), timestamp: result.timestamp,
                               provenance: result.provenance)
                    }
                }
        }
        return branches["(events)"]!.merge(named: "outputs", results)
    }

    /// `aggregate`'s windows over the samples of `events`, rolled up in the
    /// events' own tasks or, with `repartition`, in those of its repartition topic.
    private func windowed(_ events: Stream<Routed>, _ aggregate: AggregateSpec,
                          repartition: Bool) -> Stream<WindowedResult<MetricAggregate>> {
        let limit = aggregate.timers.exactLimit
        let samples: @Sendable (Record<Routed>) throws -> [StatsDSample] = { record in
            guard let event = record.value.event else { return [] }
            return try aggregate.samples(of: event)
        }
        guard repartition else {
            return events.windowedAggregate(named: aggregate.name, store: aggregate.name, options: aggregate.options,
                                            StatsDAggregator<Routed>(exactLimit: limit, samples: samples))
        }
        return events
            .flatMap(named: aggregate.name) { record in try samples(record).map { record.withValue($0) } }
            .repartition(through: repartitionTopic(of: aggregate), named: "\(aggregate.name)-by-metric",
                         key: { StatsDAggregator<StatsDSample>.key(kind: $0.value.kind, key: $0.value.key) },
                         serialize: { $0.encoded })
            .windowedAggregate(named: "\(aggregate.name)-windows", store: aggregate.name, options: aggregate.options,
                               StatsDAggregator<[UInt8]?>(exactLimit: limit) { [try StatsDSample(encoded: $0.value ?? [])] })
    }

    /// The topic `aggregate`'s samples go through, keyed by metric.
    func repartitionTopic(of aggregate: AggregateSpec) -> String { "\(application)-\(aggregate.name)-repartition" }

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
        config.standbyReplicas = standbyReplicas
        config.guarantee = guarantee
        config.commitInterval = commitIntervalMilliseconds.map { .milliseconds($0) }
        config.deadLetterTopic = deadLetterTopic
        if let stateDirectory { config.stateDirectory = stateDirectory }
        return config
    }
}
