import Foundation
import Logging
import SluiceKafka
import SluiceState

/// Where a task keeps its stores.
enum StateLocation {
    /// In memory: the test driver, and topologies run without a state directory.
    case memory
    /// RocksDB under a directory, memory drawn from a budget shared by the process.
    case directory(String, StateBudget)
}

/// How a task's stores are kept: where, and which changelog topic logs each.
struct TaskStateContext {
    var location = StateLocation.memory
    /// The changelog topic of a store by name; `nil` logs nothing.
    var changelogTopic: (@Sendable (String) -> String)?

    /// Stores under `location`, each logged to application
    /// `applicationID`'s changelog topic of its name.
    static func logged(at location: StateLocation, applicationID: String) -> TaskStateContext {
        TaskStateContext(location: location, changelogTopic: { StreamsConfig.changelogTopic(applicationID: applicationID, store: $0) })
    }

    /// Opens `task`'s stores of `specs`, by name; if one cannot be opened,
    /// those already open close again.
    func open(_ specs: [StoreSpec], of task: TopicPartition) throws -> [String: TaskStore] {
        var stores: [String: TaskStore] = [:]
        do {
            for spec in specs { stores[spec.name] = try open(spec.name, of: task) }
        } catch {
            for store in stores.values { store.bytes.close() }
            throw error
        }
        return stores
    }

    /// Opens `task`'s store called `name`: RocksDB under the state
    /// directory (`<dir>/<topic>-<partition>/<name>`), or memory.
    func open(_ name: String, of task: TopicPartition) throws -> TaskStore {
        let bytes: any ByteStore
        switch location {
        case .memory:
            bytes = InMemoryStore()
        case .directory(let root, let budget):
            let dir = "\(root)/\(task.topic)-\(task.partition)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            bytes = try RocksDBStore(path: "\(dir)/\(name)", budget: budget)
        }
        return TaskStore(name: name, bytes: bytes, changelog: changelogTopic.map { ChangelogPlace(topic: $0(name), task: task) })
    }
}

/// The unit of work and of ownership: one input partition, its own
/// instances of the topology's nodes, its stream time and punctuations, and
/// the position up to which it has processed.
public final class StreamTask {
    /// The input partition this task owns.
    public let id: TopicPartition
    let applicationID: String
    @usableFromInline let collector: RecordCollector
    let clock: WallClock
    let deadLetterTopic: String
    /// The thread's sinks outside Kafka, by name.
    @usableFromInline let sinks: [String: any Sink]
    private let logger: Logger
    private var root: Node<[UInt8]?>!
    /// Every node of the task, in name order, with what reached each.
    private(set) var nodes: [NodeCount] = []
    private var closers: [() -> Void] = []
    private var committers: [() -> Void] = []
    private var inputEnders: [() throws -> Void] = []
    private var punctuators: [Punctuator] = []
    private let stats: ThreadStats?
    private let state: TaskStateContext
    private var stores: [String: TaskStore] = [:]

    // The fields read and written for every record skip the run-time
    // exclusivity check (about 80 instructions per access; the checks on the
    // record path were 8% of a stream thread's instructions in the classify
    // benchmark). Each access is a plain read or write of a scalar that calls
    // nothing, so two can never overlap.

    /// The largest record timestamp seen (`Int64.min` before the first).
    @exclusivity(unchecked) public private(set) var streamTime: Int64 = .min
    /// The offset of the next record to process; `nil` before the first.
    @exclusivity(unchecked) public private(set) var nextOffset: Int64?
    /// Whether a punctuator runs on stream time: most tasks have none, and
    /// then a record does not look at the punctuators at all.
    @exclusivity(unchecked) private var punctuatesOnStreamTime = false
    /// Records sent to the dead-letter topic.
    public private(set) var deadLetterCount = 0
    /// Records that arrived after every window they belong to had closed.
    public private(set) var lateCount = 0

