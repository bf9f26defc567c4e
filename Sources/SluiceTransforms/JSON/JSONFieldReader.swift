/// Reads a few named top-level fields from JSON objects: each document is
/// validated in one pass as ``JSONObjectView`` validates it, but only the
/// named fields' positions are kept. For a processor that looks at the same
/// few fields of every record (up to ``maxFields``); made once, used for
/// every document, and a read allocates nothing.
///
/// ```swift
/// let reader = JSONFieldReader(["status", "path"])
/// let fields = try reader.read(bytes)   // fields[0]: status, fields[1]: path
/// ```
public struct JSONFieldReader: Sendable {
    private let keys: [[UInt8]]
    /// Bit `n` is set when a key is `n` bytes long (bit 63: 63 or more).
    private let lengths: UInt64
    /// Each key's first eight bytes as a little-endian word, zero above
    /// its length: a key of up to eight bytes is compared in one load.
    private let words: InlineArray<8, UInt64>

    /// The most fields one reader reads.
    public static let maxFields = 8

    /// A reader of the fields named `keys` (distinct, at most ``maxFields``).
    public init(_ keys: [String]) {
        precondition(keys.count <= Self.maxFields, "a JSONFieldReader reads at most \(Self.maxFields) fields")
        precondition(Set(keys).count == keys.count, "a JSONFieldReader reads each field once: \(keys)")
        self.keys = keys.map { Array($0.utf8) }
        lengths = self.keys.reduce(0) { $0 | Picks.lengthBit($1.count) }
        var words = InlineArray<8, UInt64>(repeating: 0)
        for (k, key) in self.keys.enumerated() {
            for (i, byte) in key.prefix(8).enumerated() { words[k] |= UInt64(byte) << (8 * UInt64(i)) }
        }
        self.words = words
    }

    /// Validates `bytes` as a JSON document whose top level is an object and
    /// returns the named fields' values.
    public func read(_ bytes: [UInt8]) throws(JSONError) -> JSONFields {
        var picks = Picks(keys: keys, lengths: lengths, words: words)
        try JSONObjectView.scan(bytes, into: &picks)
        return JSONFields(document: bytes, values: picks.values)
    }

    /// Keeps the value positions of the members whose keys are wanted.
    private struct Picks: JSONMembers {
        let keys: [[UInt8]]
        let lengths: UInt64
        let words: InlineArray<8, UInt64>
        /// Start and end of each key's value; -1 while not found.
        var values = JSONFields.Positions(repeating: -1)

        @inline(__always)
        mutating func add(_ field: JSONObjectView.Field, in document: UnsafeBufferPointer<UInt8>) {
            let length = field.keyEnd - field.keyStart
            // Most members are not wanted, and a key of no wanted length is not.
            guard lengths & Self.lengthBit(length) != 0 || field.keyHasEscapes else { return }
            // A short key far enough from the end is read as one word; a
            // call to compare bytes cost more than the comparison.
            let word: UInt64? = if !field.keyHasEscapes, length <= 8, field.keyStart + 8 <= document.count {
                UInt64(littleEndian: UnsafeRawPointer(document.baseAddress! + field.keyStart).loadUnaligned(as: UInt64.self))
                    & (length == 8 ? .max : (1 << (8 * UInt64(length))) - 1)
            } else {
                nil
            }
            for k in keys.indices where keys[k].count == length || field.keyHasEscapes {
                if let word {
                    guard word == words[k] else { continue }
                } else {
                    guard keys[k].withUnsafeBufferPointer({ field.hasKey($0, in: document) }) else { continue }
                }
                values[2 * k] = field.valueStart
                values[2 * k + 1] = field.valueEnd
                return
            }
        }

        @inline(__always)
        static func lengthBit(_ length: Int) -> UInt64 { 1 << UInt64(min(length, 63)) }
    }
}

/// The fields a ``JSONFieldReader`` read from one document, by the index of
/// their name in the reader.
public struct JSONFields: Sendable {
    let document: [UInt8]
    /// Start and end of each field's value; -1 for a field the document lacks.
    let values: Positions

    typealias Positions = InlineArray<16, Int> // 2 × JSONFieldReader.maxFields

    /// The value of the reader's `index`-th field; `nil` if the document
    /// lacks it. With duplicate keys, the last one wins, as in ``JSONObjectView``.
    public subscript(index: Int) -> JSONObjectView.Value? {
        let start = values[2 * index]
        return start < 0 ? nil : JSONObjectView.Value(raw: document[start..<values[2 * index + 1]])
    }
}
