import Foundation
import SluiceKafka
import SluiceTransforms
import Testing

/// An aggregate step over StatsD lines that arrive on every partition
/// (producers that do not key by metric), run by `sluice run` on the real
/// broker: the samples go through the step's repartition topic keyed by
/// metric, so each window's rollup counts every partition's samples once,
/// even across a kill -9 in the middle (the upstream positions kept in the
/// state pass over what is sent again).
@Suite(.serialized, .enabled(if: Services.enabled, "needs the local broker: run scripts/test.sh"))
struct RepartitionIntegrationTests {
    private static let base: Int64 = 1_700_000_000_000
    private static let services = ["web", "api", "auth"]
    private static let lines = 9_000

    /// Counter lines over 30 s of event time (three 10 s windows); line `i`
    /// goes to partition `i % 3`, so every service is on every partition.
    private func line(_ i: Int) -> String { "api.hits:\(i % 4 + 1)|c|#svc:\(Self.services[i / 3 % 3])" }
    private func time(_ i: Int) -> Int64 { Self.base + Int64(i) * 30_000 / Int64(Self.lines) }

    @Test func samplesOfOneMetricOnEveryPartitionRollUpOnceEachAcrossAKill() throws {
        let run = Services.unique("repartition")
        let directory = Services.temporaryDirectory()
        try Services.Broker.local.createTopics([NewTopic("\(run)-in", partitions: 3), NewTopic("\(run)-out", partitions: 1),
                                                NewTopic("\(run)-dlq", partitions: 1)])
        let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
        for i in 0..<Self.lines {
            try producer.send(topic: "\(run)-in", partition: Int32(i % 3), key: nil, value: Array(line(i).utf8), timestamp: time(i))
        }
        try producer.flush(timeout: .seconds(60))

        let file = directory + "/repartition.yaml"
        try """
            application: \(run)
            sources: [{ name: statsd, topics: ['\(run)-in'], format: statsd }]
            destinations: { rollups: { topic: '\(run)-out' } }
            steps:
              - { name: hits, aggregate: { window: 10s, grace: 10m, idle_close: 5s, to: rollups } }
            """.write(toFile: file, atomically: true, encoding: .utf8)
        var instance = 0
        func start() throws -> TopologyProcess {
            instance += 1
            return try TopologyProcess(
                ["run", file, "--bootstrap", Services.bootstrap, "--state-dir", directory + "/state", "--log-level", "info"]
                    + Services.groupTimings.flatMap { ["--kafka", "\($0.key)=\($0.value)"] },
                logPath: "\(directory)/\(instance).log", executable: "sluice")
        }

        // Killed once a third of the samples went through the repartition topic.
        let first = try start()
        defer { first.signal(SIGKILL) }
        // Reading the topic before sluice creates it would make the broker create it.
        let started = ContinuousClock.now + .seconds(60)
        while logEvents("stream thread started", in: first.log).isEmpty, ContinuousClock.now < started { pause(0.2) }
        var repartitioned = 0
        try TopicReader(config: Services.kafka, logger: Services.logger)
            .read(["\(run)-hits-repartition"], idle: .seconds(60), timeout: .seconds(90), isolation: "read_uncommitted",
                  until: { repartitioned >= Self.lines / 3 }) { _ in repartitioned += 1 }
        try #require(repartitioned >= Self.lines / 3, "samples reach the repartition topic: \(first.log.suffix(1500))")
        first.signal(SIGKILL)
        #expect(first.wait() == SIGKILL)

        var expected: [String: Double] = [:]
        for i in 0..<Self.lines {
            let t = time(i)
            expected["\(Self.services[i / 3 % 3]) \(iso8601(milliseconds: t - t % 10_000))", default: 0] += Double(i % 4 + 1)
        }
        let last = try start()
        defer { last.signal(SIGKILL) }
        var rollups: [String: [Double]] = [:]
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline, rollups.count < expected.count {
            pause(1)
            rollups = [:]
            try TopicReader(config: Services.kafka, logger: Services.logger)
                .read(["\(run)-out"], idle: .seconds(1), isolation: "read_uncommitted") { m in
                    guard case .object(let r)? = try? JSONParser.parse(m.value ?? []), case .object(let tags)? = r["tags"],
                          case .object(let window)? = r["window"], case .string(let start)? = window["start"],
                          let svc = tags["svc"]?.text, let count = r["count"]?.number else { return }
                    rollups["\(svc) \(start)", default: []].append(count)
                }
        }
        last.signal(SIGTERM)
        #expect(last.wait() == 0, "\(last.log.suffix(1500))")
        let total = try TopicReader(config: Services.kafka, logger: Services.logger)
            .read(["\(run)-hits-repartition"], idle: .seconds(2), isolation: "read_uncommitted") { _ in }
        print("repartition: \(repartitioned) samples repartitioned before the kill, \(total) in all (\(total - Self.lines) sent again after it); rollups per window: \(rollups.sorted { $0.key < $1.key })")
        #expect(total >= Self.lines, "every sample went through the repartition topic")
        #expect(Set(rollups.keys) == Set(expected.keys), "one rollup per service and window")
        for (key, want) in expected {
            #expect(rollups[key]?.last == want, "\(key): the last rollup counts every partition's samples once: \(rollups[key] ?? [])")
        }
    }
}
