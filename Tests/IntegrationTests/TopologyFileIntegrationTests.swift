import Foundation
import Sluice
import SluiceExamples
import SluiceKafka
import Testing

/// `sluice run` on the shipped YAML topology, against the real broker.
@Suite(.serialized, .enabled(if: Services.enabled, "needs the local broker: run scripts/test.sh"))
struct TopologyFileIntegrationTests {
    static let topologies = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../topologies").standardized
    /// Every example topology file.
    static let examples = ((try? FileManager.default.contentsOfDirectory(atPath: topologies.path)) ?? [])
        .filter { $0.hasSuffix(".yaml") }.sorted().map { topologies.appendingPathComponent($0).path }

    @Test func sluiceRunOnTheYAMLExamplePutsEveryRecordWhereTheSwiftRulesSayAndExitsCleanlyOnSIGTERM() throws {
        let run = Services.unique("yaml-classify")
        let input = "\(run)-in", prefix = "\(run)-", count = 20_000
        try Services.createClassifyTopics(input: input, prefix: prefix, dlq: "\(run)-dlq")
        let generator = NginxLogGenerator(seed: 5, malformedEvery: 500)
        try generator.produce(0..<count, topic: input, partitions: 6, config: Services.kafka, logger: Services.logger)
        let placement = try runExample("nginx-json-classify.yaml", run: run, input: input, prefix: prefix,
                                       Placement(generator: generator, count: count, prefix: prefix, dlq: "\(run)-dlq"))
        #expect(placement.seen["\(run)-dlq"]?.count == count / 500)
    }

    @Test func sluiceRunOnTheMixedNginxExampleParsesAndSplitsEveryLineAsTheGeneratorSays() throws {
        let run = Services.unique("mixed-classify")
        let input = "\(run)-in", prefix = "\(run)-", count = 20_000, dlq = "\(run)-dlq"
        let generator = MixedLogGenerator(seed: 9, malformedEvery: 250)
        let placement = Placement(generator: generator, count: count, prefix: prefix, dlq: dlq)
        try Services.Broker.local.createTopics(([input] + placement.topics).map { NewTopic($0, partitions: 4) })
        try generator.produce(0..<count, topic: input, partitions: 4, create: false, config: Services.kafka, logger: Services.logger)
        let seen = try runExample("nginx-classify.yaml", run: run, input: input, prefix: prefix, placement)
        #expect(seen.seen[dlq]?.count == count / 250)
        #expect(seen.distinctCount == placement.expected.count, "dropped lines stay dropped")
    }

    /// Runs `sluice run` on an example file until every expected record is
    /// placed, stops it with SIGTERM and checks placement and a clean exit.
    private func runExample(_ file: String, run: String, input: String, prefix: String, _ expected: Placement) throws -> Placement {
        let process = try TopologyProcess(
            ["run", Self.topologies.appendingPathComponent(file).path, "--bootstrap", Services.bootstrap,
             "--state-dir", Services.temporaryDirectory(), "--log-level", "info"]
                + Services.groupTimings.flatMap { ["--kafka", "\($0.key)=\($0.value)"] },
            logPath: Services.temporaryDirectory() + "/sluice-run.log", executable: "sluice",
            environment: ["NGINX_APPLICATION_ID": run, "NGINX_INPUT": input, "NGINX_OUTPUT_PREFIX": prefix])
        var placement = expected
        try placement.collect(timeout: .seconds(180))
        process.signal(SIGTERM)
        let status = process.wait()
        print("sluice run \(file) \(expected.expected.count) records: \(placement.seen.mapValues(\.count)), duplicates \(placement.duplicates)")
        #expect(status == 0, "log:\n\(process.log.suffix(2000))")
        #expect(placement.missing.isEmpty, "missing \(placement.missing.prefix(5))")
        #expect(placement.misplaced.isEmpty, "misplaced \(placement.misplaced.prefix(5))")
        return placement
    }
}
