import CRocksDB
import Glibc
import Synchronization

/// A state store failed: RocksDB reported an error, or a store's files
/// are not what Sluice wrote.
public struct StateError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// A store on RocksDB: one database per task and store, its memory drawn
/// from a shared ``StateBudget``. Data lives in the default column family;
/// a second, small one holds the store's ``StorePosition``, written in the
/// same batch as the data it describes. Writes go through RocksDB's log,
/// so a killed process finds every completed batch on restart; replayable
/// batches skip it, and are flushed to disk before the next batch that is
/// not.
public final class RocksDBStore: ByteStore {
    private let db: OpaquePointer
    private let data: OpaquePointer
    private let meta: OpaquePointer
    private let options: OpaquePointer
    private let positionOptions: OpaquePointer
    private let tableOptions: OpaquePointer
    private let readOptions: OpaquePointer
    private let writeOptions: OpaquePointer
    private let unloggedWriteOptions: OpaquePointer
    /// Whether replayable changes may sit only in memory.
    private var holdsUnlogged = false
    private let budget: StateBudget
    private let memtableSize = Atomic<Int>(0)
    private var isOpen = true
    /// The database's directory.
    public let path: String
    public private(set) var position: StorePosition?

    /// Opens (creating if needed) the database at `path`, its memory drawn
    /// from `budget`.
    public init(path: String, budget: StateBudget) throws(StateError) {
        self.path = path
        self.budget = budget
        let options = rocksdb_options_create()!
        self.options = options
        rocksdb_options_set_create_if_missing(options, 1)
        rocksdb_options_set_create_missing_column_families(options, 1)
        rocksdb_options_set_max_write_buffer_number(options, 2)
        let size = budget.writeBufferSize(stores: budget.openStores + 1)
        rocksdb_options_set_write_buffer_size(options, size)
        memtableSize.store(size, ordering: .relaxed)
        rocksdb_options_set_max_open_files(options, 64)
        rocksdb_options_set_keep_log_file_num(options, 2)
        rocksdb_options_set_info_log_level(options, 2) // WARN: no LOG chatter per flush
        // Windows expire within their retention, so most data never gets
        // past level 1: those levels stay uncompressed (compressing them cost
        // flushes and compactions CPU that restores and commits wait for).
        var compression = [Int32](repeating: Int32(rocksdb_lz4_compression), count: 7)
        compression[0] = Int32(rocksdb_no_compression)
        compression[1] = Int32(rocksdb_no_compression)
        rocksdb_options_set_compression_per_level(options, &compression, compression.count)
        let tableOptions = rocksdb_block_based_options_create()!
        self.tableOptions = tableOptions
        rocksdb_block_based_options_set_block_cache(tableOptions, budget.cache)
        rocksdb_block_based_options_set_cache_index_and_filter_blocks(tableOptions, 1)
        rocksdb_options_set_block_based_table_factory(options, tableOptions)
        // The position family holds one key: a small memtable keeps its arena small.
        let positionOptions = rocksdb_options_create_copy(options)!
        self.positionOptions = positionOptions
        rocksdb_options_set_write_buffer_size(positionOptions, 64 << 10)

        var handles = [OpaquePointer?](repeating: nil, count: 2)
        var error: UnsafeMutablePointer<CChar>?
        let names = ["default", "sluice-position"]
        let opened: OpaquePointer? = names.withCStrings { cNames in
            var familyOptions: [OpaquePointer?] = [options, positionOptions]
            return rocksdb_open_column_families(options, path, 2, cNames, &familyOptions, &handles, &error)
        }
        guard let opened, error == nil, let d = handles[0], let m = handles[1] else {
            rocksdb_block_based_options_destroy(tableOptions)
            rocksdb_options_destroy(positionOptions)
            rocksdb_options_destroy(options)
            throw StateError("cannot open state store \(path): \(consume(error))")
        }
        db = opened
        data = d
        meta = m
        readOptions = rocksdb_readoptions_create()
        writeOptions = rocksdb_writeoptions_create()
        unloggedWriteOptions = rocksdb_writeoptions_create()
        rocksdb_writeoptions_disable_WAL(unloggedWriteOptions, 1)
        if let bytes = try read(StorePosition.key, family: meta) {
            guard let stored = StorePosition(encoded: bytes) else { throw StateError("\(path) holds an unreadable position") }
            position = stored
        }
        budget.opened(self)
    }

    deinit { close() }

    public func get(_ key: [UInt8]) throws(StateError) -> [UInt8]? { try read(key, family: data) }

    private func read(_ key: [UInt8], family: OpaquePointer) throws(StateError) -> [UInt8]? {
        var length = 0
        var error: UnsafeMutablePointer<CChar>?
        let value = key.withCChars { k, kn in rocksdb_get_cf(db, readOptions, family, k, kn, &length, &error) }
        if error != nil { throw StateError("cannot read \(path): \(consume(error))") }
        guard let value else { return nil }
        defer { rocksdb_free(value) }
        return [UInt8](UnsafeRawBufferPointer(start: value, count: length))
    }

