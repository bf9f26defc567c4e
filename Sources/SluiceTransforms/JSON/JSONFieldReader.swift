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
    /// (A SIMD vector rather than an `InlineArray`, whose subscript copied
    /// the whole array to the stack on every read.)
    private let words: SIMD8<UInt64>
    /// Each key's length, up to 0xFE (lanes past the last key: 0xFF); read
    /// only for members of up to eight bytes.
    private let shortLengths: SIMD8<UInt8>

    /// The most fields one reader reads.
    public static let maxFields = 8

    /// A reader of the fields named `keys` (distinct, at most ``maxFields``).
    public init(_ keys: [String]) {
        precondition(keys.count <= Self.maxFields, "a JSONFieldReader reads at most \(Self.maxFields) fields")
        precondition(Set(keys).count == keys.count, "a JSONFieldReader reads each field once: \(keys)")
        self.keys = keys.map { Array($0.utf8) }
        lengths = self.keys.reduce(0) { $0 | Picks.lengthBit($1.count) }
        var words = SIMD8<UInt64>(repeating: 0)
        for (k, key) in self.keys.enumerated() {
            for (i, byte) in key.prefix(8).enumerated() { words[k] |= UInt64(byte) << (8 * UInt64(i)) }
        }
        self.words = words
        var shortLengths = SIMD8<UInt8>(repeating: 0xFF)
        for (k, key) in self.keys.enumerated() { shortLengths[k] = UInt8(min(key.count, 0xFE)) }
        self.shortLengths = shortLengths
    }

    /// Validates `bytes` as a JSON document whose top level is an object and
    /// returns the named fields' values.
    public func read(_ bytes: [UInt8]) throws(JSONError) -> JSONFields {
        // Positions are kept as 32-bit integers.
        guard bytes.count <= Int32.max else { throw JSONError(message: "a document of 2 GiB or more", offset: 0) }
        // The keys are lent for the scan: held by `Picks`, their array cost a retain and a release per document.
        let (starts, ends) = try keys.withUnsafeBufferPointer { keys throws(JSONError) in
            var picks = Picks(keys: keys, lengths: lengths, words: words, shortLengths: shortLengths)
            try JSONObjectView.scan(bytes, into: &picks)
            return (picks.starts, picks.ends)
        }
        return JSONFields(document: bytes, starts: starts, ends: ends)
    }

    /// Keeps the value positions of the members whose keys are wanted.
    private struct Picks: JSONMembers {
        let keys: UnsafeBufferPointer<[UInt8]>
        let lengths: UInt64
        let words: SIMD8<UInt64>
        let shortLengths: SIMD8<UInt8>
        /// Start and end of each key's value; -1 while not found.
        var starts = JSONFields.Positions(repeating: -1), ends = JSONFields.Positions(repeating: -1)

        @inline(__always)
        mutating func add(_ field: JSONObjectView.Field, in document: UnsafeBufferPointer<UInt8>) {
            let length = field.keyEnd - field.keyStart
            // Most members are not wanted, and a key of no wanted length is not.
            guard lengths & Self.lengthBit(length) != 0 || field.keyHasEscapes else { return }
            // A short key far enough from the end is read as one word and
            // compared with the lengths and words kept in vectors: reading
            // each wanted key's array, or a call to compare bytes, cost more.
            if !field.keyHasEscapes, length <= 8, field.keyStart + 8 <= document.count {
                let word = UInt64(littleEndian: UnsafeRawPointer(document.baseAddress! + field.keyStart).loadUnaligned(as: UInt64.self))
                    & (length == 8 ? .max : (1 << (8 * UInt64(length))) - 1)
                for k in keys.indices where Int(shortLengths[k]) == length && words[k] == word {
                    record(field, at: k)
                    return
                }
                return
            }
            for k in keys.indices where keys[k].count == length || field.keyHasEscapes {
                guard keys[k].withUnsafeBufferPointer({ field.hasKey($0, in: document) }) else { continue }
                record(field, at: k)
                return
            }
        }

        @inline(__always)
        private mutating func record(_ field: JSONObjectView.Field, at k: Int) {
            starts[k] = Int32(truncatingIfNeeded: field.valueStart)
            ends[k] = Int32(truncatingIfNeeded: field.valueEnd)
        }

        @inline(__always)
        static func lengthBit(_ length: Int) -> UInt64 { 1 << UInt64(min(length, 63)) }
    }
}

/// The fields a ``JSONFieldReader`` read from one document, by the index of
/// their name in the reader.
public struct JSONFields: Sendable {
    let document: [UInt8]
    /// Where each field's value starts and ends; -1 for a field the document lacks.
    let starts: Positions, ends: Positions

    /// One position per field (``JSONFieldReader/maxFields``).
    typealias Positions = SIMD8<Int32>

    /// The value of the reader's `index`-th field; `nil` if the document
    /// lacks it. With duplicate keys, the last one wins, as in ``JSONObjectView``.
    public subscript(index: Int) -> JSONObjectView.Value? {
        range(index).map { JSONObjectView.Value(raw: document[$0]) }
    }

    /// The `index`-th field's type; `nil` if the document lacks it. Read in
    /// place, as are ``int(_:)`` and ``hasPrefix(_:_:)``: a ``Value`` holds
    /// on to the document, which costs a retain and a release per field read.
    public func kind(_ index: Int) -> JSONKind? {
        range(index).map { JSONObjectView.Value.kind(first: document[$0.lowerBound]) }
    }

    /// The `index`-th field's integer value; `nil` if the document lacks
    /// it or it is not an integral number (as ``JSONObjectView/Value/int``).
    public func int(_ index: Int) -> Int? {
        range(index).flatMap { Int(decimal: document, in: $0) }
    }

    /// Whether the `index`-th field is a string that starts with `prefix`
    /// (as ``JSONObjectView/Value/hasPrefix(_:)``); `false` if the document lacks it.
    public func hasPrefix(_ index: Int, _ prefix: String) -> Bool {
        guard let range = range(index) else { return false }
        return document.withUnsafeBufferPointer { JSONObjectView.Value.hasPrefix(UnsafeBufferPointer(rebasing: $0[range]), prefix) }
    }

    /// Where the `index`-th field's value is in the document; `nil` if the document lacks it.
    @inline(__always)
    private func range(_ index: Int) -> Range<Int>? {
        let start = Int(starts[index])
        return start < 0 ? nil : start..<Int(ends[index])
    }
}
