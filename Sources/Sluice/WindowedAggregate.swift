import SluiceKafka
import SluiceState

/// How a windowed aggregate step folds records into per-key aggregates
/// (Kafka Streams' initializer and aggregator, with the byte form its
/// store and changelog keep).
public protocol WindowAggregator: Sendable {
    /// The records it reads.
    associatedtype Input
    /// What one record contributes to one key's aggregate.
    associatedtype Update
    /// What a key's window accumulates.
    associatedtype Aggregate

    /// The updates `record` makes, each to the aggregate of a key. Throwing
    /// sends the record to the dead-letter topic.
    func updates(of record: Record<Input>) throws -> [(key: [UInt8], update: Update)]
    /// The aggregate a key's window starts from; `carried` is what the key's
    /// previous window passed on (see ``carry(_:)``).
    func initial(key: [UInt8], carried: Aggregate?) -> Aggregate
    /// Adds one update.
    func add(_ update: Update, to aggregate: inout Aggregate)
    /// What a key's next window starts from when this one closes (statsd's
    /// gauges keep their value); `nil` for nothing.
    func carry(_ aggregate: Aggregate) -> Aggregate?
    /// The aggregate as bytes for the store.
    func encode(_ aggregate: Aggregate) -> [UInt8]
    /// Reads what ``encode(_:)`` wrote.
    func decode(_ bytes: [UInt8]) throws -> Aggregate
}

/// When a windowed aggregate forwards results.
public enum EmitMode: Sendable, Hashable {
    /// One result per key and window, when the window closes.
    case final
    /// A result whenever a window changed, at most once per interval of the
    /// wall clock, and the final one when it closes.
    case update(every: Duration)
}

/// One key's aggregate over one window, as a windowed aggregate forwards it.
public struct WindowedResult<Aggregate> {
    /// The key the aggregate is for.
    public var key: [UInt8]
    /// The window's start in milliseconds since the epoch (inclusive).
    public var start: Int64
    /// The window's end (exclusive).
    public var end: Int64
    /// The aggregate.
    public var aggregate: Aggregate
    /// Whether the window is closed: no later result for it follows.
    public var isFinal: Bool

    /// Creates a result.
    public init(key: [UInt8], start: Int64, end: Int64, aggregate: Aggregate, isFinal: Bool) {
        self.key = key
        self.start = start
        self.end = end
        self.aggregate = aggregate
        self.isFinal = isFinal
    }
}

extension WindowedResult: Sendable where Aggregate: Sendable {}
extension WindowedResult: Equatable where Aggregate: Equatable {}

/// Why a record is late: every window it belongs to has closed.
public struct LateRecord: Error, CustomStringConvertible {
    /// The record's timestamp.
    public var timestamp: Int64
    /// The stream time of the aggregate step (the largest record time it had seen in the task) when it arrived.
    public var streamTime: Int64
    /// The start of the last window the record belongs to.
    public var windowStart: Int64

    public var description: String {
        "late record: timestamp \(timestamp) belongs to windows that closed (last window starts at \(windowStart), stream time \(streamTime))"
    }
}

/// The settings of a windowed aggregate step.
public struct WindowedAggregateOptions: Sendable {
    /// The windows.
    public var windows: TimeWindows
    /// When results are forwarded.
    public var emit: EmitMode
    /// Closes every open window once the partition has had no record for
    /// this long on the wall clock, so the last windows of a quiet stream
    /// still arrive; `nil` waits for stream time.
    public var idleClose: Duration?
    /// Sends late records to the dead-letter topic (they are always counted).
    public var lateToDeadLetter: Bool

    /// Creates options.
    public init(windows: TimeWindows, emit: EmitMode = .final, idleClose: Duration? = nil, lateToDeadLetter: Bool = true) {
        self.windows = windows
        self.emit = emit
        self.idleClose = idleClose
        self.lateToDeadLetter = lateToDeadLetter
    }
}

/// How a windowed aggregate keeps its state in its window store: each
/// window's aggregate under its start and key; after every window, under
/// the largest start, the values gauges carry into following windows and
/// the mark before which every window is closed.
public enum AggregateStoreLayout {
    static var metaStart: Int64 { .max }
    static var closedKey: [UInt8] { [0] }

