import Foundation
import Logging
import SluiceExamples
import SluiceKafka

/// What the demo feeds the example pipeline, and what the rules say must
/// come of it: the run's topics, its generators, and the predicted counts.
struct DemoInputs {
    let run: String
    let records: Int, accessRecords: Int, statsdLines: Int
    /// Now, in whole seconds: the generated events end here, so they are recent in a dashboard.
    let now = Int64(Date().timeIntervalSince1970) * 1000
    /// Records per classified topic and dead-letter topic of classify and rollup, as the rules say.
    private(set) var predictedTopics: [String: Int] = [:]
    /// Access records that are JSON: each counts once in `nginx.requests`.
    private(set) var validAccess = 0

    init(run: String, records: Int, accessRecords: Int, statsdLines: Int) {
        (self.run, self.records, self.accessRecords, self.statsdLines) = (run, records, accessRecords, statsdLines)
        let mixed = mixedGenerator
        for i in 0..<records {
            switch mixed.entry(i).outcome {
            case .destination(let d): predictedTopics["\(run)-\(d.rawValue)", default: 0] += 1
            case .deadLetter: predictedTopics[deadLetterTopics[0], default: 0] += 1
            case .dropped: break
            }
        }
        let access = accessGenerator
        validAccess = (0..<accessRecords).count { access.entry($0).destination != nil }
        // Access records that are not JSON and StatsD lines that do not read.
        predictedTopics[deadLetterTopics[2]] = accessRecords - validAccess + (0..<statsdLines).count(where: Self.isUnreadable)
    }

    /// Text lines from hosts: nginx access and error lines, application JSON logs.
    var mixed: String { "\(run)-mixed" }
    /// nginx JSON access records from a log shipper, keyed by service.
    var access: String { "\(run)-nginx-json" }
    /// StatsD lines from applications, keyed by metric.
    var statsd: String { "\(run)-statsd" }
    var rollups: String { "\(run)-rollups" }
    /// The classification's destination topics.
    var classified: [String] { MixedLogGenerator.Destination.allCases.map { "\(run)-\($0.rawValue)" } }
    /// The dead-letter topics of classify, index and rollup.
    var deadLetterTopics: [String] { ["classify", "es", "rollup"].map { "\(run)-\($0)-dlq" } }
    var topics: [String] { [mixed, access, statsd, rollups] + classified + deadLetterTopics }

    /// One line in 500 is none of the known formats.
    var mixedGenerator: MixedLogGenerator { MixedLogGenerator(seed: 7, malformedEvery: 500, startTime: now - Int64(records) * 1000) }
    /// One record in 1000 is not JSON.
    var accessGenerator: NginxLogGenerator { NginxLogGenerator(seed: 42, malformedEvery: 1000, startTime: now - Int64(accessRecords) * 3) }

    /// Whether StatsD line `i` is one of the unreadable ones (one in 997).
    static func isUnreadable(_ i: Int) -> Bool { i % 997 == 996 }

    /// StatsD line `i` and its key (the metric and its service: a metric's lines share a partition, so one task rolls each up).
    func statsdLine(_ i: Int) -> (key: String, line: String) {
        let service = ["checkout", "search", "catalog"][i / 4 % 3]
        if Self.isUnreadable(i) { return ("api.requests", "api.requests:one|c|#service:\(service)") }
        switch i % 4 {
        case 0: return ("api.requests \(service)", "api.requests:1|c|#service:\(service)")
        case 1: return ("api.latency \(service)", "api.latency:\(i * 7 % 400)|ms|#service:\(service)")
        case 2: return ("queue.depth", "queue.depth:\(i % 50)|g|#queue:orders")
        default: return ("users.active", "users.active:u\(i % 300)|s")
        }
    }

    /// Records the classification writes: what the index topology reads.
    var predictedClassified: Int { classified.reduce(0) { $0 + predictedTopics[$1, default: 0] } }

    /// `api.requests` lines with a value: each counts one.
    var apiRequestLines: Int { (0..<statsdLines).count { $0 % 4 == 0 && !Self.isUnreadable($0) } }

    /// Produces every input; returns once the broker has them all.
    func produce(config: KafkaConfig, logger: Logger) throws {
        try mixedGenerator.produce(0..<records, topic: mixed, partitions: 3, create: false, config: config, logger: logger)
        var producerConfig = config
        producerConfig.lingerMilliseconds = 20
        let producer = try KafkaProducer(config: producerConfig, logger: logger)
        let generator = accessGenerator
        for i in 0..<accessRecords {
            let e = generator.entry(i)
            try producer.send(topic: access, key: Array(Self.service(in: e.value).utf8), value: e.value, timestamp: e.timestamp)
        }
        for i in 0..<statsdLines {
            let (key, line) = statsdLine(i)
            try producer.send(topic: statsd, key: Array(key.utf8), value: Array(line.utf8))
        }
        try producer.flushUntilAcknowledged(attempt: .seconds(30), logger: logger)
    }

    /// The `service` of a generated access record (empty for a malformed one).
    static func service(in record: [UInt8]) -> String {
        let text = String(decoding: record, as: UTF8.self)
        guard let start = text.range(of: #""service":""#)?.upperBound, let end = text[start...].firstIndex(of: "\"") else { return "" }
        return String(text[start..<end])
    }
}
