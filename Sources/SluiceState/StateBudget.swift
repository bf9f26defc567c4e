import CRocksDB
import Synchronization

/// The memory every RocksDB store of the process shares: one block cache
/// (index and filter blocks included) and one memtable budget, divided
/// evenly among the stores open at the time, so memory stays bounded
/// however many tasks a process is given.
public final class StateBudget: Sendable {
    /// The block cache's capacity in bytes.
    public let blockCacheBytes: Int
    /// The memtables' total in bytes: each store gets two memtables of
    /// `memtableBytes / (2 × open stores)` (at least 256 KB).
    public let memtableBytes: Int
    nonisolated(unsafe) let cache: OpaquePointer
    // Unretained: a store leaves the budget in close(), before it is freed.
    private let stores = Mutex<[ObjectIdentifier: Registered]>([:])

    // Unchecked: RocksDB's SetOptions, the one call made through it, is thread-safe.
    private struct Registered: @unchecked Sendable {
        unowned(unsafe) let store: RocksDBStore
    }

    /// Creates a budget: 32 MB of block cache and 32 MB of memtables by default.
    public init(blockCacheBytes: Int = 32 << 20, memtableBytes: Int = 32 << 20) {
        self.blockCacheBytes = blockCacheBytes
        self.memtableBytes = memtableBytes
        cache = rocksdb_cache_create_lru(blockCacheBytes)
    }

    deinit { rocksdb_cache_destroy(cache) }

    /// The stores open under this budget.
    public var openStores: Int { stores.withLock { $0.count } }

    /// The bytes the block cache holds now.
    public var blockCacheUsage: Int { rocksdb_cache_get_usage(cache) }

    /// Each memtable's size when `count` stores are open.
    func writeBufferSize(stores count: Int) -> Int {
        max(256 << 10, memtableBytes / (2 * max(1, count)))
    }

    func opened(_ store: RocksDBStore) {
        stores.withLock { stores in
            stores[ObjectIdentifier(store)] = Registered(store: store)
            rebalance(stores)
        }
    }

    func closed(_ store: RocksDBStore) {
        stores.withLock { stores in
            stores[ObjectIdentifier(store)] = nil
            rebalance(stores)
        }
    }

    private func rebalance(_ stores: [ObjectIdentifier: Registered]) {
        let size = writeBufferSize(stores: stores.count)
        for registered in stores.values { registered.store.setWriteBufferSize(size) }
    }
}
