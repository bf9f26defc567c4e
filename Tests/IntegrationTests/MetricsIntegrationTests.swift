import Foundation
import Sluice
import SluiceExamples
import SluiceKafka
import Testing

/// The metrics endpoint, scraped while the classify topology runs against the local broker.
@Suite(.serialized, .enabled(if: Services.enabled, "needs the local broker: run scripts/test.sh"))
struct MetricsIntegrationTests {
    @Test func theEndpointServesTheApplicationsCountsLagAndProbes() throws {
        let run = Services.unique("metrics")
        let input = "\(run)-in", prefix = "\(run)-", count = 5_000
        let config = Services.streamsConfig(run, threads: 2)
        try Services.createClassifyTopics(input: input, prefix: prefix, dlq: config.effectiveDeadLetterTopic)
        try NginxLogGenerator(seed: 3, malformedEvery: 100)
            .produce(0..<count, topic: input, partitions: 6, create: false, config: Services.kafka, logger: Services.logger)
        let app = try StreamApplication(topology: NginxClassify.topology(input: input, outputPrefix: prefix),
                                        config: config, logger: Services.logger)
        let endpoint = try MetricsEndpoint(application: app, port: 0)
        defer { endpoint.close() }
        app.start()
        #expect(app.waitUntilProcessed(count, timeout: .seconds(120)))

        // Lag, store sizes and per-node counts are brought up to date once a second.
        let lagSeries = { (text: String) in text.split(separator: "\n").filter { $0.hasPrefix("sluice_consumer_lag_records{") } }
        let deadline = ContinuousClock.now + .seconds(15)
        var lags: [Substring] = []
        while ContinuousClock.now < deadline {
            lags = lagSeries(localGet(port: endpoint.port, "/metrics").body)
            if lags.count == 6, lags.allSatisfy({ $0.hasSuffix(" 0") }) { break }
            pause(0.2)
        }
        #expect(lags.count == 6 && lags.allSatisfy { $0.hasSuffix(" 0") }, "every partition read to its end: \(lags)")

        let (status, text) = localGet(port: endpoint.port, "/metrics")
        #expect(status == 200)
        #expect(metricTotal("sluice_records_processed_total", in: text, matching: "topic=\"\(input)\"") == count)
        #expect(metricTotal("sluice_processor_records_total", in: text, matching: "processor=\"nginx-source\"") == count)
        #expect(metricTotal("sluice_paused_partitions", in: text) == 0)
        #expect(metricTotal("sluice_records_processed_total", in: text) == count)
        #expect(metricTotal("sluice_dead_letters_total", in: text) == count / 100)
        #expect(metricTotal("sluice_assigned_tasks", in: text) == 6, "two threads share the six input partitions")
        #expect(text.contains("application=\"\(run)\",thread=\"1\""))
        #expect(localGet(port: endpoint.port, "/other").status == 404)
        #expect(metricTotal("sluice_rebalances_total", in: text) >= 2, "each thread had its assignment")
        #expect(text.contains("sluice_ready{application=\"\(run)\"} 1\n"))
        #expect(localGet(port: endpoint.port, "/ready") == (200, "running\n"), "both threads have their partitions and no state")
        #expect(localGet(port: endpoint.port, "/health").status == 200)
        let rss = text.split(separator: "\n").first { $0.hasPrefix("process_resident_memory_bytes ") }
        #expect(rss.flatMap { Int($0.split(separator: " ")[1]) } ?? 0 > 10_000_000, "the process's memory: \(rss ?? "none")")
        #expect(text.contains("\nprocess_cpu_seconds_total "))

        app.stop()
        try #require(try app.wait(timeout: .seconds(180)), "the application drains and stops")
        let after = localGet(port: endpoint.port, "/metrics").body
        #expect(metricTotal("sluice_commits_total", in: after) > 0, "stopping commits")
        #expect(metricTotal("sluice_assigned_tasks", in: after) == 0)
        #expect(metricTotal("sluice_records_produced_total", in: after) == count, "one output or dead letter per input")
        #expect(metricTotal("sluice_records_produced_total", in: after, matching: "topic=\"\(config.effectiveDeadLetterTopic)\"")
                == count / 100)
        #expect(lagSeries(after).isEmpty, "no partition is owned any more")
        #expect(localGet(port: endpoint.port, "/ready") == (503, "stopped\n"))
        #expect(localGet(port: endpoint.port, "/health").status == 200, "a clean stop is no failure")
    }

    /// `script` gives `sluice run` a terminal: it redraws one status line
    /// (each draw clearing the line first) and ends with a summary.
    @Test func onATerminalSluiceRunRedrawsAStatusLineAndEndsWithASummary() throws {
        let run = Services.unique("status")
        let count = 2_000, port = 19479
        try Services.Broker.local.createTopics(
            ["mixed", "access", "alerts", "nginx-errors", "app", "dlq"].map { NewTopic("\(run)-\($0)", partitions: 2) })
        try MixedLogGenerator(seed: 3).produce(0..<count, topic: "\(run)-mixed", partitions: 2, create: false,
                                               config: Services.kafka, logger: Services.logger)
        let directory = Services.temporaryDirectory()
        let file = TopologyFileIntegrationTests.topologies.appendingPathComponent("nginx-classify.yaml").path
        let kafka = Services.groupTimings.map { "--kafka \($0.key)=\($0.value)" }.joined(separator: " ")
        // Interrupted (as by Ctrl-C) once its metrics say every record is processed.
        let shell = """
            \(binaryPath("sluice")) run \(file) --state-dir \(directory)/state --bootstrap \(Services.bootstrap) \
              --metrics-address 127.0.0.1:\(port) --log-level warning \(kafka) & pid=$!
            for i in $(seq 600); do
              curl -s 127.0.0.1:\(port)/metrics | awk '/^sluice_records_processed_total/ {n += $2} END {exit !(n >= \(count))}' && break
              sleep 0.2
            done
            sleep 1.5; kill -INT $pid; wait $pid
            """
        let environment = ProcessInfo.processInfo.environment.merging(
            ["NGINX_APPLICATION_ID": run, "NGINX_INPUT": "\(run)-mixed", "NGINX_OUTPUT_PREFIX": "\(run)-"]) { $1 }
        let terminal = try ChildProcess("/usr/bin/script", arguments: ["-qfec", shell, "/dev/null"], environment: environment,
                                        outputPath: "\(directory)/terminal")
        #expect(terminal.waitUntilExit() == 0)
        let screen = (try? String(contentsOfFile: "\(directory)/terminal", encoding: .utf8)) ?? ""
        let draws = screen.components(separatedBy: "\r\u{1B}[K").dropFirst()
        #expect(draws.contains { $0.range(of: #"^[0-9,]+ records/s · lag [0-9,]+ · [0-9,]+ dead letters"#, options: .regularExpression) != nil },
                "a status line is drawn over the last: \(screen.suffix(800).debugDescription)")
        #expect(draws.last?.hasPrefix("sluice run: processed \(count.formatted()) records in ") == true,
                "the summary replaces it at exit: \(screen.suffix(400).debugDescription)")
    }
}
