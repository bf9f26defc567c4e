import SluiceState
import Testing

@Suite struct WindowStoreTests {
    private func windows(_ store: WindowStore, from: Int64 = .min, to: Int64 = .max) throws -> [String] {
        var out: [String] = []
        try store.windows(from: from, to: to) { start, key, value in
            out.append("\(start):\(String(decoding: key, as: UTF8.self))=\(String(decoding: value, as: UTF8.self))")
            return true
        }
        return out
    }

    @Test(arguments: StoreKind.allCases)
    func windowsAreScannedInTimeOrderThenKeyOrder(_ kind: StoreKind) throws {
        try withStore(kind) { byteStore in
            let store = WindowStore(store: byteStore, retention: 60_000)
            var batch = StoreBatch()
            store.put(text("web"), windowStart: 20_000, text("3"), into: &batch)
            store.put(text("api"), windowStart: 10_000, text("1"), into: &batch)
            store.put(text("web"), windowStart: 10_000, text("2"), into: &batch)
            store.put(text("api"), windowStart: -10_000, text("0"), into: &batch)
            try store.store.write(batch)
            #expect(try windows(store) == ["-10000:api=0", "10000:api=1", "10000:web=2", "20000:web=3"])
            #expect(try windows(store, from: 0, to: 20_000) == ["10000:api=1", "10000:web=2"])
            #expect(try store.fetch(text("web"), windowStart: 20_000) == text("3"))
            #expect(try store.fetch(text("web"), windowStart: 30_000) == nil)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func expiryDropsWholeSegmentsPastTheRetentionWithOneRangeDeletion(_ kind: StoreKind) throws {
        try withStore(kind) { byteStore in
            let store = WindowStore(store: byteStore, retention: 30_000, segmentInterval: 10_000)
            var batch = StoreBatch()
            for start in stride(from: Int64(0), to: 60_000, by: 5_000) { store.put(text("k"), windowStart: start, text("v"), into: &batch) }
            try store.store.write(batch)

            var expiry = StoreBatch()
            // Stream time 55 s: the horizon is 25 s, so the segments before 20 s go.
            #expect(store.expire(streamTime: 55_000, into: &expiry))
            #expect(expiry.count == 1)
            try store.store.write(expiry)
            #expect(try windows(store).first == "20000:k=v")
            #expect(try windows(store).count == 8)

            var again = StoreBatch()
            #expect(!store.expire(streamTime: 59_999, into: &again), "no new whole segment has expired")
            #expect(again.isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aWindowOfAnExpiredSegmentIsNeitherWrittenNorRead(_ kind: StoreKind) throws {
        try withStore(kind) { byteStore in
            let store = WindowStore(store: byteStore, retention: 10_000, segmentInterval: 10_000)
            var batch = StoreBatch()
            store.put(text("k"), windowStart: 0, text("old"), into: &batch)
            try store.store.write(batch)
            var expiry = StoreBatch()
            store.expire(streamTime: 25_000, into: &expiry)
            #expect(store.expiredBefore == 10_000)
            var late = StoreBatch()
            #expect(!store.put(text("k"), windowStart: 5_000, text("late"), into: &late))
            #expect(late.isEmpty)
            #expect(try store.fetch(text("k"), windowStart: 0) == nil, "expired before the range deletion is written")
        }
    }
}
