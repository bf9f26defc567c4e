import Foundation
import Sluice
import SluiceExamples
import SluiceKafka
import SluiceSinks
import SluiceTransforms
import Testing

/// The example pipeline end to end: `nginx-classify.yaml` splits a mixed
/// stream into topics and `logs-to-elasticsearch.yaml` indexes them, both
/// run by `sluice run` on the real broker and Elasticsearch.
extension ElasticsearchSinkIntegrationTests {
    @Test func theExampleTopologiesIndexEveryClassifiedLineIntoItsDatasetsDailyIndex() throws {
        let run = Services.unique("es-chain")
        let input = "\(run)-in", prefix = "\(run)-", dlq = "\(run)-dlq", count = 5_000
        let generator = MixedLogGenerator(seed: 11, malformedEvery: 100)
        let placement = Placement(generator: generator, count: count, prefix: prefix, dlq: dlq)
        try Services.Broker.local.createTopics(([input] + placement.topics).map { NewTopic($0, partitions: 2) })
        try generator.produce(0..<count, topic: input, partitions: 2, create: false, config: Services.kafka, logger: Services.logger)
        let indexed = placement.expected.values.filter { $0 != dlq }.count

        let directory = Services.temporaryDirectory()
        let common = ["--bootstrap", Services.bootstrap, "--log-level", "info"]
            + Services.groupTimings.flatMap { ["--kafka", "\($0.key)=\($0.value)"] }
        let topologies = TopologyFileIntegrationTests.topologies
        let classify = try TopologyProcess(
            ["run", topologies.appendingPathComponent("nginx-classify.yaml").path, "--state-dir", directory + "/c"] + common,
            logPath: directory + "/classify.log", executable: "sluice",
            environment: ["NGINX_APPLICATION_ID": run, "NGINX_INPUT": input, "NGINX_OUTPUT_PREFIX": prefix])
        defer { classify.signal(SIGKILL) }
        let index = try TopologyProcess(
            ["run", topologies.appendingPathComponent("logs-to-elasticsearch.yaml").path, "--state-dir", directory + "/e"] + common,
            logPath: directory + "/index.log", executable: "sluice",
            environment: ["ES_INDEX_APPLICATION_ID": "\(run)-es", "ES_INPUT_PREFIX": prefix, "ES_INDEX_PREFIX": run])
        defer { index.signal(SIGKILL) }

        let deadline = ContinuousClock.now + .seconds(240)
        var total = 0
        while total < indexed, ContinuousClock.now < deadline {
            pause(1)
            total = (try? es.count("\(run)-*")) ?? 0
        }
        for process in [classify, index] { process.signal(SIGTERM) }
        #expect(classify.wait() == 0, "\(classify.log.suffix(1500))")
        #expect(index.wait() == 0, "\(index.log.suffix(1500))")
        #expect(total == indexed, "every classified line is one document")
        let datasets = try ["nginx.access", "nginx.error", "app"].map { try es.count("\(run)-\($0)-*") }
        print("es-chain: \(indexed) documents, per dataset \(datasets)")
        #expect(datasets.reduce(0, +) == indexed, "each document is in its dataset's index")
        #expect(datasets.allSatisfy { $0 > 0 })
        let mapping = try es.call("GET", "/\(run)-nginx.access-*/_mapping/field/http.response.status_code").text
        #expect(mapping.contains(#""type":"integer""#), "the template's mapping applies: \(mapping)")
        #expect(index.log.contains("index template installed"))
    }
}