    /// The store key of the value `key` carries into following windows.
    static func carriedKey(_ key: [UInt8]) -> [UInt8] { WindowStore.storeKey([1] + key, windowStart: metaStart) }

    /// The store key of the last upstream position applied from its partition
    /// (records that came through a repartition topic); the position is the value.
    static func upstreamKey(_ position: UpstreamPosition) -> [UInt8] {
        WindowStore.storeKey([2] + position.sourceBytes, windowStart: metaStart)
    }

    /// The store entry that marks every window starting before `start`
    /// closed: windows under it stay in the store until their segment
    /// expires, but never open again (nor are they read back into memory).
    public static func closedMark(before start: Int64) -> (key: [UInt8], value: [UInt8]) {
        var mark: [UInt8] = []
        mark.appendBigEndian(start)
        return (WindowStore.storeKey(closedKey, windowStart: metaStart), mark)
    }
}

/// A windowed aggregate in one task: the open windows live in memory as
/// aggregates (no decoding per record); at each commit the changed ones go
/// to the task's window store, with the task's position, in one batch.
/// Closed windows stay in the store until their segment expires; the
/// store's `closedBefore` mark keeps them closed across restarts.
final class WindowedAggregateNode<A: WindowAggregator> {
    typealias Result = WindowedResult<A.Aggregate>

    private struct Slot: Hashable {
        let start: Int64
        let key: [UInt8]

