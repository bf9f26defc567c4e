import ArgumentParser
import Foundation
import Sluice
import SluiceExamples
import SluiceKafka
import SluiceSinks

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the example pipeline end to end: classify mixed logs, index them into Elasticsearch, roll StatsD and access records up.",
        discussion: """
            Generates nginx access and error lines, application JSON logs, nginx JSON access records and StatsD lines (a \
            few of each malformed) into fresh topics, runs topologies/nginx-classify.yaml, logs-to-elasticsearch.yaml and \
            statsd-rollup.yaml as `sluice run` processes with their metrics addresses, waits until everything is \
            processed, and prints where every record went, checked against what the topics and Elasticsearch hold.
            """)

    @OptionGroup var kafka: KafkaOptions
    @Option(help: "Mixed log lines (nginx access and error lines, application JSON logs) to generate.") var records = 100_000
    @Option(help: "nginx JSON access records (for the rollups) to generate.") var accessRecords = 30_000
    @Option(help: "StatsD lines to generate.") var statsdLines = 30_000
    @Option(name: .customLong("run"), help: "Name of the run: prefix of its topics, groups and indices (default: demo-<epoch seconds>).")
    var runName: String?
    @Option(help: "Elasticsearch URL.") var esURL = ProcessInfo.processInfo.environment["SLUICE_ES_URL"] ?? "http://127.0.0.1:19200"
    @Option(help: "Metrics port of the first topology; the others take the next two.") var metricsPort: UInt16 = 19481
    @Option(help: "The directory of the example topologies.") var topologies = "topologies"
    @Option(help: "Where the topologies' logs and state go (default: a new temporary directory).") var workDir: String?
    @Option(help: "Seconds to keep the pipeline running after the summary (SIGINT or SIGTERM ends it sooner).") var hold = 0

    func run() throws {
        signal(SIGINT) { _ in demoInterrupted.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in demoInterrupted.store(true, ordering: .relaxed) }
        let logger = kafka.logger("sluice-demo")
        let config = try kafka.config()
        let inputs = DemoInputs(run: runName ?? KafkaOptions.runName("demo"), records: records, accessRecords: accessRecords,
                                statsdLines: statsdLines)
        let directory = workDir ?? NSTemporaryDirectory() + "sluice-\(inputs.run)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        say("run \(inputs.run): topics \(inputs.run)-*, indices logs-\(inputs.run)-* and rollups-\(inputs.run)-*, logs in \(directory)")
        try KafkaAdmin(config: config, logger: logger).createTopics(inputs.topics.map { NewTopic($0, partitions: 3) })

        let children = try startTopologies(inputs, directory: directory)
        defer { for child in children where child.isRunning { _ = child.stop() } }
        try waitUntilReady(children)
        say("generating \(records) mixed log lines, \(accessRecords) nginx JSON access records, \(statsdLines) StatsD lines…")
        try inputs.produce(config: config, logger: logger)
        let summary = DemoSummary(inputs: inputs, config: config, logger: logger, esURL: esURL)
        try waitUntilProcessed(children, inputs)
        let outcome = try summary.waitUntilSettled { try self.checkRunning(children) }
        let families = try checkMetrics(children)
        summary.print(outcome, families: families, children: children, esURL: esURL)

        if hold > 0 {
            say("\nholding the pipeline for \(hold) s (Ctrl-C ends it): \(children.map { $0.baseURL + "/metrics" }.joined(separator: " "))")
            let end = ContinuousClock.now + .seconds(hold)
            while ContinuousClock.now < end, !demoInterrupted.load(ordering: .relaxed) { Thread.sleep(forTimeInterval: 0.2) }
        }
        let statuses = children.map { ($0.name, $0.stop()) }
        guard statuses.allSatisfy({ $0.1 == 0 }) else {
            throw ValidationError("topologies did not exit cleanly: \(statuses.map { "\($0.0) \($0.1)" }.joined(separator: ", "))")
        }
        let failures = outcome.failures + families.missing.map { "no samples of \($0) at /metrics" }
        guard failures.isEmpty else {
            throw ValidationError("\(failures.count) checks failed: \(failures.joined(separator: "; "))")
        }
        say("\nevery check passed; the topologies stopped cleanly")
    }

    private func startTopologies(_ inputs: DemoInputs, directory: String) throws -> [TopologyChild] {
        let run = inputs.run, bootstrap = kafka.bootstrap
        let common = ["SLUICE_KAFKA_BOOTSTRAP": bootstrap, "SLUICE_ES_URL": esURL]
        let examples: [(name: String, file: String, environment: [String: String])] = [
            ("classify", "nginx-classify.yaml",
             ["NGINX_APPLICATION_ID": "\(run)-classify", "NGINX_INPUT": inputs.mixed, "NGINX_OUTPUT_PREFIX": "\(run)-"]),
            ("index", "logs-to-elasticsearch.yaml",
             ["ES_INDEX_APPLICATION_ID": "\(run)-es", "ES_INPUT_PREFIX": "\(run)-", "ES_INDEX_PREFIX": "logs-\(run)"]),
            ("rollup", "statsd-rollup.yaml",
             ["ROLLUP_APPLICATION_ID": "\(run)-rollup", "ROLLUP_STATSD_TOPIC": inputs.statsd, "ROLLUP_ACCESS_TOPIC": inputs.access,
              "ROLLUP_OUTPUT_TOPIC": inputs.rollups, "ROLLUP_INDEX_PREFIX": "rollups-\(run)", "ROLLUP_IDLE_CLOSE": "3s"]),
        ]
        var children: [TopologyChild] = []
        do {
            for (i, example) in examples.enumerated() {
                children.append(try TopologyChild(name: example.name, file: "\(topologies)/\(example.file)", port: metricsPort + UInt16(i),
                                                  bootstrap: bootstrap, directory: directory,
                                                  environment: common.merging(example.environment) { $1 }))
            }
        } catch {
            for child in children { _ = child.stop() }
            throw error
        }
        return children
    }

    /// Waits until each topology answers `/ready` with 200: its tasks are
    /// assigned and their stores restored.
    private func waitUntilReady(_ children: [TopologyChild]) throws {
        var waiting = children
        let deadline = ContinuousClock.now + .seconds(120)
        while !waiting.isEmpty {
            try checkRunning(children)
            guard ContinuousClock.now < deadline else { throw ValidationError("not ready after 120 s: \(waiting.map(\.name))") }
            let ready = waiting.filter { $0.get("/ready")?.status == 200 }
            for child in ready {
                let restored = Int(child.scrape().sum("sluice_state_restore_records_total"))
                let seconds = (ContinuousClock.now - child.started).formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))
                say("\(child.name.padding(9)) ready after \(seconds) (restored \(restored) changelog records) at \(child.baseURL)")
            }
            waiting.removeAll { child in ready.contains { $0 === child } }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// Waits until each topology has read all of its input, shows progress meanwhile.
    private func waitUntilProcessed(_ children: [TopologyChild], _ inputs: DemoInputs) throws {
        let (classify, index, rollup) = (children[0], children[1], children[2])
        let targets = [inputs.records, inputs.predictedClassified, inputs.accessRecords + inputs.statsdLines]
        let deadline = ContinuousClock.now + .seconds(900)
        var lastLine = ContinuousClock.now - .seconds(10)
        while true {
            try checkRunning(children)
            let scrapes = [classify, index, rollup].map { $0.scrape() }
            let done = scrapes.map { Int($0.sum("sluice_records_processed_total")) }
            let lag = scrapes.reduce(0) { $0 + $1.sum("sluice_consumer_lag_records") }
            let deadLetters = scrapes.reduce(0) { $0 + $1.sum("sluice_dead_letters_total") }
            let finished = zip(done, targets).allSatisfy { $0 >= $1 } && lag == 0
            if finished || ContinuousClock.now - lastLine >= .seconds(2) {
                say("  classified \(done[0])/\(targets[0]) · indexed \(done[1])/\(targets[1]) (\(Int(scrapes[1].sum("sluice_es_documents_total"))) documents acknowledged) · rolled up \(done[2])/\(targets[2]) · dead letters \(Int(deadLetters))")
                lastLine = ContinuousClock.now
            }
            if finished { return }
            guard ContinuousClock.now < deadline else { throw ValidationError("the pipeline did not read all of its input in 900 s") }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// The families of the issue's list that every operator relies on, each with a sample from some topology.
    private func checkMetrics(_ children: [TopologyChild]) throws -> (live: Int, missing: [String]) {
        let scrapes = children.map { $0.scrape() }
        let live = Set(scrapes.flatMap(\.families)).filter { name in scrapes.contains { $0.hasSamples(of: name) } }
        return (live.count, DemoSummary.requiredFamilies.filter { !live.contains($0) })
    }

    func checkRunning(_ children: [TopologyChild]) throws {
        if demoInterrupted.load(ordering: .relaxed) { throw ValidationError("interrupted") }
        if let gone = children.first(where: { !$0.isRunning }) {
            throw ValidationError("\(gone.name) exited early; the end of \(gone.logPath):\n\(gone.logTail)")
        }
    }
}

extension String {
    func padding(_ width: Int, left: Bool = false) -> String {
        let pad = String(repeating: " ", count: max(0, width - count))
        return left ? pad + self : self + pad
    }
}
