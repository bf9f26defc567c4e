import Foundation
import SluiceState
import Testing

/// A fresh directory under the temporary directory.
func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "sluice-state-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func removeDirectory(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case rocksDB, inMemory
    var testDescription: String { rawValue }
}

/// Opens a store of `kind` in `directory`.
func openStore(_ kind: StoreKind, _ directory: String, budget: StateBudget = StateBudget()) throws -> any ByteStore {
    switch kind {
    case .rocksDB: try RocksDBStore(path: "\(directory)/store", budget: budget)
    case .inMemory: InMemoryStore()
    }
}

/// Runs `body` with a fresh store of `kind`, closed and deleted afterwards.
func withStore<R>(_ kind: StoreKind, _ body: (any ByteStore) throws -> R) throws -> R {
    let dir = temporaryDirectory()
    defer { removeDirectory(dir) }
    let store = try openStore(kind, dir)
    defer { store.close() }
    return try body(store)
}

func text(_ text: String) -> [UInt8] { Array(text.utf8) }

func allEntries(_ store: any ByteStore, from: [UInt8] = [], to: [UInt8]? = nil) throws -> [String: String] {
    var out: [String: String] = [:]
    try store.scan(from: from, to: to) { k, v in
        out[String(decoding: k, as: UTF8.self)] = String(decoding: v, as: UTF8.self)
        return true
    }
    return out
}

@Suite struct ByteStoreTests {
    @Test(arguments: StoreKind.allCases)
    func theApproximateSizeGrowsWithTheDataAndShrinksWhenItGoes(_ kind: StoreKind) throws {
        try withStore(kind) { store in
            let empty = store.approximateBytes
            var batch = StoreBatch()
            for i in 0..<1000 { batch.put(text("key-\(i)"), [UInt8](repeating: 7, count: 100)) }
            try store.write(batch)
            let full = store.approximateBytes
            #expect(full - empty >= 100_000, "at least the values' bytes")
            guard kind == .inMemory else { return }
            // Memory counts exactly; RocksDB's figure moves with flushes and compactions.
            var shrink = StoreBatch()
            shrink.put(text("key-0"), [1])
            shrink.delete(text("key-1"))
            try store.write(shrink)
            #expect(store.approximateBytes == full - 99 - (5 + 100))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aBatchAppliesItsPutsDeletesAndRangeDeletionsInOrder(_ kind: StoreKind) throws {
        try withStore(kind) { store in
        var batch = StoreBatch()
        for k in ["a", "b1", "b2", "b3", "c"] { batch.put(text(k), text("v" + k)) }
        batch.delete(text("a"))
        batch.deleteRange(from: text("b"), to: text("b3"))
        batch.put(text("b2"), text("again"))
        try store.write(batch)
        #expect(try allEntries(store) == ["b2": "again", "b3": "vb3", "c": "vc"])
        #expect(try store.get(text("a")) == nil)
        #expect(try store.get(text("c")) == text("vc"))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aScanVisitsKeysInByteOrderFromItsStartUpToItsExclusiveEnd(_ kind: StoreKind) throws {
        try withStore(kind) { store in
        var batch = StoreBatch()
        for k in ["d", "a", "c", "b"] { batch.put(text(k), text(k)) }
        try store.write(batch)
        var seen: [String] = []
        try store.scan(from: text("b"), to: text("d")) { k, _ in seen.append(String(decoding: k, as: UTF8.self)); return true }
        #expect(seen == ["b", "c"])
        seen = []
        try store.scan(from: [], to: nil) { k, _ in seen.append(String(decoding: k, as: UTF8.self)); return seen.count < 3 }
        #expect(seen == ["a", "b", "c"])
        }
    }

    @Test func aReopenedRocksDBStoreHoldsItsDataAndThePositionWrittenWithIt() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try RocksDBStore(path: "\(dir)/store", budget: StateBudget())
            #expect(store.position == nil)
            var batch = StoreBatch()
            batch.put(text("k"), text("v"))
            batch.position = StorePosition(inputOffset: 42, changelogOffset: 7)
            try store.write(batch)
            var second = StoreBatch()
            second.put(text("k2"), text("v2"))
            try store.write(second)
            #expect(store.position == StorePosition(inputOffset: 42, changelogOffset: 7))
            store.close()
        }
        let reopened = try RocksDBStore(path: "\(dir)/store", budget: StateBudget())
        defer { reopened.close() }
        #expect(reopened.position == StorePosition(inputOffset: 42, changelogOffset: 7))
        #expect(try allEntries(reopened) == ["k": "v", "k2": "v2"])
    }

