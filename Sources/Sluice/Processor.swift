import SluiceKafka

/// A custom processor, the escape hatch below the DSL (as Kafka Streams'
/// Processor API). One instance exists per task; the runtime calls
/// ``initialize(context:)`` once, ``process(_:)`` for every record, and
/// ``close()`` when the task goes away.
public protocol Processor<Input, Output>: AnyObject, SendableMetatype {
    /// The type of the records it receives.
    associatedtype Input
    /// The type of the records it forwards.
    associatedtype Output
    /// Called once before the first record; keep the context to forward
    /// records and to schedule punctuations.
    func initialize(context: ProcessorContext<Output>) throws
    /// Handles one record; may forward any number of records. The record
    /// is the processor's to keep or change (a conformance may also take it
    /// without `consuming`, and then reads it where the caller keeps it).
    func process(_ record: consuming Record<Input>) throws
    /// Releases what the processor holds; the task is closing.
    func close()
}

extension Processor {
    public func initialize(context: ProcessorContext<Output>) throws {}
    public func close() {}
}

/// Which clock drives a punctuation.
public enum PunctuationType: Sendable, Hashable {
    /// The task's stream time: the largest record timestamp it has seen.
    /// It advances only when records arrive.
    case streamTime
    /// The machine's clock (the test driver's controllable clock in tests).
    case wallClockTime
}

/// A handle to a scheduled punctuation.
public final class Cancellable {
    var isCancelled = false
    /// Stops further calls.
    public func cancel() { isCancelled = true }
}

/// What a ``Processor`` can do: forward records to its children, read the
/// task's clocks, and schedule punctuations.
public final class ProcessorContext<Output> {
    /// The processor's name in the topology.
    public let processorName: String
    let children: [Node<Output>]
    let childNames: [String]
    /// Hands a record to every child, as any node's parent does.
    private let toChildren: (consuming Record<Output>) throws -> Void
    unowned let task: StreamTask

    @usableFromInline
    init(processorName: String, children: [Node<Output>], childNames: [String], task: StreamTask) {
        self.processorName = processorName
        self.children = children
        self.childNames = childNames
        toChildren = emitter(children)
        self.task = task
    }

    /// The task's input partition.
    public var taskID: TopicPartition { task.id }
    /// The application's id.
    public var applicationID: String { task.applicationID }
    /// The task's stream time in milliseconds (`Int64.min` before the first record).
    public var streamTime: Int64 { task.streamTime }
    /// The wall-clock time in milliseconds.
    public var wallClockTime: Int64 { task.clock.now() }

    /// Sends a record to every child.
    public func forward(_ record: consuming Record<Output>) throws { try toChildren(record) }

    /// Sends a record to the child named `child` only.
    public func forward(_ record: consuming Record<Output>, to child: String) throws {
        guard let i = childNames.firstIndex(of: child) else {
            throw ProcessingError(processor: processorName, underlying: TopologyError("no child named \(child)"))
        }
        try children[i].process(consume record)
    }

    /// Sends `value`, part of `record` that cannot be processed (a bad line
    /// of a multi-line record), to the dead-letter topic with `record`'s
    /// key, headers, timestamp and source, and headers saying why; the rest
    /// of the record goes on.
    public func deadLetter<Value>(_ value: [UInt8]?, of record: Record<Value>, reason: String, errorType: String) throws {
        try task.deadLetter(key: record.key, value: value, headers: record.headers, timestamp: record.timestamp,
                            source: record.provenance, reason: reason, errorType: errorType, processor: processorName)
    }

    /// Calls `callback` every `interval` of the chosen clock with the
    /// punctuation's time. If the clock jumps over several intervals, the
    /// callback runs once (as Kafka Streams does); the next call is due one
    /// interval after that time.
    @discardableResult
    public func schedule(every interval: Duration, type: PunctuationType,
                         _ callback: @escaping (Int64) throws -> Void) -> Cancellable {
        task.schedule(Punctuator(processor: processorName, interval: interval.wholeMilliseconds,
                                 type: type, callback: callback))
    }
}

/// A scheduled punctuation of one task.
struct Punctuator {
    let processor: String
    let interval: Int64
    let type: PunctuationType
    let callback: (Int64) throws -> Void
    var next: Int64 = .min
    let handle = Cancellable()
}
