import Foundation
import Sluice
import SluiceKafka
import SluiceTransforms
import Testing

/// Windowed StatsD aggregation on the real broker: state in RocksDB, its
/// changelog, and restores after a clean restart and after the local state
/// is deleted.
@Suite(.serialized, .enabled(if: Services.enabled, "needs the local broker: run scripts/test.sh"))
struct StateRestoreIntegrationTests {
    /// Counter lines over 2 partitions and 6 windows of 10 s, then one
    /// record per partition far later that closes every window.
    private struct Input {
        let topic: String
        let count: Int
        let keys = ["web", "api", "db", "cache"]

        func line(_ i: Int) -> String { "req.\(keys[i % keys.count]):\(i % 7 + 1)|c" }
        func timestamp(_ i: Int) -> Int64 { 1_700_000_000_000 + Int64(i) * 60_000 / Int64(count) }

        /// The expected count per (key, window start), computed independently.
        var expected: [String: Double] {
            var out: [String: Double] = [:]
            for i in 0..<count {
                let start = timestamp(i) - timestamp(i) % 10_000
                out["req.\(keys[i % keys.count])@\(start)", default: 0] += Double(i % 7 + 1)
            }
            return out
        }

        func produce(_ range: Range<Int>) throws {
            let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
            for i in range {
                try producer.send(topic: topic, partition: Int32(i % 2), key: nil, value: Array(line(i).utf8),
                                  timestamp: timestamp(i))
            }
            try producer.flush(timeout: .seconds(60))
        }

        func produceClosers() throws {
            let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
            for p in 0..<2 {
                try producer.send(topic: topic, partition: Int32(p), key: nil, value: Array("closer:1|c".utf8),
                                  timestamp: timestamp(count) + 3_600_000)
            }
            try producer.flush(timeout: .seconds(60))
        }
    }

    private func topology(input: String, output: String) throws -> Topology {
        let builder = TopologyBuilder()
        builder.stream([input])
            .windowedAggregate(store: "rollups", options: WindowedAggregateOptions(windows: try .tumbling(.seconds(10))),
                               StatsDAggregator { record in
                                   StatsDLine.parse(String(decoding: record.value ?? [], as: UTF8.self)).samples
                               })
            .to(output) { result in
                let metric = StatsDAggregator<[UInt8]?>.metric(of: result.key)
                let count = result.aggregate.fields(key: metric.key, windowSeconds: 10).first { $0.name == "count" }?.value ?? -1
                return Array("\(metric.key)@\(result.start)=\(count)".utf8)
            }
        return try builder.build()
    }

    /// Runs the application until `count` records are processed, stops it
    /// cleanly, and returns how many changelog records its restores read;
    /// `watch` runs once it has started, with the port of its metrics endpoint.
    private func run(_ config: StreamsConfig, input: String, output: String, until count: Int,
                     watch: (StreamApplication, UInt16) -> Void = { _, _ in }) throws -> Int {
        let app = try StreamApplication(topology: topology(input: input, output: output), config: config, logger: Services.logger)
        let endpoint = try MetricsEndpoint(application: app, port: 0)
        defer { endpoint.close() }
        app.start()
        watch(app, endpoint.port)
        app.waitUntilProcessed(count, timeout: .seconds(180))
        app.stop()
        try #require(try app.wait(timeout: .seconds(120)), "the application drains and stops")
        return app.restoredCount
    }

    /// The last result per metric and window in the output topic.
    private func results(_ output: String) throws -> [String: Double] {
        var out: [String: Double] = [:]
        try TopicReader(config: Services.kafka, logger: Services.logger).read([output], isolation: "read_uncommitted") { m in
            let text = String(decoding: m.value ?? [], as: UTF8.self)
            guard let eq = text.lastIndex(of: "="), let value = Double(text[text.index(after: eq)...]) else { return }
            out[String(text[..<eq])] = value
        }
        return out.filter { !$0.key.hasPrefix("closer") }
    }

    @Test func aCleanRestartReadsOnlyTheChangelogTailAndADeletedStateIsRebuiltWhole() throws {
        let run = Services.unique("rollup")
        let input = Input(topic: "\(run)-in", count: 20_000)
        let output = "\(run)-out"
        try Services.Broker.local.createTopics([NewTopic(input.topic, partitions: 2), NewTopic(output, partitions: 1),
                                                NewTopic("\(run)-dlq", partitions: 1)])
        var config = Services.streamsConfig(run)
        config.commitInterval = .milliseconds(200)

        // First run: half the input; state is written and logged.
        try input.produce(0..<10_000)
        let first = try self.run(config, input: input.topic, output: output, until: 10_000)
        #expect(first == 0, "a new application has nothing to restore")

        // Second run, same state directory: the local state is intact, so
        // only changelog records written after its last position are read.
        try input.produce(10_000..<input.count)
        let second = try self.run(config, input: input.topic, output: output, until: 10_000)
        #expect(second < 100, "read \(second) changelog records for an intact local state")

        // Third run with the local state deleted: a full restore from the
        // changelog, then the closers end every window. `/ready` answers
        // 200 only once the restore is done.
        try FileManager.default.removeItem(atPath: "\(config.stateDirectory)/\(run)")
        try input.produceClosers()
        var probes: [(status: Int, body: String, restored: Int)] = []
        var storeBytes = 0
        let third = try self.run(config, input: input.topic, output: output, until: 2) { app, port in
            while probes.last?.status != 200, probes.count < 6000 {
                let (status, body) = localGet(port: port, "/ready")
                probes.append((status, body, app.restoredCount))
                pause(0.01)
            }
            // The restored store's size reaches /metrics within a second or so.
            let deadline = ContinuousClock.now + .seconds(10)
            while storeBytes == 0, ContinuousClock.now < deadline {
                pause(0.2)
                storeBytes = metricTotal("sluice_state_store_bytes", in: localGet(port: port, "/metrics").body)
            }
        }
        #expect(storeBytes > 0, "the restored store's size is served")
        #expect(third > second, "the deleted state comes back from the whole changelog")
        #expect(probes.contains { $0.status == 503 && $0.body.hasPrefix("restoring: ") })
        #expect(probes.last?.status == 200, "ready once restored: \(probes.map(\.body).suffix(3))")
        #expect(probes.filter { $0.status == 200 }.allSatisfy { $0.restored == third }, "not ready before the restore ends")
        print("rollup restore: intact restart read \(second) changelog records, deleted state read \(third)")

        let got = try results(output)
        #expect(got == input.expected, "every window's final count equals the input's")
    }
}
