/// How far a store's state reaches: the input it reflects and the
/// changelog it has applied. It is written in the same atomic batch as the
/// state, so the two never disagree, whatever stops the process.
public struct StorePosition: Sendable, Hashable, CustomStringConvertible {
    /// The offset of the next input record the state has not seen.
    public var inputOffset: Int64
    /// The offset of the next changelog record the state does not hold
    /// (where a restore of the changelog's tail starts).
    public var changelogOffset: Int64

    /// Creates a position.
    public init(inputOffset: Int64, changelogOffset: Int64) {
        self.inputOffset = inputOffset
        self.changelogOffset = changelogOffset
    }

    public var description: String { "input \(inputOffset), changelog \(changelogOffset)" }

    static let key: [UInt8] = Array("position".utf8)

    var encoded: [UInt8] {
        var out: [UInt8] = []
        out.appendBigEndian(inputOffset)
        out.appendBigEndian(changelogOffset)
        return out
    }

    init?(encoded bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        inputOffset = bytes.readBigEndian(at: 0)
        changelogOffset = bytes.readBigEndian(at: 8)
    }
}

/// Changes to a store applied together: all or none, with the position
/// they bring the store to.
///
/// The changes are packed one after another in a single buffer (a kind
/// byte, then each byte string as its length and its bytes), so a batch of
/// ten thousand changes is one allocation, not twenty thousand: a restore
/// fills one per poll of its changelog.
public struct StoreBatch: Sendable {
    /// One change, its bytes copied out of the batch.
    public enum Change: Sendable, Hashable {
        /// Sets a key's value.
        case put([UInt8], [UInt8])
        /// Removes a key.
        case delete([UInt8])
        /// Removes every key from the first (inclusive) to the second
        /// (exclusive) with one range tombstone, however many there are.
        case deleteRange([UInt8], [UInt8])
    }

    /// One change, its bytes lent from the batch for the length of a call.
    public enum LentChange {
        /// Sets a key (first) to a value (second).
        case put(UnsafeRawBufferPointer, UnsafeRawBufferPointer)
        /// Removes a key.
        case delete(UnsafeRawBufferPointer)
        /// Removes the keys from the first (inclusive) to the second (exclusive).
        case deleteRange(UnsafeRawBufferPointer, UnsafeRawBufferPointer)
    }

    private enum Kind: UInt8 { case put, delete, deleteRange }

    private var packed: [UInt8] = []
    /// How many changes the batch holds.
    public private(set) var count = 0
    /// The position the store reaches with them; `nil` leaves it unchanged.
    public var position: StorePosition?
    /// Whether the changes can be read again from the store's changelog, as
    /// a restore's can: a store may then keep them out of its own log, so a
    /// crash can lose them. A batch with a position is never kept out, and a
    /// store makes every replayable change durable before it writes any
    /// other batch, so a position never stands for lost changes.
    public var isReplayable = false

    /// An empty batch.
    public init() {}

    /// Sets `key` to `value`.
    public mutating func put(_ key: [UInt8], _ value: [UInt8]) {
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in put(k, v) } }
    }
    /// Sets `key` to `value`, copying both from buffers.
    public mutating func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) { append(.put, key, value) }
    /// Removes `key`.
    public mutating func delete(_ key: [UInt8]) { key.withUnsafeBytes { delete($0) } }
    /// Removes `key`, copying it from a buffer.
    public mutating func delete(_ key: UnsafeRawBufferPointer) { append(.delete, key) }
    /// Removes the keys in `[start, end)`.
    public mutating func deleteRange(from start: [UInt8], to end: [UInt8]) {
        start.withUnsafeBytes { s in end.withUnsafeBytes { e in append(.deleteRange, s, e) } }
    }

    /// Whether there is nothing to write.
    public var isEmpty: Bool { count == 0 && position == nil }

    /// Empties the batch of changes and position, keeping its buffer for the next.
    public mutating func removeAll() {
        packed.removeAll(keepingCapacity: true)
        count = 0
        position = nil
    }

    /// Calls `body` with each change in order, its bytes lent from the batch.
    public func forEach(_ body: (LentChange) throws -> Void) rethrows {
        try packed.withUnsafeBytes { buffer in
            var at = 0
            func next() -> UnsafeRawBufferPointer {
                let length = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                defer { at += 4 + length }
                return UnsafeRawBufferPointer(rebasing: buffer[at + 4..<at + 4 + length])
            }
            while at < buffer.count {
                let kind = Kind(rawValue: buffer[at])!
                at += 1
                switch kind {
                case .put: try body(.put(next(), next()))
                case .delete: try body(.delete(next()))
                case .deleteRange: try body(.deleteRange(next(), next()))
                }
            }
        }
    }

    /// The changes in order, copied out.
    public var changes: [Change] {
        var out: [Change] = []
        out.reserveCapacity(count)
        forEach { change in
            switch change {
            case .put(let k, let v): out.append(.put(Array(k), Array(v)))
            case .delete(let k): out.append(.delete(Array(k)))
            case .deleteRange(let s, let e): out.append(.deleteRange(Array(s), Array(e)))
            }
        }
        return out
    }

    private mutating func append(_ kind: Kind, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer? = nil) {
        packed.append(kind.rawValue)
        appendField(first)
        if let second { appendField(second) }
        count += 1
    }

    private mutating func appendField(_ bytes: UnsafeRawBufferPointer) {
        withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { packed.append(contentsOf: $0) }
        packed.append(contentsOf: bytes)
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` big-endian, so byte order sorts as numbers do
    /// (after flipping the sign bit, negative numbers first).
    @inlinable
    public mutating func appendBigEndian(_ value: Int64) {
        let ordered = UInt64(bitPattern: value) ^ (1 << 63)
        for shift in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: ordered >> UInt64(shift))) }
    }

    /// The number ``appendBigEndian(_:)`` wrote at `offset`.
    @inlinable
    public func readBigEndian(at offset: Int) -> Int64 {
        var ordered: UInt64 = 0
        for i in offset..<offset + 8 { ordered = ordered << 8 | UInt64(self[i]) }
        return Int64(bitPattern: ordered ^ (1 << 63))
    }
}
