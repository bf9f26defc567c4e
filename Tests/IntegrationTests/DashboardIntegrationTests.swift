import Foundation
import SluiceExamples
import SluiceKafka
import Testing

/// The operator's view against the real thing: the example pipeline
/// (classify, index into Elasticsearch, roll StatsD and access lines up)
/// run by `sluice run` under load, scraped by a real Prometheus (Debian's
/// package, which the install script adds) that also loads the alerting rules.
@Suite(.serialized, .enabled(if: Services.enabled, "needs the local broker and Elasticsearch: run scripts/test.sh"))
struct DashboardIntegrationTests {
    static let dashboards = URL(fileURLWithPath: Services.root).appendingPathComponent("dashboards")
    /// The metrics ports of the three topologies and Prometheus' own.
    static let sluicePorts: [UInt16] = [19471, 19472, 19473]
    static let prometheusPort: UInt16 = 19490

    @Test func theAlertingRulesAreValidAndEachFiresOnItsCaseAndNotOnItsNearMiss() throws {
        let directory = Services.temporaryDirectory()
        for (command, file) in [("check", "sluice-alerts.rules.yml"), ("test", "sluice-alerts.test.yml")] {
            let log = "\(directory)/\(command).log"
            let promtool = try ChildProcess("/usr/bin/promtool", arguments: [command, "rules", Self.dashboards.appendingPathComponent(file).path],
                                            environment: ProcessInfo.processInfo.environment, outputPath: log)
            #expect(promtool.waitUntilExit() == 0, "promtool \(command) rules: \(contents(log))")
        }
    }

    @Test func everyDashboardQueryReturnsSeriesFromPrometheusScrapingTheExamplePipelineUnderLoad() throws {
        let run = Services.unique("dash")
        let directory = Services.temporaryDirectory()
        let pipeline = try ExamplePipeline(run: run, directory: directory, metricsPorts: Self.sluicePorts)
        defer { pipeline.kill() }
        let prometheus = try startPrometheus(directory: directory)
        defer { prometheus.signal(SIGTERM); _ = prometheus.waitUntilExit() }
        try pipeline.produce(records: 4_000, statsdLines: 2_000)

        let queries = try dashboardQueries()
        #expect(queries.count >= 20, "the engine dashboard's queries: \(queries.count)")
        // rate() needs two scrapes inside its range; series appear within seconds.
        var empty = queries
        let deadline = ContinuousClock.now + .seconds(90)
        while !empty.isEmpty, ContinuousClock.now < deadline {
            pause(2)
            empty = try empty.filter { try seriesCount(of: $0) == 0 }
        }
        #expect(empty.isEmpty, "queries without series: \(empty)")

        let rules = localGet(port: Self.prometheusPort, "/api/v1/rules").body
        #expect(rules.components(separatedBy: #""type":"alerting""#).count - 1 == 6, "the six alerts are loaded: \(rules.prefix(300))")
        #expect(!rules.contains(#""health":"err""#), "every rule evaluates: \(rules)")
        #expect(pipeline.stop(), "each topology exits cleanly: \(pipeline.logTails)")
        // Written to a file, not a terminal: one JSON object per line.
        let lines = pipeline.logs.flatMap { $0.split(separator: "\n") }
        #expect(lines.count > 20)
        let notJSON = lines.filter { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["message"] == nil
        }
        #expect(notJSON.isEmpty, "lines that are not a JSON event: \(notJSON.prefix(3))")
    }

    /// Every `expr` of every Grafana dashboard, its `$application` matching all.
    private func dashboardQueries() throws -> [String] {
        var out: [String] = []
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.dashboards.path).filter { $0.hasSuffix(".grafana.json") }
        for file in files.sorted() {
            let data = try Data(contentsOf: Self.dashboards.appendingPathComponent(file))
            let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            for panel in json["panels"] as? [[String: Any]] ?? [] {
                for target in panel["targets"] as? [[String: Any]] ?? [] {
                    if let expr = target["expr"] as? String { out.append(expr.replacingOccurrences(of: "$application", with: ".+")) }
                }
            }
        }
        return out
    }

    /// How many series Prometheus returns for `query` now; a query it refuses fails the test.
    private func seriesCount(of query: String) throws -> Int {
        let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let (status, body) = localGet(port: Self.prometheusPort, "/api/v1/query?query=\(encoded)")
        guard status == 200 else {
            Issue.record("Prometheus answered \(status) to \(query): \(body)")
            return -1
        }
        let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        let data = json?["data"] as? [String: Any]
        return (data?["result"] as? [Any])?.count ?? 0
    }

    private func startPrometheus(directory: String) throws -> ChildProcess {
        let targets = Self.sluicePorts.map { "'127.0.0.1:\($0)'" }.joined(separator: ", ")
        let config = """
            global: { scrape_interval: 1s, evaluation_interval: 1s }
            rule_files: ['\(Self.dashboards.path)/sluice-alerts.rules.yml']
            scrape_configs:
              - job_name: sluice
                static_configs: [{ targets: [\(targets)] }]
            """
        try config.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = try ChildProcess("/usr/bin/prometheus", arguments: [
            "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/prometheus",
            "--web.listen-address=127.0.0.1:\(Self.prometheusPort)"], environment: ProcessInfo.processInfo.environment,
            outputPath: directory + "/prometheus.log")
        let deadline = ContinuousClock.now + .seconds(30)
        while localGet(port: Self.prometheusPort, "/-/ready").status != 200, ContinuousClock.now < deadline { pause(0.2) }
        try #require(localGet(port: Self.prometheusPort, "/-/ready").status == 200,
                     "Prometheus is up: \(contents(directory + "/prometheus.log").suffix(1000))")
        return prometheus
    }
}

