import Logging
import SluiceKafka
import Synchronization
@testable import Sluice

/// A scripted consumer: one log per partition, positions, committed offsets,
/// and a group of one member that gets every partition it is told about.
final class FakeConsumer: ConsumerClient, @unchecked Sendable {
    weak var rebalanceListener: KafkaRebalanceListener?
    var logs: [TopicPartition: [KafkaMessage]] = [:]
    var positions: [TopicPartition: Int64] = [:]
    var committedOffsets: [TopicPartition: Int64] = [:]
    var assigned: Set<TopicPartition> = []
    var pendingAssignment: [TopicPartition] = []
    var events: [String] = []

    func append(_ topic: String, _ partition: Int32, _ value: String, timestamp: Int64? = nil) {
        let tp = TopicPartition(topic, partition)
        let offset = Int64(logs[tp]?.count ?? 0)
        logs[tp, default: []].append(KafkaMessage(topic: topic, partition: partition, offset: offset, key: nil,
                                                  value: Array(value.utf8), timestamp: timestamp ?? 1000 + offset))
    }

    func subscribe(_ topics: [String]) throws {
        events.append("subscribe")
        pendingAssignment = logs.keys.sorted()
    }

    func unsubscribe() throws {
        events.append("unsubscribe")
        let revoked = assigned.sorted()
        rebalanceListener?.partitionsRevoked(revoked)
        assigned.removeAll()
    }

    func poll(maxMessages: Int, timeout: Duration, into messages: inout [KafkaMessage]) throws {
        messages.removeAll()
        if !pendingAssignment.isEmpty {
            let newly = pendingAssignment
            pendingAssignment = []
            rebalanceListener?.partitionsAssigned(newly)
            for tp in newly {
                assigned.insert(tp)
                positions[tp] = committedOffsets[tp] ?? 0
            }
        }
        for tp in assigned.sorted() where !pausedPartitions.contains(tp) {
            let log = logs[tp, default: []]
            while messages.count < maxMessages, let p = positions[tp], p < log.count {
                messages.append(log[Int(p)])
                positions[tp] = p + 1
            }
        }
    }

    /// Its poll never waits.
    func wakeup() {}

    func commit(_ offsets: [TopicPartitionOffset], async: Bool) throws {
        events.append("commit\(async ? " async" : "") \(offsets)")
        for o in offsets { committedOffsets[o.topicPartition] = o.offset }
    }

    func committed(_ partitions: [TopicPartition], timeout: Duration) throws -> [TopicPartitionOffset] {
        partitions.map { TopicPartitionOffset($0, committedOffsets[$0] ?? TopicPartitionOffset.invalid) }
    }

    func seek(_ offsets: [TopicPartitionOffset], timeout: Duration) throws {
        events.append("seek \(offsets)")
        for o in offsets { positions[o.topicPartition] = max(0, o.offset) }
    }

    var pausedPartitions: Set<TopicPartition> = []

    func pause(_ partitions: [TopicPartition]) throws {
        events.append("pause \(partitions.sorted())")
        pausedPartitions.formUnion(partitions)
    }

    func resume(_ partitions: [TopicPartition]) throws {
        events.append("resume \(partitions.sorted())")
        pausedPartitions.subtract(partitions)
    }
    func groupMetadata() -> ConsumerGroupMetadata { ConsumerGroupMetadata(groupID: "fake") }

    func highWatermarks(_ partitions: [TopicPartition]) -> [TopicPartition: Int64] {
        Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(logs[$0]?.count ?? 0)) })
    }

    func close() {
        events.append("close")
        rebalanceListener?.partitionsRevoked(assigned.sorted())
        assigned.removeAll()
    }
}

/// A producer that records every call, with failures to inject. Sent
/// records count as acknowledged at the next flush or commit.
final class RecordingProducer: ProducerClient, @unchecked Sendable {
    var events: [String] = []
    var failNextCommit: KafkaError?
    var failNextSend: KafkaError?
    var deliveryFailure: KafkaError?
    var sentHeaders: [[KafkaHeader]] = []
    let transactionalID: String?
    /// The consumer whose group the transaction's offsets commit to.
    let group: FakeConsumer
    private var pendingOffsets: [TopicPartitionOffset] = []

