import Logging
import SluiceKafka
import SluiceState
import Synchronization

/// Runs a topology in-process, without Kafka, as Kafka Streams'
/// TopologyTestDriver does: pipe records in, read what it wrote per topic.
///
/// The driver uses the runtime's own tasks (one per input partition), so
/// dead-lettering, stream time and punctuation behave as in production.
/// Stream time advances with the piped records' timestamps; the wall clock
/// moves only when told to. Every piped record is followed by a commit of
/// its task's state, as Kafka Streams' driver does; with a state directory
/// the stores are RocksDB and a second driver on the same directory resumes
/// where the first left off (as a restarted instance would). What the
/// topology writes to a repartition topic goes back in at once, to that
/// topic's partition 0 (and stays readable with ``output(_:)``).
///
/// ```swift
/// let driver = TopologyTestDriver(topology: topology)
/// try driver.pipe("logs", value: #"{"status":503}"#)
/// #expect(driver.output("logs-errors").count == 1)
/// ```
public final class TopologyTestDriver {
    private let topology: Topology
    private let applicationID: String
    private let deadLetterTopic: String
    private let clock: ManualClock
    private let collector = MemoryCollector()
    private let sinks: [String: any Sink]
    private var tasks: [TopicPartition: StreamTask] = [:]
    private var nextOffsets: [TopicPartition: Int64] = [:]
    private let state: TaskStateContext
    private let logger: Logger

    /// Creates a driver; the wall clock starts at `wallClockStart` (ms since
    /// the epoch). State stores live in memory, or in RocksDB under
    /// `stateDirectory`. The tasks log to `logger` (a dead letter is a warning).
    public init(topology: Topology, applicationID: String = "test-driver", deadLetterTopic: String? = nil,
                wallClockStart: Int64 = 0, stateDirectory: String? = nil, logger: Logger = Logger(label: "test-driver")) {
        self.logger = logger
        state = .logged(
            at: stateDirectory.map { .directory($0, StateBudget(blockCacheBytes: 4 << 20, memtableBytes: 4 << 20)) } ?? .memory,
            applicationID: applicationID)
        self.topology = topology
        self.applicationID = applicationID
        self.deadLetterTopic = deadLetterTopic ?? "\(applicationID)-dlq"
        clock = ManualClock(wallClockStart)
        sinks = topology.sinks.mapValues { $0.recording() }
        collector.internalTopics = Set(topology.repartitionTopics)
    }

    /// The current wall-clock time.
    public var wallClockTime: Int64 { clock.now() }

    /// Feeds one record to the task of `topic`'s `partition`, as if the
    /// consumer had read it at the partition's next offset.
    public func pipe(_ topic: String, partition: Int32 = 0, key: [UInt8]? = nil, value: [UInt8]?,
                     headers: [KafkaHeader] = [], timestamp: Int64? = nil) throws {
        try deliver(topic, partition: partition, key: key, value: value, headers: headers, timestamp: timestamp ?? clock.now())
        try forwardRepartitioned()
    }

