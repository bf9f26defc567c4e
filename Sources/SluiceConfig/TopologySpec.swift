import Sluice
import SluiceSinks
import SluiceTransforms

/// A topology file, read and checked: everything needed to build the
/// engine's topology and configuration, with nothing left to fail at start.
public struct TopologySpec: Sendable {
    /// The file it came from.
    public var file: String
    /// The application id: consumer group and prefix of internal topics.
    public var application: String
    /// librdkafka properties, passed through by name.
    public var kafka: [String: String]
    /// Property names whose values are secrets (named like one, or read from `${file:}`).
    public var secretKafkaProperties: Set<String>
    /// The processing guarantee.
    public var guarantee: ProcessingGuarantee
    /// Stream threads per process.
    public var threads: Int
    /// Other instances that keep a warm copy of each task's state stores.
    public var standbyReplicas = 0
    /// The commit interval; `nil` for the guarantee's default.
    public var commitIntervalMilliseconds: Int?
    /// The dead-letter topic; `nil` for `<application>-dlq`.
    public var deadLetterTopic: String?
    /// Where records come from.
    public var sources: [SourceSpec]
    /// Where records go, by name; steps refer to them by index.
    public var destinations: [DestinationSpec]
    /// What happens to each record. A step sends to destination `i` for
    /// `i < destinations.count`, to aggregate `i - destinations.count` beyond.
    public var pipeline: Pipeline
    /// The windowed aggregates the steps feed.
    public var aggregates: [AggregateSpec]
    /// The steps as written, for `describe`.
    public var stepOutline: [StepOutline]
    /// The test cases kept in the file, for `sluice test`.
    public var tests: [TopologyTestCase]

    /// The dead-letter topic in effect.
    public var effectiveDeadLetterTopic: String { deadLetterTopic ?? "\(application)-dlq" }

    /// The Kafka properties with secrets replaced, for printing.
    public var redactedKafka: [String: String] {
        Dictionary(uniqueKeysWithValues: kafka.map { ($0.key, secretKafkaProperties.contains($0.key) ? "[redacted]" : $0.value) })
    }
}

/// How a source's record values are read.
public enum SourceFormat: String, Sendable, CaseIterable {
    /// A JSON object per record.
    case json
    /// One line of text per record, in the field `message`.
    case text
    /// StatsD lines: each sample becomes an event (see ``StatsDSample/event``);
    /// a line that does not read goes to the dead-letter topic.
    case statsd
}

/// Input topics and how to read them.
public struct SourceSpec: Sendable {
    /// A name test cases use to choose it; `nil` when not given.
    public var name: String?
    /// Topic names, or one `^regex` pattern.
    public var topics: [String]
    /// How values are read.
    public var format: SourceFormat
    /// Where the record time comes from; `nil` for the Kafka record's timestamp.
    public var timestamp: SourceTimestamp?
}

/// A record time read from a field of the decoded event.
public struct SourceTimestamp: Sendable {
    /// The field holding the time.
    public var field: FieldPath
    /// The formats tried in order.
    public var formats: [DateFormat]
    /// The offset for times written without one, in seconds east of UTC.
    public var defaultOffsetSeconds: Int
}

/// A named place records go.
public struct DestinationSpec: Sendable {
    /// The name steps use.
    public var name: String
    /// Where the records go.
    public var target: Target

    /// A Kafka topic, an Elasticsearch index, or a StatsD or Graphite server.
    public enum Target: Sendable {
        /// A Kafka topic.
        case topic(String)
        /// Elasticsearch, through a bulk sink.
        case elasticsearch(ElasticsearchDestination)
        /// A StatsD or Graphite server, which takes only rollups.
        case metricLines(MetricLineDestination)
    }

    /// The Kafka topic, if the destination is one.
    public var topic: String? {
        if case .topic(let topic) = target { topic } else { nil }
    }

    /// The target in a few words: `topic logs-access`, `elasticsearch logs-%{+yyyy.MM.dd}`.
    public var label: String {
        switch target {
        case .topic(let topic): "topic \(topic)"
        case .elasticsearch(let es): "elasticsearch \(es.documents.index)"
        case .metricLines(let m): "\(m.format.rawValue) \(m.config.transport.rawValue)://\(m.config.host):\(m.config.port)"
        }
    }
}

/// A StatsD or Graphite server that rollups go to as lines, named as
/// statsd names them when it flushes (`<prefix>.timers.<name>.mean_90`).
public struct MetricLineDestination: Sendable {
    /// The lines a server takes.
    public enum Format: String, Sendable, CaseIterable {
        /// StatsD lines, each statistic a gauge (another StatsD or a DogStatsD agent).
        case statsd
        /// Graphite's plaintext protocol, stamped with the window's end.
        case graphite
    }

    /// Which lines.
    public var format: Format
    /// Where they go, and how.
    public var config: MetricLineSinkConfig
    /// The first part of every name; empty for none.
    public var prefix: String

    /// A destination for `format` lines at the server `config` names.
    public init(format: Format, config: MetricLineSinkConfig, prefix: String = "stats") {
        self.format = format
        self.config = config
        self.prefix = prefix
    }

    /// The lines of `rollup`, without their newlines.
    public func textLines(of rollup: Rollup) -> [String] {
        format == .statsd ? rollup.statsdLines(prefix: prefix) : rollup.graphiteLines(prefix: prefix)
    }

    /// The lines of `rollup` as the server gets them, each ending in a newline.
    public func lines(of rollup: Rollup) -> [UInt8] {
        Array(textLines(of: rollup).map { $0 + "\n" }.joined().utf8)
    }
}

/// An Elasticsearch destination: how to reach the cluster and how records
/// become documents.
public struct ElasticsearchDestination: Sendable {
    /// Hosts, batching, retries, TLS and credentials.
    public var config: ElasticsearchSinkConfig
    /// Index, id, operation, routing, pipeline, tombstones.
    public var documents: ElasticsearchDocuments
}

/// A windowed aggregate step: StatsD samples, from a `statsd` source or
/// derived from log events, rolled up per metric and window as the statsd
/// daemon rolls them up per flush.
public struct AggregateSpec: Sendable {
    /// The step's name, which also names its state store and changelog topic.
    public var name: String
    /// Windows, emit mode, idle close and what happens to late records.
    public var options: WindowedAggregateOptions
    /// Percentiles, histograms and the exact limit of timers.
    public var timers: TimerOptions
    /// The metrics derived from each event; `nil` when the events are
    /// StatsD samples.
    public var metrics: [MetricDerivation]?
    /// The destinations of the rollups, by index.
    public var destinations: [Int]
    /// Whether samples go through a repartition topic keyed by metric, so
    /// that each metric is rolled up in one task whatever partition its
    /// samples arrive on; `false` when the input is keyed so already.
    public var repartition = true

    /// The samples one event gives.
    public func samples(of event: Event) throws(MetricEventError) -> [StatsDSample] {
        guard let metrics else { return [try StatsDSample(event: event)] }
        var samples: [StatsDSample] = []
        for metric in metrics { try metric.sample(of: event, into: &samples) }
        return samples
    }
}

/// A step as written, for descriptions: its name, kind and nested steps.
public struct StepOutline: Sendable {
    /// The step's name (given, or kind and position).
    public var name: String
    /// What it does, in a few words.
    public var summary: String
    /// Destinations it may send to.
    public var destinations: [String]
    /// Steps inside it (`then` and `else` of an `if`).
    public var children: [StepOutline]
}