    init(transactionalID: String?, group: FakeConsumer) {
        self.transactionalID = transactionalID
        self.group = group
    }

    func send(topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], timestamp: Int64?,
              trackOffset: Bool) throws {
        if let e = failNextSend { failNextSend = nil; throw e }
        events.append("send \(topic) \(String(decoding: value ?? [], as: UTF8.self))")
        sentHeaders.append(headers)
        sentCounts[topic, default: 0] += 1
        if trackOffset, let partition {
            let tp = TopicPartition(topic, partition)
            let offset = changelogs.append(KafkaMessage(topic: topic, partition: partition, offset: 0, key: key, value: value,
                                                        timestamp: timestamp ?? 0, headers: headers))
            tracked.append((epoch, tp, offset))
        }
    }

    private var sentCounts: [String: Int] = [:]

    func takeSentCounts() -> [String: Int] {
        defer { sentCounts = [:] }
        return sentCounts
    }

    /// Where tracked records (changelog changes) are kept.
    var changelogs = FakeChangelogs()
    private var tracked: [(epoch: Int, tp: TopicPartition, offset: Int64)] = []

    func deliveredOffsets(through epoch: Int) -> [TopicPartition: Int64] {
        var out: [TopicPartition: Int64] = [:]
        for t in tracked where t.epoch <= epoch { out[t.tp] = max(out[t.tp] ?? -1, t.offset) }
        tracked.removeAll { $0.epoch <= epoch }
        return out
    }

    /// Records sent count as acknowledged at the next poll unless this is set.
    var withholdAcknowledgements = false
    private var epoch = 1
    private var acknowledged = 0
    private var closedEpochs: [Int] = []

    func poll(timeout: Duration) -> Int {
        if !withholdAcknowledgements, let last = closedEpochs.last { acknowledged = last }
        return 0
    }

    func checkDeliveries() throws {
        if let e = deliveryFailure { throw e }
    }

    func closeEpoch() -> Int {
        closedEpochs.append(epoch)
        epoch += 1
        return epoch - 1
    }

    var acknowledgedEpoch: Int { acknowledged }

    func flush(timeout: Duration) throws {
        events.append("flush")
        if let e = deliveryFailure { throw e }
    }

    func initTransactions(timeout: Duration) throws { events.append("init") }
    func beginTransaction() throws { events.append("begin") }

    func sendOffsetsToTransaction(_ offsets: [TopicPartitionOffset], groupMetadata: ConsumerGroupMetadata, timeout: Duration) throws {
        events.append("offsets \(offsets)")
        pendingOffsets += offsets
    }

    func commitTransaction(timeout: Duration) throws {
        if let e = failNextCommit { failNextCommit = nil; throw e }
        events.append("commit")
        for o in pendingOffsets { group.committedOffsets[o.topicPartition] = o.offset }
        pendingOffsets = []
    }

    func abortTransaction(timeout: Duration) throws {
        events.append("abort")
        pendingOffsets = []
    }
}

/// Changelog topics in memory, written by the recording producers'
/// tracked sends: every record, aborted transactions included, as a broker
/// that keeps them keeps them.
final class FakeChangelogs: ChangelogClient, @unchecked Sendable {
    var created: [NewTopic] = []
    /// Partition counts of topics that exist before (1 for others unless created).
    var partitionCounts: [String: Int] = [:]
    var logs: [TopicPartition: [KafkaMessage]] = [:]

    func ensureTopics(_ topics: [NewTopic]) throws {
        created += topics.filter { topic in !created.contains { $0.name == topic.name } }
    }

    func partitionCount(of topic: String) throws -> Int {
        partitionCounts[topic] ?? created.first { $0.name == topic }?.partitions ?? 1
    }

    /// Partitions being read and where the next poll reads them.
    var reading: [TopicPartition: Int64] = [:]
    /// The most records a poll returns.
    var pollLimit = Int.max
    /// What end offsets are reported below the true ones, as a broker that
    /// reports its end per batch would.
    var endShortfall: Int64 = 0
    var polls = 0

    func endOffset(of tp: TopicPartition) throws -> Int64 { max(0, Int64(logs[tp]?.count ?? 0) - endShortfall) }