        // Hashing the key's bytes at once, not byte by byte as `[UInt8]`
        // does: this hash is taken for every update of every record.
        func hash(into hasher: inout Hasher) {
            hasher.combine(start)
            key.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    private struct Entry {
        var aggregate: A.Aggregate
        var dirty = true
        var unemitted = true
    }

    private let name: String
    private let aggregator: A
    private let options: WindowedAggregateOptions
    private let store: TaskStore
    private let windowStore: WindowStore
    private unowned let task: StreamTask
    private let emit: (Record<Result>) throws -> Void

    private var open: [Slot: Entry] = [:]
    /// The open windows' keys by start.
    private var keysByStart: [Int64: [[UInt8]]] = [:]
    /// `keysByStart`'s starts, ascending (close order). Derivable, but kept:
    /// every record asks for the first, and taking the smallest key of the
    /// dictionary per record cost a fifth of the rollup benchmark's throughput.
    private var starts: [Int64] = []
    private var carried: [[UInt8]: A.Aggregate] = [:]
    private var carriedDirty: Set<[UInt8]> = []
    /// Per upstream partition, the last position applied (see ``UpstreamPosition``).
    private var upstream: [TopicPartition: UpstreamPosition] = [:]
    private var upstreamDirty: Set<TopicPartition> = []
    /// Windows starting before this are closed.
    private var closedBefore = Int64.min
    private var closedBeforeDirty = false
    private var lastRecordWallTime: Int64
    /// The largest record time this step has seen in this task.
    private var streamTime = Int64.min

    init(name: String, aggregator: A, options: WindowedAggregateOptions, store: TaskStore, task: StreamTask,
         emit: @escaping (Record<Result>) throws -> Void) throws {
        self.name = name
        self.aggregator = aggregator
        self.options = options
        self.store = store
        self.task = task
        self.emit = emit
        let windows = options.windows
        windowStore = WindowStore(store: store.bytes, retention: windows.size + windows.grace,
                                  segmentInterval: max(windows.advance, (windows.size + windows.grace) / 2))
        lastRecordWallTime = task.clock.now()
        try load()
        task.onCommit { [unowned self] in self.writeChanges() }
        task.onEndOfInput { [unowned self] in try self.closeAll() }
        if let idle = options.idleClose {
            _ = task.schedule(Punctuator(processor: name, interval: min(idle.wholeMilliseconds, 1000), type: .wallClockTime) {
                [unowned self] now in try self.closeIfIdle(now: now, idle: idle.wholeMilliseconds)
            })
        }
        if case .update(let every) = options.emit {
            _ = task.schedule(Punctuator(processor: name, interval: every.wholeMilliseconds, type: .wallClockTime) {
                [unowned self] _ in try self.emitChanged()
            })
        }
    }

    /// Reads the open windows, the carried values and the closed mark back from the store.
    private func load() throws {
        try store.bytes.scan(from: WindowStore.storeKey([], windowStart: AggregateStoreLayout.metaStart), to: nil) { k, v in
            let (_, key) = WindowStore.split(k)
            if key == AggregateStoreLayout.closedKey {
                closedBefore = [UInt8](v).readBigEndian(at: 0)
            } else if key.first == 1 {
                carried[Array(key.dropFirst())] = try aggregator.decode([UInt8](v))
            } else if key.first == 2, let position = UpstreamPosition(encoded: [UInt8](v)) {
                upstream[position.source] = position
            }
            return true
        }
        try windowStore.windows(from: closedBefore, to: AggregateStoreLayout.metaStart) { start, key, value in
            open[Slot(start: start, key: key)] = Entry(aggregate: try aggregator.decode([UInt8](value)), dirty: false)
            keysByStart[start, default: []].append(key)
            return true
        }
        starts = keysByStart.keys.sorted()
    }

    func process(_ record: Record<A.Input>) throws {
        // Records before the store's position are in its state already (a
        // restart that resumes before the last state write).
        if let p = record.provenance, let position = store.committedInputOffset, p.offset < position { return }
        // A record that came through a repartition topic again (its upstream
        // task sent it before a crash, and again after) is in the state already.
        if let position = UpstreamPosition(headers: record.headers) {
            guard position.isAfter(upstream[position.source]) else { return }
            upstream[position.source] = position
            upstreamDirty.insert(position.source)
        }
        if options.idleClose != nil { lastRecordWallTime = task.clock.now() }
        // Stream time as this step sees it: records' times may have been
        // read from their fields after the task saw their Kafka timestamps.
        if record.timestamp > streamTime { streamTime = record.timestamp }
        let windows = options.windows.starts(containing: record.timestamp).filter {
            $0 >= closedBefore && options.windows.closeTime(start: $0) > streamTime
        }
        guard !windows.isEmpty else { return try late(record, streamTime: streamTime) }
        let updates = try attributed(to: name) { try aggregator.updates(of: record) }
        // Windows this record's time closed go first: what they carry on
        // starts the windows it opens.
        try closeDue(streamTime: streamTime, trigger: record.provenance)
        for (key, update) in updates {
            for start in windows { add(update, key: key, start: start) }
        }
    }

    private func add(_ update: A.Update, key: [UInt8], start: Int64) {
        let slot = Slot(start: start, key: key)
        // One hash lookup per update (this runs for every metric of every record).
        let index = open.index(forKey: slot) ?? openWindow(slot)
        aggregator.add(update, to: &open.values[index].aggregate)
        open.values[index].dirty = true
        open.values[index].unemitted = true
    }

    private func openWindow(_ slot: Slot) -> [Slot: Entry].Index {
        let (start, key) = (slot.start, slot.key)
        if keysByStart[start] == nil {
            let i = starts.firstIndex { $0 > start } ?? starts.endIndex
            starts.insert(start, at: i)
        }
        keysByStart[start, default: []].append(key)
        open[slot] = Entry(aggregate: aggregator.initial(key: key, carried: carriedValue(for: key, before: start)))
        return open.index(forKey: slot)!
    }

    /// What the key's latest earlier window passes on: that window's
    /// current aggregate while it is still open (in its grace period), what
    /// it left when it closed otherwise.
    private func carriedValue(for key: [UInt8], before start: Int64) -> A.Aggregate? {
        for earlier in starts.reversed() where earlier < start {
            if let entry = open[Slot(start: earlier, key: key)], let value = aggregator.carry(entry.aggregate) { return value }
        }
        return carried[key]
    }

    private func late(_ record: Record<A.Input>, streamTime: Int64) throws {
        task.recordLate()
        guard options.lateToDeadLetter else { return }
        let last = options.windows.starts(containing: record.timestamp).last ?? record.timestamp
        throw ProcessingError(processor: name, underlying: LateRecord(timestamp: record.timestamp, streamTime: streamTime,
                                                                      windowStart: last))
    }

    /// Closes, in start order, the windows whose close time stream time reached.
    private func closeDue(streamTime: Int64, trigger: Provenance?) throws {
        while let start = starts.first, options.windows.closeTime(start: start) <= streamTime {
            try close(start, trigger: trigger)
        }
    }

    private func close(_ start: Int64, trigger: Provenance?) throws {
        starts.removeFirst()
        for key in keysByStart.removeValue(forKey: start) ?? [] {
            guard let entry = open.removeValue(forKey: Slot(start: start, key: key)) else { continue }
            if let next = aggregator.carry(entry.aggregate) {
                carried[key] = next
                carriedDirty.insert(key)
            }
            try forward(key: key, start: start, entry.aggregate, isFinal: true, trigger: trigger)
        }
        closedBefore = max(closedBefore, start + options.windows.advance)
        closedBeforeDirty = true
    }

    private func closeIfIdle(now: Int64, idle: Int64) throws {
        guard now - lastRecordWallTime >= idle else { return }
        try closeAll()
    }

    private func closeAll() throws {
        while let start = starts.first { try close(start, trigger: nil) }
    }

    private func emitChanged() throws {
        for start in starts {
            for key in keysByStart[start] ?? [] {
                let slot = Slot(start: start, key: key)
                guard let entry = open[slot], entry.unemitted else { continue }
                open[slot]!.unemitted = false
                try forward(key: key, start: start, entry.aggregate, isFinal: false, trigger: nil)
            }
        }
    }

    private func forward(key: [UInt8], start: Int64, _ aggregate: A.Aggregate, isFinal: Bool, trigger: Provenance?) throws {
        let result = Result(key: key, start: start, end: start + options.windows.size, aggregate: aggregate, isFinal: isFinal)
        try emit(Record(key: key, value: result, timestamp: start, provenance: trigger))
    }

    /// Adds the changed windows, carried values and closed mark to the
    /// commit's batch, and the expiry of segments past the retention.
    private func writeChanges() {
        let dirty = open.compactMap { $0.value.dirty ? $0.key : nil }
        store.change { batch in
            for slot in dirty {
                windowStore.put(slot.key, windowStart: slot.start, aggregator.encode(open[slot]!.aggregate), into: &batch)
                open[slot]!.dirty = false
            }
            for key in carriedDirty {
                if let value = carried[key] {
                    batch.put(AggregateStoreLayout.carriedKey(key), aggregator.encode(value))
                }
            }
            carriedDirty.removeAll()
            for source in upstreamDirty {
                let last = upstream[source]!
                batch.put(AggregateStoreLayout.upstreamKey(last), last.encoded)
            }
            upstreamDirty.removeAll()
            if closedBeforeDirty {
                let mark = AggregateStoreLayout.closedMark(before: closedBefore)
                batch.put(mark.key, mark.value)
                closedBeforeDirty = false
            }
            windowStore.expire(streamTime: streamTime, into: &batch)
        }
    }
}

extension Stream {
    /// Aggregates the records in windows of event time, per key, into the
    /// task's state store `store`, and forwards each key's result per
    /// window as `options.emit` says. Records for windows that closed are
    /// counted as late (and dead-lettered unless told otherwise).
    public func windowedAggregate<A: WindowAggregator>(named name: String? = nil, store: String, options: WindowedAggregateOptions,
                                                       _ aggregator: A) -> Stream<WindowedResult<A.Aggregate>>
    where A.Input == Value {
        let name = builder.name(name, "aggregate")
        builder.claimStore(store, for: name, retention: options.windows.size + options.windows.grace)
        builder.add(name, kind: "aggregate", parents: [node]) { context in
            let node = try attributed(to: name) {
                try WindowedAggregateNode(name: name, aggregator: aggregator, options: options,
                                          store: try context.task.store(named: store), task: context.task,
                                          emit: context.emit(WindowedResult<A.Aggregate>.self))
            }
            return Node<Value>(name: name) { record in try node.process(record) }
        }
        return Stream<WindowedResult<A.Aggregate>>(builder: builder, node: name)
    }
}
