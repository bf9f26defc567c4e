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
    /// The changes since the last seal.
    private var pending = StoreBatch()
    /// Sealed batches waiting for their outputs to be durable, oldest first.
    private var sealed: [(seal: Int, batch: StoreBatch)] = []

    init(name: String, bytes: any ByteStore) {
        self.name = name
        self.bytes = bytes
    }

    /// The position of the last commit: the offset of the first input
    /// record whose changes the store does not hold (`nil` for a new store).
    public var committedInputOffset: Int64? { bytes.position?.inputOffset }

    /// Adds changes to the next commit's batch.
    public func change(_ body: (inout StoreBatch) -> Void) { body(&pending) }

    /// Seals the pending changes as commit point `seal` with the input
    /// position they bring the store to; returns whether there was anything
    /// to seal.
    @discardableResult
    func seal(_ seal: Int, inputOffset: Int64) -> Bool {
        let last = sealed.last?.batch.position ?? bytes.position
        guard !pending.changes.isEmpty || last?.inputOffset != inputOffset else { return false }
        pending.position = StorePosition(inputOffset: inputOffset, changelogOffset: last?.changelogOffset ?? 0)
        sealed.append((seal, pending))
        pending = StoreBatch()
        return true
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
}