    @Test func replayableChangesReachDiskBeforeTheNextBatchThatIsNot() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        do {
            let store = try RocksDBStore(path: "\(dir)/store", budget: StateBudget())
            var replayed = StoreBatch()
            replayed.isReplayable = true
            replayed.put(text("a"), text("1"))
            replayed.put(text("b"), text("2"))
            try store.write(replayed)
            #expect(store.memtableEntries == 2)
            var last = StoreBatch()
            last.put(text("c"), text("3"))
            last.position = StorePosition(inputOffset: 9, changelogOffset: 3)
            try store.write(last)
            #expect(store.memtableEntries == 1, "a and b are in files before c and the position are written")
            var next = StoreBatch()
            next.put(text("d"), text("4"))
            try store.write(next)
            #expect(store.memtableEntries == 2, "a logged batch after a logged batch flushes nothing")
            store.close()
        }
        let reopened = try RocksDBStore(path: "\(dir)/store", budget: StateBudget())
        defer { reopened.close() }
        #expect(reopened.position == StorePosition(inputOffset: 9, changelogOffset: 3))
        #expect(try allEntries(reopened) == ["a": "1", "b": "2", "c": "3", "d": "4"])
    }

    @Test func aDestroyedRocksDBStoreReopensEmpty() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let store = try RocksDBStore(path: "\(dir)/store", budget: StateBudget())
        var batch = StoreBatch()
        batch.put(text("k"), text("v"))
        batch.position = StorePosition(inputOffset: 1, changelogOffset: 1)
        try store.write(batch)
        store.close()
        try RocksDBStore.destroy(path: "\(dir)/store")
        let reopened = try RocksDBStore(path: "\(dir)/store", budget: StateBudget())
        defer { reopened.close() }
        #expect(reopened.position == nil)
        #expect(try allEntries(reopened).isEmpty)
    }

    @Test func aStoreThatCannotBeOpenedSaysWhere() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let first = try RocksDBStore(path: "\(dir)/store", budget: StateBudget())
        defer { first.close() }
        // RocksDB's own lock keeps a second opening out.
        #expect { try RocksDBStore(path: "\(dir)/store", budget: StateBudget()) } throws: { error in
            "\(error)".contains("\(dir)/store")
        }
    }

    @Test func storesShareTheBudgetsMemtablesEvenly() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let budget = StateBudget(blockCacheBytes: 8 << 20, memtableBytes: 16 << 20)
        let a = try RocksDBStore(path: "\(dir)/a", budget: budget)
        let b = try RocksDBStore(path: "\(dir)/b", budget: budget)
        #expect(budget.openStores == 2)
        #expect(a.writeBufferSize == 4 << 20 && b.writeBufferSize == 4 << 20)
        a.close()
        #expect(budget.openStores == 1)
        #expect(b.writeBufferSize == 8 << 20)
        b.close()
        #expect(budget.openStores == 0)
    }

    @Test func signedNumbersKeepTheirOrderAsBigEndianBytes() {
        let numbers: [Int64] = [.min, -1_000, -1, 0, 1, 255, 256, 1_700_000_000_000, .max]
        let encoded = numbers.map { n -> [UInt8] in var b: [UInt8] = []; b.appendBigEndian(n); return b }
        #expect(encoded == encoded.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(encoded.map { $0.readBigEndian(at: 0) } == numbers)
    }
}