    /// Processes one record at its partition's next offset and commits its task's state.
    private func deliver(_ topic: String, partition: Int32, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader],
                         timestamp: Int64) throws {
        let tp = TopicPartition(topic, partition)
        let task = try self.task(tp)
        let offset = Self.postIncrement(&nextOffsets[tp, default: 0])
        let message = KafkaMessage(topic: topic, partition: partition, offset: offset, key: key, value: value,
                                   timestamp: timestamp, headers: headers)
        try withUnsafePointer(to: message) { try task.process($0) }
        try task.commitState()
    }

    /// `value`, then counts it up: one dictionary lookup rather than a read and a write.
    private static func postIncrement(_ value: inout Int64) -> Int64 {
        defer { value += 1 }
        return value
    }

    /// Feeds what went to repartition topics back in, until nothing is left.
    private func forwardRepartitioned() throws {
        while !collector.internalQueue.isEmpty {
            let record = collector.internalQueue.removeFirst()
            try deliver(record.topic, partition: 0, key: record.key, value: record.value, headers: record.headers,
                        timestamp: record.timestamp)
        }
    }

    /// Feeds one record with UTF-8 key and value.
    public func pipe(_ topic: String, partition: Int32 = 0, key: String? = nil, value: String,
                     headers: [KafkaHeader] = [], timestamp: Int64? = nil) throws {
        try pipe(topic, partition: partition, key: key.map { Array($0.utf8) }, value: Array(value.utf8),
                 headers: headers, timestamp: timestamp)
    }

    /// Moves the wall clock forward and runs the wall-clock punctuations
    /// that are due, then commits the tasks' state.
    public func advanceWallClock(by duration: Duration) throws {
        clock.advance(by: duration.wholeMilliseconds)
        for task in tasks.values {
            try task.punctuate(.wallClockTime, at: clock.now())
            try task.commitState()
        }
        try forwardRepartitioned()
    }

    /// Ends the input, as the end of a dry run's file: every windowed
    /// aggregate closes its open windows and forwards their results, then
    /// the tasks' state is committed.
    public func endInput() throws {
        // Tasks of inputs first: what they still send through a repartition
        // topic reaches its tasks before those end.
        let repartitioned = topology.repartitionTopics
        try endInput(of: tasks.values.filter { !repartitioned.contains($0.id.topic) })
        for topic in repartitioned { try endInput(of: tasks.values.filter { $0.id.topic == topic }) }
    }

    private func endInput(of tasks: [StreamTask]) throws {
        for task in tasks {
            try task.endInput()
            try task.commitState()
            try forwardRepartitioned()
        }
    }

    /// Every record written to `topic` so far, in order, with offsets from 0.
    public func output(_ topic: String) -> [KafkaMessage] { collector.records[topic, default: []] }

    /// Every record written to `topic` so far, as UTF-8 values.
    public func outputValues(_ topic: String) -> [String] {
        output(topic).map { $0.value.map { String(decoding: $0, as: UTF8.self) } ?? "<tombstone>" }
    }

    /// Every item written so far to the sink called `name` (a
    /// ``RecordingSink`` stands in for it), with the input record each came from.
    public func sinkOutput<Item>(_ name: String, as type: Item.Type = Item.self) -> [(item: Item, source: Provenance?)] {
        (sinks[name] as? RecordingSink<Item>)?.items ?? []
    }

    /// Every record written since the last call, per topic, then forgets
    /// them: for long runs that read their outputs as they go.
    public func takeOutputs() -> [String: [KafkaMessage]] {
        guard !collector.records.isEmpty else { return [:] }
        defer { collector.records.removeAll() }
        return collector.records
    }

    /// The topics written to so far.
    public var outputTopics: [String] { collector.records.keys.sorted() }

    /// Records written to the dead-letter topic.
    public var deadLetters: [KafkaMessage] { output(deadLetterTopic) }

    /// The task of an input partition, if a record was piped to it.
    public func task(for topic: String, partition: Int32 = 0) -> StreamTask? { tasks[TopicPartition(topic, partition)] }

    /// Closes every task (their processors' `close()` runs).
    public func close() {
        for task in tasks.values { task.close() }
        tasks.removeAll()
    }

    private func task(_ tp: TopicPartition) throws -> StreamTask {
        if let task = tasks[tp] { return task }
        let task = try StreamTask(id: tp, topology: topology, applicationID: applicationID, collector: collector,
                                  clock: clock, deadLetterTopic: deadLetterTopic, sinks: sinks,
                                  logger: logger, state: state)
        tasks[tp] = task
        // A restarted instance's consumer resumes where its state was last committed.
        if let position = task.statePosition { nextOffsets[tp] = max(nextOffsets[tp, default: 0], position) }
        return task
    }
}

/// A wall clock that moves only when told to.
public final class ManualClock: WallClock {
    private let time: Atomic<Int64>

    /// Creates a clock at `start` (ms since the epoch).
    public init(_ start: Int64) { time = Atomic(start) }

    public func now() -> Int64 { time.load(ordering: .relaxed) }

    /// Moves the clock forward by `milliseconds`.
    public func advance(by milliseconds: Int64) { time.add(milliseconds, ordering: .relaxed) }
}

/// Keeps output records in memory, per topic.
final class MemoryCollector: RecordCollector {
    var records: [String: [KafkaMessage]] = [:]
    private var nextOffsets: [String: Int64] = [:]
    /// Topics whose records the driver feeds back in.
    var internalTopics: Set<String> = []
    /// Records sent to `internalTopics` not yet fed back in.
    var internalQueue: [KafkaMessage] = []

    func send(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], timestamp: Int64) throws {
        append(topic: topic, partition: 0, key: key, value: value, headers: headers, timestamp: timestamp)
        if internalTopics.contains(topic) { internalQueue.append(records[topic]!.last!) }
    }

    func sendChangelog(topic: String, partition: Int32, key: [UInt8], value: [UInt8]?, headers: [KafkaHeader],
                       timestamp: Int64) throws {
        append(topic: topic, partition: partition, key: key, value: value, headers: headers, timestamp: timestamp)
    }

    private func append(topic: String, partition: Int32, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader],
                        timestamp: Int64) {
        let offset = nextOffsets[topic, default: 0]
        nextOffsets[topic] = offset + 1
        records[topic, default: []].append(KafkaMessage(topic: topic, partition: partition, offset: offset, key: key,
                                                        value: value, timestamp: timestamp, headers: headers))
    }
}
