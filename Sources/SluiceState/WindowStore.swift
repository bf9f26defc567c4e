/// Windowed values in a ``ByteStore``, keyed by window start first so that
/// a time range is a key range: windows are scanned in time order, and
/// expired windows go a whole segment at a time with one range deletion,
/// never key by key.
public final class WindowStore {
    /// The store underneath.
    public let store: ByteStore
    /// How long a window is kept after its start, in milliseconds.
    public let retention: Int64
    /// The time span expired at once, in milliseconds.
    public let segmentInterval: Int64
    /// Windows starting before this time are gone.
    public private(set) var expiredBefore = Int64.min

    /// A window store over `store` keeping windows `retention` ms after
    /// their start, expiring them in segments of `segmentInterval` ms
    /// (by default a third of the retention, at least a minute).
    public init(store: ByteStore, retention: Int64, segmentInterval: Int64? = nil) {
        self.store = store
        self.retention = retention
        self.segmentInterval = max(1, segmentInterval ?? max(60_000, retention / 3))
    }

    /// The stored key of `key`'s window starting at `start`.
    public static func storeKey(_ key: [UInt8], windowStart start: Int64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + key.count)
        out.appendBigEndian(start)
        out += key
        return out
    }

    /// The window start and key of a stored key.
    public static func split(_ storeKey: UnsafeRawBufferPointer) -> (windowStart: Int64, key: [UInt8]) {
        let bytes = [UInt8](storeKey)
        return (bytes.readBigEndian(at: 0), Array(bytes[8...]))
    }

    /// The value of `key`'s window starting at `start`.
    public func fetch(_ key: [UInt8], windowStart start: Int64) throws(StateError) -> [UInt8]? {
        guard start >= expiredBefore else { return nil }
        return try store.get(Self.storeKey(key, windowStart: start))
    }

    /// Adds the write of `key`'s window to `batch`. Returns false, writing
    /// nothing, when the window has expired.
    @discardableResult
    public func put(_ key: [UInt8], windowStart start: Int64, _ value: [UInt8], into batch: inout StoreBatch) -> Bool {
        guard start >= expiredBefore else { return false }
        batch.put(Self.storeKey(key, windowStart: start), value)
        return true
    }

    /// Calls `body` with each window starting in `[from, to)` in time
    /// order (then key order), until it returns false.
    public func windows(from: Int64, to: Int64,
                        _ body: (_ windowStart: Int64, _ key: [UInt8], _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        try store.scan(from: Self.storeKey([], windowStart: max(from, expiredBefore)), to: Self.storeKey([], windowStart: to)) { k, v in
            let (start, key) = Self.split(k)
            return try body(start, key, v)
        }
    }

    /// Adds the removal of every whole segment older than `retention`
    /// before `streamTime` to `batch`: one range deletion. Returns whether
    /// a segment expired.
    @discardableResult
    public func expire(streamTime: Int64, into batch: inout StoreBatch) -> Bool {
        guard streamTime > Int64.min + retention else { return false }
        let boundary = floorMultiple(streamTime - retention, of: segmentInterval)
        guard boundary > expiredBefore else { return false }
        batch.deleteRange(from: Self.storeKey([], windowStart: .min), to: Self.storeKey([], windowStart: boundary))
        expiredBefore = boundary
        return true
    }
}

/// The largest multiple of `m` (above 0) at or below `n`.
public func floorMultiple(_ n: Int64, of m: Int64) -> Int64 {
    let r = n % m
    return r < 0 ? n - r - m : n - r
}