    /// Creates the task; `stores` are stores opened (and restored) for it
    /// beforehand, and any other store opens on first use.
    init(id: TopicPartition, topology: Topology, applicationID: String, collector: RecordCollector,
         clock: WallClock, deadLetterTopic: String, sinks: [String: any Sink] = [:], logger: Logger,
         stats: ThreadStats? = nil, state: TaskStateContext = TaskStateContext(), stores: [String: TaskStore] = [:]) throws {
        guard let source = topology.sourceNode(forTopic: id.topic) else {
            throw TopologyError("no source reads topic \(id.topic)")
        }
        self.id = id
        self.applicationID = applicationID
        self.collector = collector
        self.clock = clock
        self.deadLetterTopic = deadLetterTopic
        self.sinks = sinks
        self.logger = logger
        self.stats = stats
        self.state = state
        self.stores = stores
        (root, nodes) = try topology.instantiate(source: source, task: self)
    }

    /// The task's store called `name`, opened on first use.
    public func store(named name: String) throws -> TaskStore {
        if let store = stores[name] { return store }
        let store = try state.open(name, of: id)
        stores[name] = store
        return store
    }

    /// The input offset every store's state reaches: the smallest
    /// committed position among them; `nil` without stores or before a commit.
    public var statePosition: Int64? {
        stores.values.compactMap(\.committedInputOffset).min()
    }

    /// Whether the task has state stores: its input may be committed only
    /// at positions its state is written at.
    var keepsState: Bool { !stores.isEmpty }

    /// The input record that output made without one (by a punctuation)
    /// derives from: the last record the task processed, or the last its
    /// restored state reflects; `nil` before either. A sink holds commits
    /// back on it until that output is durable.
    @usableFromInline var lastProcessed: Provenance? {
        guard let position = nextOffset ?? statePosition, position > 0 else { return nil }
        return Provenance(topic: id.topic, partition: id.partition, offset: position - 1)
    }

    /// The approximate size in bytes of each store opened, by name.
    var storeSizes: [(name: String, bytes: Int)] { stores.values.map { ($0.name, $0.bytes.approximateBytes) } }

    /// Registers work to do when the input ends (a dry run's last record):
    /// windowed aggregates close their open windows.
    func onEndOfInput(_ body: @escaping () throws -> Void) { inputEnders.append(body) }

    /// Ends the input: what ``onEndOfInput(_:)`` registered runs, in order.
    func endInput() throws {
        for body in inputEnders { try body() }
    }

    /// Registers work to do at each commit, before the stores are written
    /// (a processor moving its in-memory changes into its store's batch).
    func onCommit(_ body: @escaping () -> Void) { committers.append(body) }

    /// Seals every store's changes since the last seal, with the task's
    /// position, as commit point `seal`; returns whether any store had
    /// something to seal.
    /// `changelogEnds` holds, per changelog partition, an offset below
    /// which it holds no change sealed now.
    @discardableResult
    func sealState(_ seal: Int, changelogEnds: [TopicPartition: Int64] = [:]) throws -> Bool {
        guard let position = nextOffset ?? statePosition, !stores.isEmpty else { return false }
        for body in committers { body() }
        var any = false
        let now = clock.now()
        for store in stores.values {
            let start = store.changelog.flatMap { changelogEnds[$0.partition] }
            if try store.seal(seal, inputOffset: position, collector: collector, changelogStart: start, timestamp: now) {
                any = true
            }
        }
        return any
    }

    /// Writes the stores' sealed changes up to commit point `seal`, each
    /// store's batch atomically with its position. Call it once the outputs
    /// of the records before that point are durable.
    func writeState(through seal: Int) throws {
        for store in stores.values { try store.write(through: seal) }
    }

    /// Seals and writes at once, for callers whose outputs are already
    /// durable (the test driver, a commit after a flush).
    func commitState() throws {
        try sealState(.max)
        try writeState(through: .max)
    }

    /// Counts a record that came after its windows closed.
    func recordLate() {
        lateCount += 1
        stats?.late.add(1)
    }

