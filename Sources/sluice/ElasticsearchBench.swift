import ArgumentParser
import Foundation
import Logging
import Sluice
import SluiceExamples
import SluiceKafka
import SluiceSinks
import SluiceTransforms
import Synchronization

/// The Elasticsearch phases of `sluice bench --elasticsearch URL`: a bare
/// consumer feeding a bare bulk indexer (the ceiling), the sink fed from the
/// broker, and Elasticsearch alone (no broker), on the same documents with
/// the same ids, each into a fresh index of its own.
extension BenchPhaseCommand {
    /// Elasticsearch alone: the documents, already encoded as 5,000-document
    /// bulk requests, sent with `--in-flight` requests under way; no Kafka.
    /// The documents go partition by partition, each in offset order, the
    /// id order that Elasticsearch indexes fastest.
    func bulkAlone(_ url: String) throws -> PhaseOutcome {
        let index = try freshIndex(url)
        let generator = NginxLogGenerator()
        // Record i is offset i / partitions of partition i % partitions.
        let order = (0..<partitions).flatMap { p in stride(from: p, to: records, by: partitions) }
        var bodies: [[UInt8]] = []
        for chunk in stride(from: 0, to: records, by: 5000) {
            var body = BulkBody(index: index, input: input)
            for i in order[chunk..<min(chunk + 5000, records)] {
                body.append(partition: Int32(i % partitions), offset: Int64(i / partitions), document: generator.entry(i).value)
            }
            bodies.append(body.bytes)
        }
        var sender = BulkSender(url: url, inFlight: inFlight)
        let start = ContinuousClock.now
        for body in bodies { try sender.send(body) }
        try sender.finish()
        let seconds = (ContinuousClock.now - start).seconds
        try checkCount(url, index)
        return PhaseOutcome(seconds: seconds, latencies: sender.latencies)
    }

    /// The ceiling: a bare consumer (a sink's stream thread's client settings)
    /// turning each polled record's bytes into a bulk line with the sink's
    /// ids, 5,000-document requests, `--in-flight` under way; no engine, no
    /// parsing, nothing committed.
    func bulkFromBroker(_ url: String, _ config: KafkaConfig, _ logger: Logger) throws -> PhaseOutcome {
        let index = try freshIndex(url)
        let consumer = try bareConsumer(config, logger, forSink: true)
        try consumer.subscribe([input])
        var sender = BulkSender(url: url, inFlight: inFlight)
        var batch: [KafkaMessage] = []
        var body = BulkBody(index: index, input: input)
        var read = 0
        var start: ContinuousClock.Instant?
        while read < records {
            try consumer.poll(maxMessages: 1000, timeout: .milliseconds(100), into: &batch)
            if start == nil, !batch.isEmpty { start = .now }
            for m in batch {
                body.append(partition: m.partition, offset: m.offset, document: m.value ?? [])
                read += 1
                if body.count == 5000 || read == records {
                    try sender.send(body.bytes)
                    body = BulkBody(index: index, input: input)
                }
            }
        }
        try sender.finish()
        let seconds = (ContinuousClock.now - start!).seconds
        consumer.close()
        try checkCount(url, index)
        return PhaseOutcome(seconds: seconds, latencies: sender.latencies)
    }

    /// The sink: the broker's records, parsed and indexed by a topology with
    /// `topic_partition_offset` ids, 5,000-document requests and
    /// `--in-flight` of them under way per thread.
    func elasticsearchSink(_ url: String, _ config: KafkaConfig, _ logger: Logger) throws -> PhaseOutcome {
        let index = try freshIndex(url)
        var sinkConfig = ElasticsearchSinkConfig(hosts: [url])
        sinkConfig.maxDocuments = 5000
        sinkConfig.maxInFlight = inFlight
        var documents = ElasticsearchDocuments(index: try Template(index))
        documents.id = .topicPartitionOffset
        // The bench reads the sinks' latencies once the threads have ended.
        let sinks = Mutex<[UncheckedSink]>([])
        let sinkSettings = sinkConfig
        let definition = SinkDefinition<BulkAction>(name: "es") { context in
            let sink = ElasticsearchSink(config: sinkSettings, context: context)
            sinks.withLock { $0.append(UncheckedSink(sink: sink)) }
            return sink
        }
        let builder = TopologyBuilder()
        builder.stream([input]).mapValues(named: "parse") { try Event(json: $0.value ?? []) }
            .to(definition, named: "to-es", documents: documents) { $0.value }
        var streams = StreamsConfig(applicationID: "\(runName)-\(phase.rawValue)", kafka: config)
        streams.consumer = KafkaOptions.groupTimings
        streams.threads = threads
        streams.stateDirectory = NSTemporaryDirectory() + "sluice-bench"
        let seconds = try timed(StreamApplication(topology: try builder.build(), config: streams, logger: logger))
        try checkCount(url, index)
        var latencies = LatencySamples()
        for sink in sinks.withLock({ $0 }) { latencies.merge(sink.sink.stats.latencies) }
        return PhaseOutcome(seconds: seconds, latencies: latencies)
    }

