import SluiceKafka
import SluiceState

/// A task's state store as processors use it. Changes gather in a batch
/// that a commit point seals with the task's input position; the sealed
/// batch is written, in one atomic write, once every output of the records
/// before that position is durable. So the store never holds changes from
/// records past the position it records, nor misses changes from records
/// before it, and a result a store change marks as sent was delivered.
public final class TaskStore {
    /// The store's name in the topology.
    public let name: String
    /// The bytes underneath: RocksDB in a stream thread, memory in the test driver.
    public let bytes: any ByteStore
    /// Where its changes are logged; `nil` for a store without a changelog.
    let changelog: ChangelogPlace?
    /// The changes since the last seal.
    private var pending = StoreBatch()
    /// Sealed batches waiting for their outputs to be durable, oldest first.
    private var sealed: [(seal: Int, batch: StoreBatch)] = []

    init(name: String, bytes: any ByteStore, changelog: ChangelogPlace?) {
        self.name = name
        self.bytes = bytes
        self.changelog = changelog
    }

    /// The position of the last commit: the offset of the first input
    /// record whose changes the store does not hold (`nil` for a new store).
    public var committedInputOffset: Int64? { bytes.position?.inputOffset }

    /// Adds changes to the next commit's batch.
    public func change(_ body: (inout StoreBatch) -> Void) { body(&pending) }

    /// Seals the pending changes as commit point `seal` with the input
    /// position they bring the store to; returns whether there was anything
    /// to seal.
    ///
    /// Each change also goes to the changelog through `collector`, with the
    /// input position in a header. `changelogStart` is a changelog offset
    /// known to hold none of the sealed changes (a restore of local state
    /// starts there).
    @discardableResult
    func seal(_ seal: Int, inputOffset: Int64, collector: RecordCollector, changelogStart: Int64?,
              timestamp: Int64) throws -> Bool {
        let last = sealed.last?.batch.position ?? bytes.position
        // A task resumed below its state's position (the state was written,
        // the offset commit after it was lost) reads records the state holds,
        // and its aggregates pass over them: the position stays with the
        // state, or those records would count again.
        let inputOffset = max(inputOffset, last?.inputOffset ?? .min)
        guard pending.count > 0 || last?.inputOffset != inputOffset else { return false }
        if let changelog { try log(pending, inputOffset: inputOffset, to: changelog, collector: collector, timestamp: timestamp) }
        pending.position = StorePosition(inputOffset: inputOffset,
                                         changelogOffset: max(changelogStart ?? 0, last?.changelogOffset ?? 0))
        sealed.append((seal, pending))
        pending = StoreBatch()
        return true
    }

    private func log(_ batch: StoreBatch, inputOffset: Int64, to changelog: ChangelogPlace, collector: RecordCollector,
                     timestamp: Int64) throws {
        let header = [ChangelogHeader.encode(inputOffset)]
        try batch.forEach { change in
            let (key, value): (UnsafeRawBufferPointer, UnsafeRawBufferPointer?)
            switch change {
            case .put(let k, let v): (key, value) = (k, v)
            case .delete(let k): (key, value) = (k, nil)
            // Range deletions expire old windows; the changelog's own retention expires them there.
            case .deleteRange: return
            }
            try collector.sendChangelog(topic: changelog.partition.topic, partition: changelog.partition.partition,
                                        key: changelog.keyPrefix + key, value: value.map(Array.init), headers: header,
                                        timestamp: timestamp)
        }
    }

    /// Writes the sealed batches up to commit point `seal`, in order.
    func write(through seal: Int) throws(StateError) {
        while let first = sealed.first, first.seal <= seal {
            try bytes.write(first.batch)
            sealed.removeFirst()
        }
    }

    /// Drops the changes not written (the task's progress is discarded).
    func discard() {
        pending = StoreBatch()
        sealed.removeAll()
    }
}

/// What a state store is, as a topology declares it.
struct StoreSpec: Sendable, Hashable {
    let name: String
    /// The node that owns it: a store serves one processor.
    let owner: String
    /// How long its entries matter, in milliseconds (a window store's
    /// retention); `nil` for as long as they exist.
    let retention: Int64?
}

/// Where a task's store logs its changes: a partition of the store's
/// changelog topic (the task's partition number), and the prefix its keys
/// get there. Tasks of different input topics with the same partition
/// number share a changelog partition; the prefix (the input topic) keeps
/// their keys apart.
struct ChangelogPlace: Hashable {
    let partition: TopicPartition
    let keyPrefix: [UInt8]

    init(topic: String, task: TopicPartition) {
        partition = TopicPartition(topic, task.partition)
        keyPrefix = Array(task.topic.utf8) + [0]
    }

    /// The store key of a changelog record of this place and the input
    /// position its header carries; `nil` for another task's record (or one
    /// without a position).
    func change(in m: KafkaRecordView) -> (key: UnsafeRawBufferPointer, position: Int64)? {
        guard let key = m.key, key.starts(with: keyPrefix), let position = ChangelogHeader.decode(m) else { return nil }
        return (UnsafeRawBufferPointer(rebasing: key[keyPrefix.count...]), position)
    }
}