    /// Processes one input record. A ``ProcessingError`` sends the record to
    /// the dead-letter topic and processing goes on; any other error (the
    /// dead-letter send itself failing, a ``HaltingError``) is the caller's.
    /// The record the topology takes over shares the message's bytes; the
    /// message keeps them for the dead-letter topic. The message is read
    /// where it lies (in the thread's batch): passed by value, even
    /// borrowed, it was copied whole first.
    func process(_ message: UnsafePointer<KafkaMessage>) throws {
        let timestamp = message.pointee.timestamp, offset = message.pointee.offset
        let source = Provenance(topic: message.pointee.topic, partition: message.pointee.partition, offset: offset)
        if timestamp > streamTime { streamTime = timestamp }
        do {
            try root.process(Record(key: message.pointee.key, value: message.pointee.value, headers: message.pointee.headers,
                                    timestamp: timestamp, provenance: source))
        } catch let error as ProcessingError where !(error.underlying is any HaltingError) {
            try deadLetter(key: message.pointee.key, value: message.pointee.value, headers: message.pointee.headers,
                           timestamp: timestamp, source: source, reason: "\(error.underlying)",
                           errorType: "\(type(of: error.underlying))", processor: error.processor)
        }
        nextOffset = offset + 1
        if punctuatesOnStreamTime { try punctuate(.streamTime, at: streamTime) }
    }

    /// Sends a record to the dead-letter topic with headers saying why;
    /// for part of an input record (a bad line), `value` is that part.
    func deadLetter(key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], timestamp: Int64, source: Provenance?,
                    reason: String, errorType: String, processor: String) throws {
        deadLetterCount += 1
        stats?.deadLettered(processor: processor, type: errorType)
        logger.warning("record sent to dead-letter topic", metadata: [
            "source": "\(source.map(\.description) ?? "-")", "processor": "\(processor)", "reason": "\(reason)",
            "topic": "\(deadLetterTopic)"])
        try collector.send(topic: deadLetterTopic, key: key, value: value,
                           headers: DeadLetterHeader.headers(original: headers, reason: reason, errorType: errorType,
                                                             processor: processor, source: source, applicationID: applicationID),
                           timestamp: timestamp)
    }

    func schedule(_ punctuator: Punctuator) -> Cancellable {
        var p = punctuator
        let now = p.type == .streamTime ? streamTime : clock.now()
        p.next = now == .min ? .min : now + p.interval
        punctuators.append(p)
        if p.type == .streamTime { punctuatesOnStreamTime = true }
        return p.handle
    }

    /// Runs the punctuations of `type` that are due at `time`; returns
    /// whether they forwarded any record. A punctuator that throws is
    /// treated as a failure of the task's thread: nothing identifies an
    /// input record to dead-letter.
    @discardableResult
    func punctuate(_ type: PunctuationType, at time: Int64) throws -> Bool {
        guard !punctuators.isEmpty, time != .min else { return false }
        var forwarded = false
        for i in punctuators.indices where punctuators[i].type == type && !punctuators[i].handle.isCancelled {
            if punctuators[i].next == .min {
                punctuators[i].next = time + punctuators[i].interval
                continue
            }
            guard time >= punctuators[i].next else { continue }
            let p = punctuators[i]
            punctuators[i].next = time + p.interval
            let reached = recordsReceived
            try p.callback(time)
            if recordsReceived != reached { forwarded = true }
        }
        punctuators.removeAll { $0.handle.isCancelled }
        return forwarded
    }

    /// Records that reached the task's nodes since the thread last took the counts.
    private var recordsReceived: Int { nodes.reduce(0) { $0 &+ $1.received } }

    /// Sets where processing resumes, after a rewind to committed offsets.
    func resetPosition(_ offset: Int64?) { nextOffset = offset }

    /// Registers work to do when the task closes (a processor's `close()`).
    @usableFromInline
    func onClose(_ body: @escaping () -> Void) { closers.append(body) }

    /// Closes the processors and the stores; uncommitted state changes are dropped.
    func close() {
        for body in closers.reversed() { body() }
        closers.removeAll()
        for store in stores.values {
            store.discard()
            store.bytes.close()
        }
        stores.removeAll()
    }
}
