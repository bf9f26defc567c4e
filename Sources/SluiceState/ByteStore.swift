/// A task's store of bytes: point reads, ordered scans, and atomic
/// batches that carry the store's position. ``RocksDBStore`` keeps it on
/// disk; ``InMemoryStore`` is for tests and for state that need not
/// outlive the process.
public protocol ByteStore: AnyObject {
    /// How far the state reaches, as last written; `nil` for a store that
    /// was never written with a position.
    var position: StorePosition? { get }
    /// The value of `key`, `nil` if absent.
    func get(_ key: [UInt8]) throws(StateError) -> [UInt8]?
    /// Applies `batch` atomically: its changes and, if set, its position.
    func write(_ batch: StoreBatch) throws(StateError)
    /// Calls `body` with each key and value from `start` (inclusive) to
    /// `end` (exclusive; `nil` for no end) in byte order, until it returns
    /// false. The buffers are valid during the call only.
    func scan(from start: [UInt8], to end: [UInt8]?,
              _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws
    /// About how many bytes the data takes: on disk and in memory for
    /// RocksDB, keys and values for memory. For metrics, not for decisions.
    var approximateBytes: Int { get }
    /// Releases the store; it must not be used afterwards.
    func close()
}

/// A ``ByteStore`` in memory.
public final class InMemoryStore: ByteStore {
    private var entries: [[UInt8]: [UInt8]] = [:]
    public private(set) var position: StorePosition?

    /// An empty store.
    public init() {}

    public func get(_ key: [UInt8]) throws(StateError) -> [UInt8]? { entries[key] }

    public private(set) var approximateBytes = 0

    public func write(_ batch: StoreBatch) throws(StateError) {
        for change in batch.changes {
            switch change {
            case .put(let key, let value):
                let old = entries.updateValue(value, forKey: key)
                approximateBytes += value.count - (old.map { $0.count } ?? -key.count)
            case .delete(let key):
                if let old = entries.removeValue(forKey: key) { approximateBytes -= key.count + old.count }
            case .deleteRange(let start, let end):
                entries = entries.filter { $0.key.lexicographicallyPrecedes(start) || !$0.key.lexicographicallyPrecedes(end) }
                approximateBytes = entries.reduce(0) { $0 + $1.key.count + $1.value.count }
            }
        }
        if let p = batch.position { position = p }
    }

    public func scan(from start: [UInt8], to end: [UInt8]?,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        let keys = entries.keys.filter { !$0.lexicographicallyPrecedes(start) && end.map($0.lexicographicallyPrecedes) ?? true }
        for key in keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let value = entries[key]!
            let goOn = try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try body(k, v) } }
            if !goOn { return }
        }
    }

    public func close() {}
}
