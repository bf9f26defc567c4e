import Foundation
import SluiceKafka
import Synchronization
import Testing

/// The Kafka layer against the real broker the test script started.
@Suite(.serialized, .enabled(if: Services.enabled, "needs the local broker: run scripts/test.sh"))
struct KafkaLayerIntegrationTests {
    let admin: KafkaAdmin

    init() throws { admin = try KafkaAdmin(config: Services.kafka, logger: Services.logger) }

    private func consumer(_ group: String = Services.unique("g")) throws -> KafkaConsumer {
        var config = Services.kafka.merging(KafkaConfig(Services.groupTimings))
        config["group.id"] = group
        return try KafkaConsumer(config: config, logger: Services.logger)
    }

    /// Polls until `count` records arrived or `timeout` passed.
    private func poll(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(30)) throws -> [KafkaMessage] {
        var all: [KafkaMessage] = [], batch: [KafkaMessage] = []
        let deadline = ContinuousClock.now + timeout
        while all.count < count, ContinuousClock.now < deadline {
            try consumer.poll(maxMessages: 500, timeout: .milliseconds(200), into: &batch)
            all += batch
        }
        return all
    }

    @Test(arguments: [KafkaConfig.Compression.lz4, .zstd])
    func recordsRoundTripWithKeyHeadersTimestampAndNullsUnderCompression(_ codec: KafkaConfig.Compression) throws {
        let topic = Services.unique("roundtrip")
        try admin.createTopics([NewTopic(topic, partitions: 1)])
        var config = Services.kafka
        config.compression = codec
        config.lingerMilliseconds = 50
        let producer = try KafkaProducer(config: config, logger: Services.logger)
        try producer.send(topic: topic, key: Array("k".utf8), value: Array("v".utf8),
                          headers: [KafkaHeader("a", "1"), KafkaHeader("nil", nil), KafkaHeader("a", "2")], timestamp: 1_700_000_000_123)
        try producer.send(topic: topic, key: nil, value: nil)
        try producer.send(topic: topic, key: nil, value: [])
        try producer.flush(timeout: .seconds(30))
        #expect(producer.deliveredCount == 3)
        #expect(producer.inFlightCount == 0)
        #expect(producer.takeSentCounts() == [topic: 3])
        #expect(producer.takeSentCounts().isEmpty, "each record is reported once")

        let c = try consumer()
        try c.assign([TopicPartitionOffset(TopicPartition(topic, 0), TopicPartitionOffset.beginning)])
        let got = try poll(c, count: 3)
        try #require(got.count == 3)
        #expect(got[0].key == Array("k".utf8) && got[0].value == Array("v".utf8))
        #expect(got[0].headers == [KafkaHeader("a", "1"), KafkaHeader("nil", nil), KafkaHeader("a", "2")])
        #expect(got[0].headers.string("a") == "2")
        #expect(got[0].timestamp == 1_700_000_000_123)
        #expect(got[1].key == nil && got[1].value == nil, "a tombstone stays a tombstone")
        #expect(got[2].value == [], "an empty value is not a tombstone")
        #expect(got.map(\.offset) == [0, 1, 2])
        #expect(c.highWatermarks([TopicPartition(topic, 0), TopicPartition(topic, 7)]) == [TopicPartition(topic, 0): 3],
                "the fetched partition's end as the broker reported it; nothing for one never fetched")
    }

    // The polls below wait up to ten minutes, far past the time limit: one
    // that waited out its timeout fails the test rather than passing late.

    @Test(.timeLimit(.minutes(1)))
    func aPollReturnsTheRecordsThereRatherThanWaitingToFillItsBatch() throws {
        let topic = Services.unique("prompt")
        try admin.createTopics([NewTopic(topic, partitions: 1)])
        let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
        for i in 0..<3 { try producer.send(topic: topic, key: nil, value: Array("r\(i)".utf8)) }
        try producer.flush(timeout: .seconds(30))

        let c = try consumer()
        try c.assign([TopicPartitionOffset(TopicPartition(topic, 0), TopicPartitionOffset.beginning)])
        var got: [KafkaMessage] = [], batch: [KafkaMessage] = []
        while got.count < 3 {
            try c.poll(maxMessages: 500, timeout: .seconds(600), into: &batch)
            got += batch
        }
        #expect(got.map(\.offset) == [0, 1, 2])
    }

    @Test(.timeLimit(.minutes(1)))
    func aWakeupFromAnotherThreadEndsAPollThatHasNothingToReturn() throws {
        let topic = Services.unique("wakeup")
        try admin.createTopics([NewTopic(topic, partitions: 1)])
        let c = try consumer()
        try c.assign([TopicPartitionOffset(TopicPartition(topic, 0), TopicPartitionOffset.beginning)])
        // The spawned thread polls; this one only wakes it, which the consumer allows from any thread.
        nonisolated(unsafe) let shared = c
        let returned = DispatchSemaphore(value: 0)
        let polled = Mutex<Int?>(nil)
        Thread {
            var batch: [KafkaMessage] = []
            let count = (try? shared.poll(maxMessages: 500, timeout: .seconds(600), into: &batch)).map { batch.count }
            polled.withLock { $0 = count }
            returned.signal()
        }.start()
        // Most likely while the poll waits; a wakeup before it starts ends it as well.
        Thread.sleep(forTimeInterval: 0.5)
        c.wakeup()
        returned.wait()
        #expect(polled.withLock { $0 } == 0, "the poll returned, empty and without an error")
    }

    @Test func createdTopicsHaveTheirPartitionsAndAnExistingTopicIsNoError() throws {
        let topic = Services.unique("layout")
        try admin.createTopics([NewTopic(topic, partitions: 4, configs: ["cleanup.policy": "compact"])])
        try admin.createTopics([NewTopic(topic, partitions: 4)], ifNotExists: true)
        #expect(throws: KafkaError.self) { try admin.createTopics([NewTopic(topic, partitions: 4)], ifNotExists: false) }
        #expect(try admin.describe(topic: topic).partitions.map(\.id) == [0, 1, 2, 3])
    }

    @Test func deletedTopicsAreGoneFromTheListingAndDeletingAMissingTopicIsNoError() throws {
        let prefix = Services.unique("delete") + "-"
        try admin.createTopics([NewTopic(prefix + "a", partitions: 1), NewTopic(prefix + "b", partitions: 2)])
        #expect(try admin.topics(startingWith: prefix) == [prefix + "a", prefix + "b"])
        try admin.deleteTopics([prefix + "a", prefix + "never-made"])
        let deadline = ContinuousClock.now + .seconds(10)
        while try admin.topics(startingWith: prefix).count > 1, ContinuousClock.now < deadline { pause(0.2) }
        #expect(try admin.topics(startingWith: prefix) == [prefix + "b"])
    }

    @Test func committedOffsetsAreExactlyTheExplicitOnesAndSurviveANewMember() throws {
        let topic = Services.unique("commits"), group = Services.unique("g")
        try admin.createTopics([NewTopic(topic, partitions: 2)])
        let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
        for i in 0..<10 { try producer.send(topic: topic, partition: Int32(i % 2), key: nil, value: Array("\(i)".utf8)) }
        try producer.flush(timeout: .seconds(30))
        let first = try consumer(group)
        try first.subscribe([topic])
        _ = try poll(first, count: 10)
        try first.commit([TopicPartitionOffset(TopicPartition(topic, 0), 3), TopicPartitionOffset(TopicPartition(topic, 1), 5)])
        first.close()

        let second = try consumer(group)
        let committed = try second.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout: .seconds(10))
        #expect(committed.map(\.offset) == [3, 5])
        try second.subscribe([topic])
        let replayed = try poll(second, count: 2)
        #expect(replayed.map(\.offset).sorted() == [3, 4], "a new member resumes at the committed offsets")
    }

    @Test func aPausedPartitionDeliversNothingUntilResumed() throws {
        let topic = Services.unique("pause")
        try admin.createTopics([NewTopic(topic, partitions: 2)])
        let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
        for i in 0..<20 { try producer.send(topic: topic, partition: Int32(i % 2), key: nil, value: Array("\(i)".utf8)) }
        try producer.flush(timeout: .seconds(30))
        let c = try consumer()
        let p0 = TopicPartition(topic, 0), p1 = TopicPartition(topic, 1)
        try c.assign([TopicPartitionOffset(p0, TopicPartitionOffset.beginning), TopicPartitionOffset(p1, TopicPartitionOffset.beginning)])
        try c.pause([p1])
        let first = try poll(c, count: 20, timeout: .seconds(5))
        #expect(Set(first.map(\.partition)) == [0])
        #expect(first.count == 10)
        try c.resume([p1])
        let rest = try poll(c, count: 10)
        #expect(Set(rest.map(\.partition)) == [1])
        #expect(rest.count == 10)
    }

    @Test func aPatternSubscriptionReadsEveryMatchingTopic() throws {
        let prefix = Services.unique("pat")
        try admin.createTopics([NewTopic("\(prefix)-a", partitions: 1), NewTopic("\(prefix)-b", partitions: 1),
                                NewTopic("\(prefix)x-c", partitions: 1)])
        let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
        for t in ["\(prefix)-a", "\(prefix)-b", "\(prefix)x-c"] { try producer.send(topic: t, key: nil, value: Array(t.utf8)) }
        try producer.flush(timeout: .seconds(30))
        let c = try consumer()
        try c.subscribe(["^\(prefix)-.*"])
        let got = try poll(c, count: 2) + poll(c, count: 1, timeout: .seconds(2))
        #expect(Set(got.map(\.topic)) == ["\(prefix)-a", "\(prefix)-b"])
        #expect(got.count == 2)
    }

    @Test func aClosedDeliveryEpochIsAcknowledgedOnceTheBrokerHasEveryRecordOfIt() throws {
        let topic = Services.unique("epochs")
        try admin.createTopics([NewTopic(topic, partitions: 3)])
        let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
        for i in 0..<1000 { try producer.send(topic: topic, key: Array("k\(i)".utf8), value: Array("\(i)".utf8)) }
        let epoch = producer.closeEpoch()
        #expect(producer.acknowledgedEpoch < epoch, "nothing is acknowledged before the broker answers")
        let deadline = ContinuousClock.now + .seconds(30)
        while producer.acknowledgedEpoch < epoch, ContinuousClock.now < deadline { producer.poll(timeout: .milliseconds(50)) }
        #expect(producer.acknowledgedEpoch == epoch)
        #expect(producer.deliveredCount == 1000)
    }

    @Test func anEpochWithAnUndeliverableRecordIsNeverAcknowledged() throws {
        let producer = try KafkaProducer(config: KafkaConfig(["bootstrap.servers": "127.0.0.1:9", "message.timeout.ms": "1000",
                                                              "enable.idempotence": "false"]), logger: Services.logger)
        try producer.send(topic: "nowhere", key: nil, value: Array("x".utf8))
        let epoch = producer.closeEpoch()
        #expect(throws: KafkaError.self) { try producer.flush(timeout: .seconds(20)) }
        #expect(producer.acknowledgedEpoch < epoch)
    }

    @Test func aRecordThatCannotBeDeliveredSurfacesAsATypedErrorFromFlush() throws {
        var config = KafkaConfig(["bootstrap.servers": "127.0.0.1:9", "message.timeout.ms": "1500"])
        config["enable.idempotence"] = "false"
        let producer = try KafkaProducer(config: config, logger: Services.logger)
        try producer.send(topic: "nowhere", key: nil, value: Array("x".utf8))
        #expect { try producer.flush(timeout: .seconds(20)) } throws: { error in
            guard let e = error as? KafkaError else { return false }
            return e.name == "_MSG_TIMED_OUT" && e.message.contains("nowhere")
        }
        #expect(producer.failedCount == 1)
    }

    @Test func flushGivesUpAfterItsTimeoutWithRecordsStillInFlight() throws {
        let producer = try KafkaProducer(config: KafkaConfig(["bootstrap.servers": "127.0.0.1:9"]), logger: Services.logger)
        try producer.send(topic: "nowhere", key: nil, value: Array("x".utf8))
        #expect { try producer.flush(timeout: .milliseconds(300)) } throws: { ($0 as? KafkaError)?.isTimeout == true }
        #expect(producer.inFlightCount == 1)
    }
}
