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
public struct StoreBatch: Sendable {
    /// One change.
    public enum Change: Sendable, Hashable {
        /// Sets a key's value.
        case put([UInt8], [UInt8])
        /// Removes a key.
        case delete([UInt8])
        /// Removes every key from the first (inclusive) to the second
        /// (exclusive) with one range tombstone, however many there are.
        case deleteRange([UInt8], [UInt8])
    }

    /// The changes, applied in order.
    public var changes: [Change] = []
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
    public mutating func put(_ key: [UInt8], _ value: [UInt8]) { changes.append(.put(key, value)) }
    /// Sets `key` to `value`, copying both from buffers.
    public mutating func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) { put(Array(key), Array(value)) }
    /// Removes `key`.
    public mutating func delete(_ key: [UInt8]) { changes.append(.delete(key)) }
    /// Removes `key`, copying it from a buffer.
    public mutating func delete(_ key: UnsafeRawBufferPointer) { delete(Array(key)) }
    /// Removes the keys in `[start, end)`.
    public mutating func deleteRange(from start: [UInt8], to end: [UInt8]) { changes.append(.deleteRange(start, end)) }
    /// Whether there is nothing to write.
    public var isEmpty: Bool { changes.isEmpty && position == nil }
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
