import Foundation
import Sluice
import SluiceKafka
import SluiceSinks
import Testing

/// `sluice run` with an Elasticsearch destination, killed and restarted,
/// and Elasticsearch itself stopped: the index ends with every record
/// exactly once. Part of the serialized Elasticsearch suite, so that no
/// other test of it runs while Elasticsearch is down.
extension ElasticsearchSinkIntegrationTests {

    /// A topic of `count` JSON records, an index for them, and a topology
    /// file that sends every record there with `topic_partition_offset` ids.
    struct Run {
        let name: String
        let count: Int
        let directory = Services.temporaryDirectory()
        var input: String { "\(name)-in" }
        var index: String { "\(name)-docs" }
        var file: String { directory + "/es.yaml" }

        /// `connection` holds the destination's `hosts` and any credentials and TLS lines.
        init(_ prefix: String, count: Int, es: Elasticsearch, requestTimeoutMs: Int = 60_000,
             connection: String = "hosts: ['\(Elasticsearch.url)']") throws {
            name = Services.unique(prefix)
            self.count = count
            try es.createIndex(index, mapping: #"{"properties":{"n":{"type":"long"},"service":{"type":"keyword"}}}"#)
            try Services.Broker.local.createTopics([NewTopic(input, partitions: 6), NewTopic("\(name)-dlq", partitions: 1)])
            let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
            for i in 0..<count {
                try producer.send(topic: input, key: Array("k\(i)".utf8), value: Array(#"{"n":\#(i),"service":"web"}"#.utf8))
            }
            try producer.flush(timeout: .seconds(60))
            try """
            application: \(name)
            kafka:
              bootstrap.servers: \(Services.bootstrap)
            processing:
              threads: 2
            sources:
              - topics: [\(input)]
                format: json
            destinations:
              docs:
                elasticsearch:
                  \(connection.split(separator: "\n").joined(separator: "\n      "))
                  index: \(index)
                  id: topic_partition_offset
                  request_timeout_ms: \(requestTimeoutMs)
                  retry: { max_backoff_ms: 2000 }
            steps:
              - to: docs
            """.write(toFile: file, atomically: true, encoding: .utf8)
        }

        func start(_ label: String, environment: [String: String] = [:], arguments: [String] = []) throws -> TopologyProcess {
            try TopologyProcess(["run", file, "--state-dir", directory + "/state"] + arguments
                                + Services.groupTimings.flatMap { ["--kafka", "\($0.key)=\($0.value)"] },
                                logPath: "\(directory)/\(label).log", executable: "sluice", environment: environment)
        }
    }

    /// Polls the index until it holds `target` documents or `timeout` passes; returns the last count.
    private func waitForDocuments(_ run: Run, atLeast target: Int, timeout: Duration) throws -> Int {
        let deadline = ContinuousClock.now + timeout
        var count = 0
        while ContinuousClock.now < deadline {
            count = (try? es.count(run.index)) ?? count
            if count >= target { return count }
            pause(0.5)
        }
        return count
    }

    @Test func aMillionRecordsArriveExactlyOnceThoughTheProcessIsKilledFiveTimes() throws {
        let run = try Run("es-kill", count: 1_000_000, es: es)
        var random = SystemRandomNumberGenerator()
        var reached = 0
        for kill in 1...5 {
            let process = try run.start("run-\(kill)")
            defer { process.signal(SIGKILL) }
            // Some progress first, then a kill at a random moment of the next seconds.
            reached = try waitForDocuments(run, atLeast: reached + 20_000, timeout: .seconds(180))
            pause(Double.random(in: 0...3, using: &random))
            process.signal(SIGKILL)
            #expect(process.wait() == SIGKILL)
            print("kill \(kill): \(reached)+ documents indexed")
        }
        let last = try run.start("run-final")
        defer { last.signal(SIGKILL) }
        let final = try waitForDocuments(run, atLeast: run.count, timeout: .seconds(600))
        last.signal(SIGTERM)
        #expect(last.wait() == 0, "a signalled instance drains and exits 0")
        pause(2)
        #expect(final == run.count)
        #expect(try es.count(run.index) == run.count, "1,000,000 distinct ids: every record once, none twice")
        var dead = 0
        try TopicReader(config: Services.kafka, logger: Services.logger).read(["\(run.name)-dlq"]) { _ in dead += 1 }
        #expect(dead == 0)
    }

    /// The `sluice_es_*` series `name` of the process serving metrics on `port`, summed over threads.
    private func scrape(_ name: String, port: String, reason: String? = nil) -> Int {
        metricTotal(name, in: localGet(port: UInt16(port)!, "/metrics").body, matching: reason.map { "reason=\"\($0)\"" })
    }

    @Test func elasticsearchStoppedForAMinuteMidRunLosesNothingAndTheRunCompletes() throws {
        let run = try Run("es-down", count: 200_000, es: es, requestTimeoutMs: 5_000)
        let port = ProcessInfo.processInfo.environment["SLUICE_METRICS_TEST_PORT"] ?? "19465"
        let process = try run.start("run", arguments: ["--metrics-address", "127.0.0.1:\(port)"])
        defer { process.signal(SIGKILL) }
        _ = try waitForDocuments(run, atLeast: 20_000, timeout: .seconds(180))
        try Services.elasticsearch("stop")
        pause(30)
        #expect(scrape("sluice_es_failing", port: port) > 0, "the backoff shows in the metrics")
        #expect(scrape("sluice_es_retried_items_total", port: port, reason: "connection") > 0)
        pause(30)
        try Services.elasticsearch("start")
        let final = try waitForDocuments(run, atLeast: run.count, timeout: .seconds(600))
        // Elasticsearch can show the last documents before the sink has read the response that acknowledges them.
        var acknowledged = 0
        for _ in 0..<60 {
            acknowledged = scrape("sluice_es_documents_total", port: port)
            if acknowledged >= run.count { break }
            pause(0.5)
        }
        #expect(scrape("sluice_es_failing", port: port) == 0)
        #expect(acknowledged >= run.count)
        process.signal(SIGTERM)
        #expect(process.wait() == 0)
        #expect(final == run.count)
        let log = process.log
        #expect(log.contains("elasticsearch bulk items will be retried"), "the backoff shows in the log")
        #expect(log.contains("elasticsearch requests succeed again"))
    }

    @Test func perItemRejectionsAreRetriedAloneUntilEveryDocumentArrives() throws {
        // One write thread with a queue of two: the shard requests of every
        // bulk request crowd it, and Elasticsearch answers 429 per item.
        try Services.elasticsearch("stop")
        try Services.elasticsearch("start", settings: ["thread_pool.write.size: 1", "thread_pool.write.queue_size: 2"])
        defer {
            try? Services.elasticsearch("stop")
            try? Services.elasticsearch("start")
        }
        let run = Services.unique("es-429")
        let input = "\(run)-in", index = "\(run)-docs"
        try es.call("PUT", "/\(index)", #"{"settings":{"number_of_shards":8,"number_of_replicas":0}}"#)
        try produce(input, count: 20_000)
        let rejectedBefore = try es.writeRejections()
        // `create` makes a resent acknowledged document a 409, and a 409
        // goes to the dead-letter topic: an empty one shows that only
        // rejected items were sent again.
        let app = try sinkRun(input, index: index, applicationID: run, count: 20_000) { config, documents in
            documents.operation = .create
            config.onVersionConflict = .dlq
            config.maxInFlight = 4
            config.maxDocuments = 2000
            config.retry.maxBackoff = .seconds(1)
        }
        let rejected = try es.writeRejections() - rejectedBefore
        print("per-item 429: \(rejected) write rejections")
        #expect(rejected > 0, "Elasticsearch rejected writes")
        #expect(try es.count(index) == 20_000)
        #expect(app.deadLetterCount == 0, "no acknowledged document was sent twice")
        var dead = 0
        try TopicReader(config: Services.kafka, logger: Services.logger).read(["\(run)-dlq"]) { _ in dead += 1 }
        #expect(dead == 0)
    }

    @Test func throughATLSProxyAWrongPasswordIsRetriedWithAClearErrorAndTheRightOneDeliversEverything() throws {
        let proxy = Services.temporaryDirectory() + "/proxy"
        let port = ProcessInfo.processInfo.environment["SLUICE_ES_PROXY_PORT"] ?? "19243"
        try Services.elasticsearchProxy(["start", proxy, port, "sluice", "s3cret-pass"])
        defer { try? Services.elasticsearchProxy(["stop", proxy]) }
        let run = try Run("es-tls", count: 5_000, es: es, connection: """
            hosts: ['https://127.0.0.1:\(port)']
            user: sluice
            password: ${env:ES_PASSWORD}
            tls: { ca_file: '\(proxy)/ca.pem' }
            """)

        let wrong = try run.start("wrong-password", environment: ["ES_PASSWORD": "not-the-pass"])
        defer { wrong.signal(SIGKILL) }
        let deadline = ContinuousClock.now + .seconds(120)
        while !wrong.log.contains("Elasticsearch refused the credentials (401)"), ContinuousClock.now < deadline { pause(0.5) }
        pause(3)
        let log = wrong.log
        #expect(log.contains("Elasticsearch refused the credentials (401)"), "the error names the cause")
        #expect(log.contains("elasticsearch bulk items will be retried"), "and the documents wait for a retry")
        #expect(!log.contains("not-the-pass"), "the password never reaches the log")
        #expect(wrong.isRunning, "refused credentials do not stop the run")
        #expect(try es.count(run.index) == 0)
        wrong.signal(SIGKILL)
        _ = wrong.wait()

        let right = try run.start("right-password", environment: ["ES_PASSWORD": "s3cret-pass"])
        defer { right.signal(SIGKILL) }
        let final = try waitForDocuments(run, atLeast: run.count, timeout: .seconds(300))
        right.signal(SIGTERM)
        #expect(right.wait() == 0)
        #expect(final == run.count, "nothing was dropped while the password was wrong")
        var dead = 0
        try TopicReader(config: Services.kafka, logger: Services.logger).read(["\(run.name)-dlq"]) { _ in dead += 1 }
        #expect(dead == 0)
    }
}
