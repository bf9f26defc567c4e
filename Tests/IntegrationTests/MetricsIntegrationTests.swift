import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Sluice
import SluiceExamples
import SluiceKafka
import Testing

/// The metrics endpoint, scraped while the classify topology runs against the local broker.
@Suite(.serialized, .enabled(if: Services.enabled, "needs the local broker: run scripts/test.sh"))
struct MetricsIntegrationTests {
    private func get(_ port: UInt16, _ path: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// The value of every series of `family`, summed.
    private func total(_ family: String, in text: String) -> Int {
        text.split(separator: "\n").filter { $0.hasPrefix(family + "{") }
            .compactMap { Int($0.split(separator: " ").last!) }.reduce(0, +)
    }

    @Test func theEndpointServesEverySeriesTheDashboardsQueryWithTheApplicationsCounts() async throws {
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

        let (status, text) = try await get(endpoint.port, "/metrics")
        #expect(status == 200)
        #expect(total("sluice_records_processed_total", in: text) == count)
        #expect(total("sluice_dead_letters_total", in: text) == count / 100)
        #expect(total("sluice_assigned_tasks", in: text) == 6, "two threads share the six input partitions")
        #expect(text.contains("application=\"\(run)\",thread=\"1\""))
        #expect(try await get(endpoint.port, "/other").status == 404)

        let dashboards = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../dashboards")
        let files = try FileManager.default.contentsOfDirectory(atPath: dashboards.path).filter { $0.hasSuffix(".json") }
        #expect(!files.isEmpty)
        for file in files {
            let json = try String(contentsOf: dashboards.appendingPathComponent(file), encoding: .utf8)
            let names = Set(json.matches(of: /sluice_[a-z_]+/).map { String($0.output) })
            #expect(!names.isEmpty, "\(file) queries Sluice's metrics")
            for name in names { #expect(text.contains("\n\(name){"), "\(file) queries \(name), which /metrics must serve") }
        }
        app.stop()
        try #require(try app.wait(timeout: .seconds(180)), "the application drains and stops")
        let after = try await get(endpoint.port, "/metrics").body
        #expect(total("sluice_commits_total", in: after) > 0, "stopping commits")
        #expect(total("sluice_assigned_tasks", in: after) == 0)
    }
}
