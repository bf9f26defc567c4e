import Foundation
import SluiceKafka
import Testing

/// The operator's view against the real thing: the demo's pipeline
/// (classify, index into Elasticsearch, roll StatsD and access lines up,
/// each a `sluice run` process) scraped by a real Prometheus (Debian's
/// package, which the install script adds) that also loads the alerting
/// rules, and the Kibana saved objects against the indices it writes.
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

    /// The README's first command runs `sluice demo`; here it runs twice in
    /// a row, the first time under a real Prometheus that scrapes its three
    /// topologies and loads the alerting rules, and with the indices it
    /// writes checked against the Kibana saved objects.
    @Test func theDemoPassesItsChecksTwiceInARowAndItsPipelineFeedsEveryDashboardQueryAndKibanaField() throws {
        let directory = Services.temporaryDirectory()
        let prometheus = try startPrometheus(directory: directory)
        defer { prometheus.signal(SIGTERM); _ = prometheus.waitUntilExit() }
        let run = Services.unique("demo")
        let demo = try startDemo(run: run, directory: "\(directory)/first", hold: 300)
        defer { if demo.isRunning { demo.signal(SIGKILL) } }
        let deadline = ContinuousClock.now + .seconds(300)
        while demo.isRunning, !demo.log.contains("holding the pipeline"), ContinuousClock.now < deadline { pause(1) }
        try #require(demo.log.contains("holding the pipeline"), "the demo reached its summary: \(demo.log.suffix(3000))")

        let queries = try dashboardQueries()
        #expect(queries.count >= 20, "the engine dashboard's queries: \(queries.count)")
        // rate() needs two scrapes inside its range; series appear within seconds.
        var empty = queries
        let queried = ContinuousClock.now + .seconds(90)
        while !empty.isEmpty, ContinuousClock.now < queried {
            empty = try empty.filter { try seriesCount(of: $0) == 0 }
            if !empty.isEmpty { pause(2) }
        }
        #expect(empty.isEmpty, "queries without series: \(empty)")
        let rules = localGet(port: Self.prometheusPort, "/api/v1/rules").body
        #expect(rules.components(separatedBy: #""type":"alerting""#).count - 1 == 6, "the six alerts are loaded: \(rules.prefix(300))")
        #expect(!rules.contains(#""health":"err""#), "every rule evaluates: \(rules)")
        try expectKibanaObjectsMatch(run: run)

        demo.signal(SIGTERM)
        #expect(demo.wait() == 0, "\(demo.log.suffix(3000))")
        #expect(demo.log.contains("every check passed"), "\(demo.log.suffix(3000))")
        // Written to a file, not a terminal: one JSON object per line.
        let lines = ["classify", "index", "rollup"].flatMap { contents("\(directory)/first/\($0).log").split(separator: "\n") }
        #expect(lines.count > 20)
        let notJSON = lines.filter { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["message"] == nil
        }
        #expect(notJSON.isEmpty, "lines that are not a JSON event: \(notJSON.prefix(3))")

        let again = try startDemo(run: Services.unique("demo"), directory: "\(directory)/second", hold: 0)
        #expect(again.wait(timeout: .seconds(300)) == 0, "\(again.log.suffix(3000))")
        #expect(again.log.contains("every check passed"), "\(again.log.suffix(3000))")
    }

    private func startDemo(run: String, directory: String, hold: Int) throws -> TopologyProcess {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try TopologyProcess(
            ["demo", "--run", run, "--records", "4000", "--access-records", "3000", "--statsd-lines", "2000",
             "--metrics-port", String(Self.sluicePorts[0]), "--hold", String(hold), "--work-dir", directory,
             "--topologies", TopologyFileIntegrationTests.topologies.path, "--bootstrap", Services.bootstrap],
            logPath: "\(directory)/demo.log", executable: "sluice")
    }

    /// Every field a Kibana object uses is in the mapping of the indices
    /// its index pattern names (as the demo's run writes them), and every
    /// visualization's query finds documents there.
    private func expectKibanaObjectsMatch(run: String) throws {
        let objects = try contents(Self.dashboards.appendingPathComponent("sluice-kibana.ndjson").path)
            .split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let byType = Dictionary(grouping: objects) { $0["type"] as? String ?? "" }
        var patterns: [String: (indices: String, fields: Set<String>)] = [:]
        for pattern in byType["index-pattern"] ?? [] {
            let attributes = pattern["attributes"] as? [String: Any] ?? [:]
            let title = try #require(attributes["title"] as? String)
            // `logs-*` covers the run's `logs-<run>-*`, and so on.
            let indices = title.replacingOccurrences(of: "-*", with: "-\(run)-*")
            let fields = try mappedFields(indices)
            #expect(fields.contains(attributes["timeFieldName"] as? String ?? ""), "\(title)'s time field is mapped")
            patterns[pattern["id"] as! String] = (indices, fields)
        }
        #expect(patterns.count == 2, "index patterns for the logs and the rollups")
        let visualizations = byType["visualization"] ?? []
        #expect(visualizations.count >= 6)
        for object in visualizations {
            let attributes = object["attributes"] as? [String: Any] ?? [:]
            let title = attributes["title"] as? String ?? "?"
            let references = object["references"] as? [[String: Any]] ?? []
            let pattern = try #require(references.first.flatMap { patterns[$0["id"] as? String ?? ""] }, "\(title) uses a known index pattern")
            let state = try JSONSerialization.jsonObject(with: Data((attributes["visState"] as? String ?? "").utf8)) as? [String: Any]
            let fields = (state?["aggs"] as? [[String: Any]] ?? []).compactMap { ($0["params"] as? [String: Any])?["field"] as? String }
            let meta = attributes["kibanaSavedObjectMeta"] as? [String: Any]
            let source = try JSONSerialization.jsonObject(with: Data((meta?["searchSourceJSON"] as? String ?? "").utf8)) as? [String: Any]
            let query = (source?["query"] as? [String: Any])?["query"] as? String ?? ""
            let queried = query.split(separator: " ").compactMap { $0.split(separator: ":").count == 2 ? String($0.split(separator: ":")[0]) : nil }
            for field in fields + queried { #expect(pattern.fields.contains(field), "\(title): \(field) is in \(pattern.indices)") }
            #expect(try documentCount(pattern.indices, query: query) > 0, "\(title): \(query) finds documents in \(pattern.indices)")
        }
        let dashboard = try #require(byType["dashboard"]?.first)
        let panels = Set((dashboard["references"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
        #expect(panels == Set(visualizations.compactMap { $0["id"] as? String }), "the dashboard shows every visualization")
    }

    /// The dotted paths of every field mapped in `indices` (multi-fields included).
    private func mappedFields(_ indices: String) throws -> Set<String> {
        let body = try Elasticsearch().call("GET", "/\(indices)/_mapping").body
        let mappings = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        var out: Set<String> = []
        func walk(_ properties: [String: Any], _ prefix: String) {
            for (name, value) in properties {
                guard let field = value as? [String: Any] else { continue }
                if let nested = field["properties"] as? [String: Any] { walk(nested, prefix + name + "."); continue }
                out.insert(prefix + name)
                for sub in (field["fields"] as? [String: Any] ?? [:]).keys { out.insert(prefix + name + "." + sub) }
            }
        }
        for index in mappings.values {
            walk(((index as? [String: Any])?["mappings"] as? [String: Any])?["properties"] as? [String: Any] ?? [:], "")
        }
        return out
    }

    /// Documents of `indices` a Kibana query (KQL of `field:value` terms and `or`) finds.
    private func documentCount(_ indices: String, query: String) throws -> Int {
        let lucene = query.isEmpty ? "*" : query.replacingOccurrences(of: " or ", with: " OR ")
        let encoded = lucene.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let body = try Elasticsearch().call("GET", "/\(indices)/_count?q=\(encoded)").body
        return (try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["count"] as? Int ?? 0
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

private func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