/// The example topologies as a platform runs them, each a `sluice run`
/// process with its metrics address: `nginx-classify.yaml` splits a mixed
/// topic, `logs-to-elasticsearch.yaml` indexes the classified topics and
/// `statsd-rollup.yaml` rolls StatsD lines and access records up.
final class ExamplePipeline {
    let run: String
    /// The mixed log topic and the StatsD topic the pipeline reads.
    let mixed: String, statsd: String
    private let processes: [TopologyProcess]

    /// Index names: the rollups' prefix must not fall under the logs'
    /// template pattern (`<run>-*-*`), or Elasticsearch refuses the second template.
    init(run: String, directory: String, metricsPorts: [UInt16]) throws {
        self.run = run
        let mixed = "\(run)-mixed", statsd = "\(run)-statsd"
        (self.mixed, self.statsd) = (mixed, statsd)
        let classified = ["access", "alerts", "nginx-errors", "app"].map { "\(run)-\($0)" }
        let topics = [mixed, statsd, "\(run)-rollups"] + classified + ["", "-es", "-rollup"].map { "\(run)\($0)-dlq" }
        try Services.Broker.local.createTopics(topics.map { NewTopic($0, partitions: 2) })
        let examples = TopologyFileIntegrationTests.topologies
        let runs: [(file: String, environment: [String: String])] = [
            ("nginx-classify.yaml", ["NGINX_APPLICATION_ID": run, "NGINX_INPUT": mixed, "NGINX_OUTPUT_PREFIX": "\(run)-"]),
            ("logs-to-elasticsearch.yaml", ["ES_INDEX_APPLICATION_ID": "\(run)-es", "ES_INPUT_PREFIX": "\(run)-",
                                            "ES_INDEX_PREFIX": run]),
            ("statsd-rollup.yaml", ["ROLLUP_APPLICATION_ID": "\(run)-rollup", "ROLLUP_STATSD_TOPIC": statsd,
                                    "ROLLUP_ACCESS_TOPIC": "\(run)-access", "ROLLUP_OUTPUT_TOPIC": "\(run)-rollups",
                                    "ROLLUP_INDEX_PREFIX": "rollups-\(run)"]),
        ]
        processes = try zip(runs, metricsPorts).map { example, port in
            try TopologyProcess(
                ["run", examples.appendingPathComponent(example.file).path, "--state-dir", "\(directory)/\(port)",
                 "--bootstrap", Services.bootstrap, "--log-level", "info", "--metrics-address", "127.0.0.1:\(port)"]
                    + Services.groupTimings.flatMap { ["--kafka", "\($0.key)=\($0.value)"] },
                logPath: "\(directory)/\(example.file).log", executable: "sluice", environment: example.environment)
        }
    }

    /// Produces mixed log lines (one in a hundred malformed) and StatsD lines.
    func produce(records: Int, statsdLines: Int) throws {
        try MixedLogGenerator(seed: 21, malformedEvery: 100)
            .produce(0..<records, topic: mixed, partitions: 2, create: false, config: Services.kafka, logger: Services.logger)
        let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
        for i in 0..<statsdLines {
            let line = ["api.requests:1|c|#service:shop", "api.latency:\(i % 250)|ms|#service:shop", "queue.depth:\(i % 40)|g"][i % 3]
            try producer.send(topic: statsd, key: Array("api".utf8), value: Array(line.utf8))
        }
        try producer.flush(timeout: .seconds(30))
    }

    /// Stops every process with SIGTERM; whether all exited 0.
    func stop() -> Bool {
        for process in processes { process.signal(SIGTERM) }
        return processes.map { $0.wait() }.allSatisfy { $0 == 0 }
    }

    /// Each process's log.
    var logs: [String] { processes.map(\.log) }

    /// The end of each process's log.
    var logTails: String { processes.map { "\($0.logPath):\n\($0.log.suffix(800))" }.joined(separator: "\n") }

    func kill() { for process in processes where process.isRunning { process.signal(SIGKILL) } }
}

private func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
