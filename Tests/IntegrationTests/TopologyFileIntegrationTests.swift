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
    static let example = topologies.appendingPathComponent("nginx-json-classify.yaml").path
    /// Every example topology file.
    static let examples = ((try? FileManager.default.contentsOfDirectory(atPath: topologies.path)) ?? [])
        .filter { $0.hasSuffix(".yaml") }.sorted().map { topologies.appendingPathComponent($0).path }

    @Test func sluiceRunOnTheYAMLExamplePutsEveryRecordWhereTheSwiftRulesSayAndExitsCleanlyOnSIGTERM() throws {
        let run = Services.unique("yaml-classify")
        let input = "\(run)-in", prefix = "\(run)-", count = 20_000
        let dlq = "\(run)-dlq"
        try Services.createClassifyTopics(input: input, prefix: prefix, dlq: dlq)
        let generator = NginxLogGenerator(seed: 5, malformedEvery: 500)
        try generator.produce(0..<count, topic: input, partitions: 6, config: Services.kafka, logger: Services.logger)

        let process = try TopologyProcess(
            ["run", Self.example, "--bootstrap", Services.bootstrap, "--state-dir", Services.temporaryDirectory(), "--log-level", "info"]
                + Services.groupTimings.flatMap { ["--kafka", "\($0.key)=\($0.value)"] },
            logPath: Services.temporaryDirectory() + "/sluice-run.log", executable: "sluice",
            environment: ["NGINX_APPLICATION_ID": run, "NGINX_INPUT": input, "NGINX_OUTPUT_PREFIX": prefix])
        var placement = Placement(generator: generator, count: count, prefix: prefix, dlq: dlq)
        try placement.collect(timeout: .seconds(180))
        process.signal(SIGTERM)
        let status = process.wait()

        print("sluice run (YAML) 20k: \(placement.seen.mapValues(\.count)), duplicates \(placement.duplicates)")
        #expect(status == 0, "log:\n\(process.log.suffix(2000))")
        #expect(placement.missing.isEmpty, "missing \(placement.missing.prefix(5))")
        #expect(placement.misplaced.isEmpty, "misplaced \(placement.misplaced.prefix(5))")
        #expect(placement.seen[dlq]?.count == count / 500)
    }
}