    private func freshIndex(_ url: String) throws -> String {
        let index = "\(runName)-\(phase.rawValue)".lowercased().replacingOccurrences(of: "_", with: "-")
        let response = HTTPClient(settings: HTTPSettings()).perform(HTTPRequest(
            method: "PUT", url: "\(url)/\(index)", headers: ["Content-Type: application/json"],
            body: Array(#"{"settings":{"number_of_shards":1,"number_of_replicas":0}}"#.utf8)))
        guard case .success(let r) = response, r.status == 200 else { throw ValidationError("cannot create index \(index): \(response)") }
        return index
    }

    /// Fails the phase unless the index holds every record once, then drops it.
    private func checkCount(_ url: String, _ index: String) throws {
        let client = HTTPClient(settings: HTTPSettings())
        _ = client.perform(HTTPRequest(method: "POST", url: "\(url)/\(index)/_refresh"))
        let response = client.perform(HTTPRequest(method: "GET", url: "\(url)/\(index)/_count"))
        guard case .success(let r) = response, case .object(let root)? = try? JSONParser.parse(r.body),
              case .int(let count)? = root["count"] else { throw ValidationError("cannot count \(index): \(response)") }
        _ = client.perform(HTTPRequest(method: "DELETE", url: "\(url)/\(index)"))
        guard count == records else { throw ValidationError("\(index) holds \(count) documents, not \(records)") }
    }
}

/// A bulk request body of `index` actions with the sink's
/// `topic_partition_offset` ids.
struct BulkBody {
    let index: String
    let input: String
    private(set) var bytes: [UInt8] = []
    private(set) var count = 0

    init(index: String, input: String) {
        self.index = index
        self.input = input
    }

    mutating func append(partition: Int32, offset: Int64, document: [UInt8]) {
        bytes += Array(#"{"index":{"_index":"\#(index)","_id":"\#(input)+\#(partition)+\#(offset)"}}"#.utf8)
        bytes.append(0x0A)
        bytes += document
        bytes.append(0x0A)
        count += 1
    }
}

/// Sends bulk bodies with at most `inFlight` under way, and fails unless
/// every item of every response succeeded.
struct BulkSender {
    private let url: String
    private let inFlight: Int
    private let client = HTTPClient(settings: HTTPSettings())
    private var sentAt: [Int: ContinuousClock.Instant] = [:]
    private var next = 0
    private(set) var latencies = LatencySamples()

    init(url: String, inFlight: Int) {
        self.url = url
        self.inFlight = inFlight
    }

    /// Starts `body` once fewer than `inFlight` requests are under way.
    mutating func send(_ body: [UInt8]) throws {
        while sentAt.count >= inFlight { try collect() }
        client.start(HTTPRequest(method: "POST", url: "\(url)/_bulk", headers: ["Content-Type: application/x-ndjson"], body: body),
                     tag: next)
        sentAt[next] = .now
        next += 1
    }

    /// Waits for every request under way.
    mutating func finish() throws {
        while !sentAt.isEmpty { try collect() }
    }

    private mutating func collect() throws {
        for (tag, result) in client.poll(timeout: .milliseconds(100)) {
            guard case .success(let response) = result, response.status == 200,
                  String(decoding: response.body.prefix(64), as: UTF8.self).contains(#""errors":false"#) else {
                throw ValidationError("bulk request \(tag) failed: \(result)")
            }
            latencies.record(since: sentAt.removeValue(forKey: tag)!)
        }
    }
}

/// What a phase measured: its seconds, and request latencies when it sent any.
struct PhaseOutcome {
    var seconds: Double
    var latencies = LatencySamples()

    /// `seconds p50 p99` (milliseconds), as the result file carries it.
    var line: String {
        [String(seconds), latencies.percentile(50).map(String.init) ?? "-", latencies.percentile(99).map(String.init) ?? "-"]
            .joined(separator: " ")
    }
}

/// A sink handed from its stream thread to the bench, read only after the
/// thread has ended.
struct UncheckedSink: @unchecked Sendable {
    let sink: ElasticsearchSink
}
