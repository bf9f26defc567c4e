import ArgumentParser
import Foundation
import Logging
import Sluice
import SluiceKafka
import SluiceSinks

/// What the demo's pipeline left in the topics and in Elasticsearch, and
/// the checks of it against what the rules predict.
struct DemoSummary {
    /// The families `/metrics` must show (as the operator's dashboard uses them).
    static let requiredFamilies = [
        "sluice_records_processed_total", "sluice_records_produced_total", "sluice_processor_records_total",
        "sluice_consumer_lag_records", "sluice_commit_duration_seconds", "sluice_dead_letters_total", "sluice_late_records_total",
        "sluice_state_store_bytes", "sluice_state_restore_remaining_records", "sluice_state_restore_records_total",
        "sluice_es_requests_total", "sluice_es_documents_total", "sluice_es_request_bytes_total",
        "sluice_es_request_duration_seconds", "sluice_es_in_flight_requests", "sluice_ready",
        "process_resident_memory_bytes", "process_cpu_seconds_total",
    ]

    /// One measurement of the pipeline's results.
    struct Outcome {
        var topicCounts: [String: Int] = [:]
        /// Dead letters by topology, processor and error type, with a sample reason.
        var deadLetters: [String: (count: Int, reason: String)] = [:]
        /// The last rollup per metric, tags and window.
        var rollups: [String: [String: Any]] = [:]
        var documents: [(index: String, count: Int)] = []
        var checks: [(what: String, holds: Bool)] = []
        var failures: [String] { checks.filter { !$0.holds }.map(\.what) }
    }

    let inputs: DemoInputs
    let config: KafkaConfig
    let logger: Logger
    let esURL: String