    func read(_ positions: [TopicPartitionOffset]) throws {
        reading = Dictionary(uniqueKeysWithValues: positions.map { ($0.topicPartition, $0.offset) })
        endsReported.removeAll()
    }

    /// Whether a poll that reads a partition to its end says so, as a
    /// consumer with `enable.partition.eof` does (once per end reached).
    var reportsEnds = false
    private var endsReported: [TopicPartition: Int64] = [:]

    func poll(maxMessages: Int, timeout: Duration, atEnd: ((TopicPartitionOffset) -> Void)?,
              _ body: (KafkaRecordView) -> Void) throws -> Int {
        polls += 1
        var lent = 0
        for tp in reading.keys.sorted() {
            let log = logs[tp] ?? []
            while lent < min(maxMessages, pollLimit), let next = reading[tp], next < log.count {
                log[Int(next)].withView(body)
                lent += 1
                reading[tp] = next + 1
            }
            let end = Int64(log.count)
            if reportsEnds, reading[tp] == end, endsReported[tp] != end {
                endsReported[tp] = end
                atEnd?(TopicPartitionOffset(tp, end))
            }
        }
        return lent
    }

    /// Appends a record at the partition's end and returns its offset.
    func append(_ message: KafkaMessage) -> Int64 {
        let tp = TopicPartition(message.topic, message.partition)
        let offset = Int64(logs[tp]?.count ?? 0)
        logs[tp, default: []].append(KafkaMessage(topic: message.topic, partition: message.partition, offset: offset,
                                                  key: message.key, value: message.value,
                                                  timestamp: message.timestamp, headers: message.headers))
        return offset
    }
}

/// Hands out the fakes and remembers the configurations asked for.
final class FakeFactory: KafkaClientFactory, @unchecked Sendable {
    let consumer = FakeConsumer()
    let changelogs = FakeChangelogs()
    var producers: [RecordingProducer] = []
    var producerConfigs: [KafkaConfig] = []
    var consumerConfigs: [KafkaConfig] = []

    func makeConsumer(config: KafkaConfig, logger: Logger) throws -> ConsumerClient {
        consumerConfigs.append(config)
        return consumer
    }

    func makeProducer(config: KafkaConfig, logger: Logger) throws -> ProducerClient {
        producerConfigs.append(config)
        let p = RecordingProducer(transactionalID: config["transactional.id"], group: consumer)
        p.changelogs = changelogs
        producers.append(p)
        return p
    }

    func makeChangelogs(config: KafkaConfig, logger: Logger) throws -> ChangelogClient { changelogs }

    var producer: RecordingProducer { producers.last! }
}

/// Makes fresh fakes and keeps only weak references to them, to tell
/// whether their owners have let go.
final class WeakClients: KafkaClientFactory, @unchecked Sendable {
    private struct Weak { weak var client: AnyObject? }
    private let made = Mutex<(consumers: [Weak], producers: [Weak], changelogs: [Weak])>(([], [], []))

    func makeConsumer(config: KafkaConfig, logger: Logger) throws -> ConsumerClient {
        let consumer = FakeConsumer()
        made.withLock { $0.consumers.append(Weak(client: consumer)) }
        return consumer
    }

    func makeProducer(config: KafkaConfig, logger: Logger) throws -> ProducerClient {
        let producer = RecordingProducer(transactionalID: config["transactional.id"], group: FakeConsumer())
        made.withLock { $0.producers.append(Weak(client: producer)) }
        return producer
    }

    func makeChangelogs(config: KafkaConfig, logger: Logger) throws -> ChangelogClient {
        let changelogs = FakeChangelogs()
        made.withLock { $0.changelogs.append(Weak(client: changelogs)) }
        return changelogs
    }

    /// How many of the clients made are still referenced.
    var alive: Int { made.withLock { ($0.consumers + $0.producers + $0.changelogs).filter { $0.client != nil }.count } }

    func waitUntilMade(consumers: Int, producers: Int, changelogs: Int = 0) -> Bool {
        for _ in 0..<3000 {
            if made.withLock({ $0.consumers.count >= consumers && $0.producers.count >= producers && $0.changelogs.count >= changelogs }) {
                return true
            }
            blockThread(for: .milliseconds(10))
        }
        return false
    }
}
