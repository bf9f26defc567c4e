import Foundation
import Sluice
import SluiceExamples
import SluiceKafka
import Testing

/// The classify example against the real broker the test script started.
@Suite(.serialized, .enabled(if: Services.enabled, "needs the local broker: run scripts/test.sh"))
struct ClassifyIntegrationTests {
    @Test func twoHundredThousandRecordsWithTwoThreadsLandEachInExactlyTheDestinationItsRuleNames() throws {
        let run = Services.unique("classify")
        let input = "\(run)-in", prefix = "\(run)-", count = 200_000
        let config = Services.streamsConfig(run, threads: 2)
        try Services.createClassifyTopics(input: input, prefix: prefix, dlq: config.effectiveDeadLetterTopic)
        let generator = NginxLogGenerator(seed: 11, malformedEvery: 1000)
        try generator.produce(0..<count, topic: input, partitions: 6, config: Services.kafka, logger: Services.logger)

        let app = try runUntilProcessed(count, input: input, prefix: prefix, config: config, timeout: .seconds(300))
        try #require(try app.wait(timeout: .seconds(180)), "the application drains and stops")
        #expect(app.processedCount == count)

        var placement = Placement(generator: generator, count: count, prefix: prefix, dlq: config.effectiveDeadLetterTopic)
        try placement.collect(timeout: .seconds(60))
        print("classify 200k: \(placement.seen.mapValues(\.count)), duplicates \(placement.duplicates)")
        #expect(placement.missing.isEmpty, "missing \(placement.missing.prefix(5))")
        #expect(placement.misplaced.isEmpty, "misplaced \(placement.misplaced.prefix(5))")
        #expect(placement.duplicates == 0)
        #expect(placement.seen[config.effectiveDeadLetterTopic]?.count == count / 1000)
    }

    /// The poll waits up to ten minutes, far past the time limit: a stop
    /// that waited for the poll to end by itself fails the test.
    @Test(.timeLimit(.minutes(1)))
    func aStopEndsTheStreamThreadsPollRatherThanWaitingOutItsTimeout() throws {
        let run = Services.unique("stop")
        let input = "\(run)-in", prefix = "\(run)-"
        var config = Services.streamsConfig(run)
        config.pollTimeout = .seconds(600)
        try Services.createClassifyTopics(input: input, prefix: prefix, dlq: config.effectiveDeadLetterTopic, partitions: 1)
        let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
        try producer.send(topic: input, key: nil, value: Array(#"{"status":200,"path":"/"}"#.utf8))
        try producer.flush(timeout: .seconds(30))

        let app = try runUntilProcessed(1, input: input, prefix: prefix, config: config, timeout: .seconds(50))
        try app.wait()
        #expect(app.processedCount == 1)
    }

    @Test func aRecordThatIsNotJSONReachesTheDeadLetterTopicWithItsReasonAndSourceWhileTheRunContinues() throws {
        let run = Services.unique("dlq")
        let input = "\(run)-in", prefix = "\(run)-"
        let config = Services.streamsConfig(run)
        try Services.createClassifyTopics(input: input, prefix: prefix, dlq: config.effectiveDeadLetterTopic, partitions: 1)
        let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
        try producer.send(topic: input, key: Array("good-1".utf8), value: Array(#"{"status":200,"path":"/"}"#.utf8))
        try producer.send(topic: input, key: Array("bad".utf8), value: Array("GET / HTTP/1.1 not json".utf8),
                          headers: [KafkaHeader("origin", "edge-7")])
        try producer.send(topic: input, key: Array("good-2".utf8), value: Array(#"{"status":502,"path":"/"}"#.utf8))
        try producer.flush(timeout: .seconds(30))

        let app = try runUntilProcessed(3, input: input, prefix: prefix, config: config)
        try #require(try app.wait(timeout: .seconds(180)), "the application drains and stops")

        var dead: [KafkaMessage] = [], outputs: [String] = []
        try TopicReader(config: Services.kafka, logger: Services.logger).read([config.effectiveDeadLetterTopic]) { dead.append($0) }
        try TopicReader(config: Services.kafka, logger: Services.logger).read([prefix + "other", prefix + "errors"]) {
            outputs.append(String(decoding: $0.key ?? [], as: UTF8.self))
        }
        #expect(Set(outputs) == ["good-1", "good-2"], "the run went on after the bad record")
        let record = try #require(dead.first)
        #expect(dead.count == 1)
        #expect(record.value == Array("GET / HTTP/1.1 not json".utf8))
        #expect(record.headers.string("origin") == "edge-7")
        #expect(record.headers.string(DeadLetterHeader.reason)?.contains("invalid JSON") == true)
        #expect(record.headers.string(DeadLetterHeader.processor) == "parse")
        #expect(record.headers.string(DeadLetterHeader.sourceTopic) == input)
        #expect(record.headers.string(DeadLetterHeader.sourcePartition) == "0")
        #expect(record.headers.string(DeadLetterHeader.sourceOffset) == "1")
        #expect(app.deadLetterCount == 1)
    }

    /// Runs the classify topology on `input` until it has processed `count`
    /// records (or `timeout` passed), then asks it to stop.
    private func runUntilProcessed(_ count: Int, input: String, prefix: String, config: StreamsConfig,
                                   timeout: Duration = .seconds(120)) throws -> StreamApplication {
        let app = try StreamApplication(topology: NginxClassify.topology(input: input, outputPrefix: prefix),
                                        config: config, logger: Services.logger)
        app.start()
        app.waitUntilProcessed(count, timeout: timeout)
        app.stop()
        return app
    }
}