    /// Measures until every check holds (windows close a few seconds after
    /// their input ends, documents arrive after their batches' linger) or
    /// two minutes have passed; the last measurement.
    func waitUntilSettled(_ stillRunning: () throws -> Void) throws -> Outcome {
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            try stillRunning()
            let outcome = try measure()
            if outcome.failures.isEmpty || ContinuousClock.now >= deadline { return outcome }
            Thread.sleep(forTimeInterval: 2)
        }
    }

    private func measure() throws -> Outcome {
        var outcome = Outcome()
        try TopicReader(config: config, logger: logger)
            .read(inputs.classified + inputs.deadLetterTopics + [inputs.rollups], idle: .milliseconds(800)) { m in
                outcome.topicCounts[m.topic, default: 0] += 1
                if m.topic == inputs.rollups {
                    if let rollup = (try? JSONSerialization.jsonObject(with: Data(m.value ?? []))) as? [String: Any],
                       let key = Self.identity(of: rollup) { outcome.rollups[key] = rollup }
                } else if inputs.deadLetterTopics.contains(m.topic) {
                    let header = { (name: String) in m.headers.first { $0.key == name }?.value.map { String(decoding: $0, as: UTF8.self) } ?? "?" }
                    let group = "\(m.topic.dropFirst(inputs.run.count + 1).dropLast(4)) \(header(DeadLetterHeader.processor)): \(header(DeadLetterHeader.errorType))"
                    outcome.deadLetters[group, default: (0, header(DeadLetterHeader.reason))].count += 1
                }
            }
        outcome.documents = try documentCounts()
        check(&outcome)
        return outcome
    }

    private func check(_ outcome: inout Outcome) {
        let predicted = inputs.predictedTopics
        let esDeadLetters = outcome.topicCounts[inputs.deadLetterTopics[1], default: 0]
        let logDocuments = outcome.documents.filter { $0.index.hasPrefix("logs-") }.reduce(0) { $0 + $1.count }
        let rollupDocuments = outcome.documents.filter { $0.index.hasPrefix("rollups-") }.reduce(0) { $0 + $1.count }
        let nginxRollups = outcome.rollups.keys.filter { $0.hasPrefix("nginx.") }.count
        let rollupDeadLetters = outcome.topicCounts[inputs.deadLetterTopics[2], default: 0]
        outcome.checks = [
            ("every mixed line is in the topic its rule names (or dropped as the rules say)",
             (inputs.classified + [inputs.deadLetterTopics[0]]).allSatisfy { outcome.topicCounts[$0, default: 0] == predicted[$0, default: 0] }),
            ("Elasticsearch holds one document per classified record: \(logDocuments) + \(esDeadLetters) dead-lettered = \(inputs.predictedClassified)",
             logDocuments + esDeadLetters == inputs.predictedClassified),
            ("nginx.requests counts every access record once: \(Int(total(outcome, "nginx.requests"))) of \(inputs.validAccess)",
             Int(total(outcome, "nginx.requests")) == inputs.validAccess),
            ("api.requests counts every StatsD increment once: \(Int(total(outcome, "api.requests"))) of \(inputs.apiRequestLines)",
             Int(total(outcome, "api.requests")) == inputs.apiRequestLines),
            ("Elasticsearch holds one document per nginx rollup: \(rollupDocuments) of \(nginxRollups)",
             rollupDocuments == nginxRollups && nginxRollups > 0),
            ("the rollups' dead letters are the malformed records: \(rollupDeadLetters) of \(predicted[inputs.deadLetterTopics[2], default: 0])",
             rollupDeadLetters == predicted[inputs.deadLetterTopics[2], default: 0]),
        ]
    }

    /// The sum of `count` over the last rollup of every window of `metric`.
    private func total(_ outcome: Outcome, _ metric: String) -> Double {
        outcome.rollups.values.reduce(0) { sum, r in
            r["metric"] as? String == metric ? sum + ((r["count"] as? NSNumber)?.doubleValue ?? 0) : sum
        }
    }

    /// A rollup's metric, sorted tags and window start.
    static func identity(of rollup: [String: Any]) -> String? {
        guard let metric = rollup["metric"] as? String, let start = (rollup["window"] as? [String: Any])?["start"] else { return nil }
        let tags = (rollup["tags"] as? [String: Any] ?? [:]).map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ",")
        return "\(metric) \(tags) \(start)"
    }

    /// Documents per index of the run, after a refresh.
    private func documentCounts() throws -> [(index: String, count: Int)] {
        let client = HTTPClient(settings: HTTPSettings())
        let indices = "logs-\(inputs.run)-*,rollups-\(inputs.run)-*"
        _ = client.perform(HTTPRequest(method: "POST", url: "\(esURL)/\(indices)/_refresh?allow_no_indices=true"))
        let response = client.perform(HTTPRequest(method: "GET", url: "\(esURL)/_cat/indices/\(indices)?format=json&h=index,docs.count&s=index"))
        guard case .success(let r) = response, r.status == 200,
              let rows = (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [[String: Any]] else {
            throw ValidationError("cannot list the run's indices at \(esURL): \(response)")
        }
        return rows.compactMap { row in
            guard let index = row["index"] as? String, let count = (row["docs.count"] as? String).flatMap(Int.init) else { return nil }
            return (index, count)
        }
    }

    func print(_ outcome: Outcome, families: (live: Int, missing: [String]), children: [TopologyChild], esURL: String) {
        let predicted = inputs.predictedTopics
        say("\nrecords per destination topic".padding(48) + "records".padding(10, left: true) + "predicted".padding(11, left: true))
        for topic in inputs.classified + [inputs.rollups] + inputs.deadLetterTopics {
            let want = predicted[topic].map { $0.formatted() } ?? "-"
            say("  " + topic.padding(46) + outcome.topicCounts[topic, default: 0].formatted().padding(10, left: true)
                        + want.padding(11, left: true))
        }
        say("\ndead letters by topology, processor and error type")
        for (group, letters) in outcome.deadLetters.sorted(by: { $0.key < $1.key }) {
            say("  " + group.padding(52) + letters.count.formatted().padding(7, left: true) + "  e.g. \(letters.reason.prefix(60))")
        }
        say("\nsample rollups (\(outcome.rollups.count) metric windows)")
        for line in sampleRollups(outcome) { say("  " + line) }
        say("\ndocuments per Elasticsearch index")
        for (index, count) in outcome.documents { say("  " + index.padding(58) + count.formatted().padding(9, left: true)) }
        say("\nchecks")
        for check in outcome.checks { say("  \(check.holds ? "✓" : "✗") \(check.what)") }
        say("  \(families.missing.isEmpty ? "✓" : "✗") /metrics shows \(families.live) families with samples"
                    + (families.missing.isEmpty ? ", every one the dashboards use" : "; missing: \(families.missing.joined(separator: ", "))"))
        say("\nwhere to look")
        for child in children { say("  \(child.name.padding(9)) \(child.baseURL)/metrics  \(child.baseURL)/ready  log \(child.logPath)") }
        say("  Elasticsearch \(esURL)/logs-\(inputs.run)-*/_search  \(esURL)/rollups-\(inputs.run)-*/_search")
        say("  dashboards    dashboards/ (Grafana, Prometheus alerts, Kibana saved objects)")
    }

    /// The latest window's rollup of a few metrics, one of each kind.
    private func sampleRollups(_ outcome: Outcome) -> [String] {
        let wanted = ["nginx.requests": ["count", "rate"], "nginx.duration_ms": ["count", "mean", "upper_90"],
                      "api.latency": ["count", "median", "upper_99"], "queue.depth": ["value"], "users.active": ["count"]]
        return wanted.keys.sorted().compactMap { metric in
            guard let (key, rollup) = outcome.rollups.filter({ $0.value["metric"] as? String == metric }).max(by: { $0.key < $1.key })
            else { return nil }
            let stats = wanted[metric]!.compactMap { name in (rollup[name] as? NSNumber).map { "\(name)=\($0.doubleValue.formatted(.number.precision(.fractionLength(0...2))))" } }
            return "\(key)  \(stats.joined(separator: " "))"
        }
    }
}
