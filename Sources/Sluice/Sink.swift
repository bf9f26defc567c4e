import Logging
import SluiceKafka

/// A destination outside Kafka that acknowledges what it is given later
/// (Elasticsearch, a metrics daemon, a cloud logging API).
///
/// One instance exists per stream thread, shared by the thread's tasks. The
/// thread drives it: ``write(_:source:)`` for each item the topology sends
/// it, ``poll(timeout:)`` every loop iteration, ``flush(timeout:)`` before
/// input positions are committed on revocation, shutdown and (under
/// exactly-once) every transaction. Input offsets are committed only below
/// ``firstPendingOffset(of:)``, so an item the sink has not made durable is
/// read again after a crash. Everything runs on the thread: no method needs
/// to be thread-safe.
///
/// An item the destination refuses for good goes to the dead-letter topic
/// through ``SinkContext/deadLetter(_:)``; the thread then holds commits
/// back until that record is acknowledged too. ``PendingOffsets`` keeps the
/// bookkeeping of a sink that acknowledges items out of order.
public protocol Sink<Item>: AnyObject {
    /// What the topology hands the sink, one per record.
    associatedtype Item
    /// Accepts one item; `source` is the input record it derives from (for
    /// a record a punctuator made, the last record its task processed: the
    /// state it was made from reflects that one). Throwing sends that input
    /// record to the dead-letter topic, so throw only for a fault of this item.
    func write(_ item: Item, source: Provenance?) throws
    /// Does I/O and handles what completed, waiting up to `timeout` for it.
    /// Throw only when the thread must stop: a destination that is down
    /// means retrying, not throwing.
    func poll(timeout: Duration) throws
    /// The smallest input offset of `partition` whose items are not all
    /// durable yet; `nil` when none is pending.
    func firstPendingOffset(of partition: TopicPartition) -> Int64?
    /// Whether the sink takes no more input until something completes; the
    /// thread then pauses its partitions (back-pressure, not buffering).
    var isFull: Bool { get }
    /// Sends everything accepted and waits up to `timeout` for it to become
    /// durable; returns whether nothing is pending any more.
    func flush(timeout: Duration) throws -> Bool
    /// Stops tracking `partitions`: their tasks were rewound or moved away,
    /// and what they sent will be sent again by whoever processes them next.
    func forget(_ partitions: [TopicPartition])
    /// Releases connections; called once the thread has flushed.
    func close()
}

/// What a sink gets from the stream thread that runs it.
public struct SinkContext {
    /// The sink's name in the topology.
    public let name: String
    /// The application's id.
    public let applicationID: String
    /// The index of the stream thread.
    public let threadIndex: Int
    /// The thread's logger.
    public let logger: Logger
    /// Where the sink registers what it exports at `/metrics`.
    public let metrics: MetricsRegistry
    let send: (DeadLetter) throws -> Void

    /// Creates a context; `deadLetter` sends a record to the dead-letter topic.
    public init(name: String, applicationID: String, threadIndex: Int, logger: Logger,
                metrics: MetricsRegistry = MetricsRegistry(), deadLetter: @escaping (DeadLetter) throws -> Void) {
        self.name = name
        self.applicationID = applicationID
        self.threadIndex = threadIndex
        self.logger = logger
        self.metrics = metrics
        send = deadLetter
    }

    /// The labels every series of this sink instance carries: application, thread, sink.
    public var metricLabels: [(String, String)] {
        [("application", applicationID), ("thread", String(threadIndex)), ("sink", name)]
    }

    /// Sends an item the destination refused to the dead-letter topic. The
    /// input offset it came from is committed only once that record is
    /// acknowledged. Throws when the record cannot even be enqueued.
    public func deadLetter(_ letter: DeadLetter) throws { try send(letter) }
}

/// A record for the dead-letter topic, from a sink: what was refused, why,
/// and which input record it came from.
public struct DeadLetter: Sendable {
    /// The key to write (the input record's key, usually).
    public var key: [UInt8]?
    /// The refused payload.
    public var value: [UInt8]?
    /// The input record's headers.
    public var headers: [KafkaHeader]
    /// The input record's timestamp.
    public var timestamp: Int64
    /// The input record it derives from.
    public var source: Provenance?
    /// Why it was refused, in the destination's words.
    public var reason: String
    /// The kind of failure (an error type of the destination).
    public var errorType: String
    /// More headers that locate the failure (the target index, say).
    public var details: [KafkaHeader]

    /// Creates a dead letter.
    public init(key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], timestamp: Int64, source: Provenance?,
                reason: String, errorType: String, details: [KafkaHeader] = []) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
        self.source = source
        self.reason = reason
        self.errorType = errorType
        self.details = details
    }
}

/// How a topology names a sink and makes it: one instance per stream
/// thread from `make`, or a ``RecordingSink`` in the test driver.
public struct SinkDefinition<Item>: Sendable {
    /// The sink's name: streams that write to the same name share it.
    public let name: String
    let make: @Sendable (SinkContext) throws -> any Sink<Item>

    /// Defines a sink called `name` made by `make` on every stream thread.
    public init(name: String, make: @escaping @Sendable (SinkContext) throws -> any Sink<Item>) {
        self.name = name
        self.make = make
    }
}

/// A sink as the topology keeps it: the instance makers, without the item type.
@usableFromInline
struct SinkSpec: Sendable {
    let name: String
    let make: @Sendable (SinkContext) throws -> any Sink
    let recording: @Sendable () -> any Sink

    @usableFromInline
    init<Item>(_ definition: SinkDefinition<Item>) {
        name = definition.name
        make = definition.make
        recording = { RecordingSink<Item>() }
    }
}

extension Stream {
    /// Hands each record to `sink`, converted by `item`; a record whose
    /// item is `nil` is passed over. A conversion that throws sends the
    /// input record to the dead-letter topic.
    @inlinable
    public func to<Item>(_ sink: SinkDefinition<Item>, named name: String? = nil,
                         item: @escaping @Sendable (Record<Value>) throws -> Item?) {
        let name = builder.name(name, "sink")
        builder.register(sink)
        let sinkName = sink.name
        builder.add(name, kind: "sink", parents: [node]) { context in
            guard let target = context.task.sinks[sinkName] as? any Sink<Item> else {
                throw TopologyError("sink \(sinkName) is not running on this thread")
            }
            let task = context.task
            return Node<Value>(name: name) { [unowned task] record in
                try attributed(to: name) {
                    if let item = try item(record) { try target.write(item, source: record.provenance ?? task.lastProcessed) }
                }
            }
        }.sinkName = sinkName
    }
}