    public func write(_ batch: StoreBatch) throws(StateError) {
        let unlogged = batch.isReplayable && batch.position == nil
        if holdsUnlogged, !unlogged { try flush() }
        let b = rocksdb_writebatch_create()
        defer { rocksdb_writebatch_destroy(b) }
        batch.forEach { change in
            switch change {
            case .put(let key, let value):
                rocksdb_writebatch_put_cf(b, data, key.cChars, key.count, value.cChars, value.count)
            case .delete(let key):
                rocksdb_writebatch_delete_cf(b, data, key.cChars, key.count)
            case .deleteRange(let start, let end):
                rocksdb_writebatch_delete_range_cf(b, data, start.cChars, start.count, end.cChars, end.count)
            }
        }
        if let position = batch.position {
            let value = position.encoded
            StorePosition.key.withCChars { k, kn in value.withCChars { v, vn in rocksdb_writebatch_put_cf(b, meta, k, kn, v, vn) } }
        }
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_write(db, unlogged ? unloggedWriteOptions : writeOptions, b, &error)
        if error != nil { throw StateError("cannot write \(path): \(consume(error))") }
        if unlogged { holdsUnlogged = true }
        if let p = batch.position { position = p }
    }

    /// Writes the data's memtables to disk and waits until they are there.
    private func flush() throws(StateError) {
        let options = rocksdb_flushoptions_create()
        defer { rocksdb_flushoptions_destroy(options) }
        rocksdb_flushoptions_set_wait(options, 1)
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_flush_cf(db, options, data, &error)
        if error != nil { throw StateError("cannot flush \(path): \(consume(error))") }
        holdsUnlogged = false
    }

    public func scan(from start: [UInt8], to end: [UInt8]?,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        let it = rocksdb_create_iterator_cf(db, readOptions, data)!
        defer { rocksdb_iter_destroy(it) }
        start.withCChars { s, sn in rocksdb_iter_seek(it, s, sn) }
        while rocksdb_iter_valid(it) != 0 {
            var kn = 0, vn = 0
            let k = UnsafeRawBufferPointer(start: rocksdb_iter_key(it, &kn), count: kn)
            if let end, !k.lexicographicallyPrecedes(end) { break }
            let v = UnsafeRawBufferPointer(start: rocksdb_iter_value(it, &vn), count: vn)
            guard try body(k, v) else { break }
            rocksdb_iter_next(it)
        }
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_iter_get_error(it, &error)
        if error != nil { throw StateError("cannot scan \(path): \(consume(error))") }
    }

    /// How many entries of the data are in memory only, not yet in files.
    public var memtableEntries: Int {
        dataProperties(["rocksdb.num-entries-active-mem-table", "rocksdb.num-entries-imm-mem-tables"])
    }

    public var approximateBytes: Int { dataProperties(["rocksdb.total-sst-files-size", "rocksdb.cur-size-all-mem-tables"]) }

    /// The sum of the data column family's integer properties `names` (one it lacks counts 0).
    private func dataProperties(_ names: [String]) -> Int {
        names.reduce(0) { sum, name in
            var value: UInt64 = 0
            return rocksdb_property_int_cf(db, data, name, &value) == 0 ? sum + Int(value) : sum
        }
    }

    /// Sets the size of each of the two memtables.
    func setWriteBufferSize(_ bytes: Int) {
        var error: UnsafeMutablePointer<CChar>?
        ["write_buffer_size"].withCStrings { keys in
            [String(bytes)].withCStrings { values in
                rocksdb_set_options_cf(db, data, 1, keys, values, &error)
            }
        }
        // A refused size leaves the one in force; the budget is a target, not a limit RocksDB enforces.
        if error == nil { memtableSize.store(bytes, ordering: .relaxed) } else { rocksdb_free(error) }
    }

    /// The size of each of the store's two memtables, as its budget sets it.
    public var writeBufferSize: Int { memtableSize.load(ordering: .relaxed) }

    public func close() {
        guard isOpen else { return }
        isOpen = false
        budget.closed(self)
        rocksdb_column_family_handle_destroy(data)
        rocksdb_column_family_handle_destroy(meta)
        rocksdb_close(db)
        rocksdb_readoptions_destroy(readOptions)
        rocksdb_writeoptions_destroy(writeOptions)
        rocksdb_writeoptions_destroy(unloggedWriteOptions)
        rocksdb_block_based_options_destroy(tableOptions)
        rocksdb_options_destroy(positionOptions)
        rocksdb_options_destroy(options)
    }

    /// Deletes the files of the database at `path` (it must be closed).
    public static func destroy(path: String) throws(StateError) {
        let options = rocksdb_options_create()
        defer { rocksdb_options_destroy(options) }
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_destroy_db(options, path, &error)
        if error != nil { throw StateError("cannot delete state store \(path): \(consume(error))") }
    }
}

/// RocksDB's error text, freed.
private func consume(_ error: UnsafeMutablePointer<CChar>?) -> String {
    guard let error else { return "unknown error" }
    defer { rocksdb_free(error) }
    return String(cString: error)
}

extension Array where Element == UInt8 {
    func withCChars<R>(_ body: (UnsafePointer<CChar>?, Int) -> R) -> R {
        withUnsafeBytes { body($0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
    }
}

private extension UnsafeRawBufferPointer {
    var cChars: UnsafePointer<CChar>? { baseAddress?.assumingMemoryBound(to: CChar.self) }
}

extension Array where Element == String {
    /// Calls `body` with the strings as C strings, valid during the call.
    func withCStrings<R>(_ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies = map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers = copies.map { UnsafePointer($0) }
        return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}
