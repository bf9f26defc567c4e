/// Writes ``FieldValue``s as compact JSON into a byte buffer of its own.
///
/// Documents are written in many small pieces (a comma, a quoted key, a
/// colon, a value): the buffer takes each with a capacity check and a copy,
/// where `Array.append(contentsOf:)` spends about a hundred instructions of
/// bookkeeping on an 11-byte key. Copying a writer shares its bytes until
/// either copy writes again.
public struct JSONWriter {
    private var storage: Storage

    /// An empty writer with room for `capacity` bytes before it grows.
    public init(capacity: Int = 256) { storage = Storage(capacity: capacity) }

    /// `value` as JSON bytes.
    public static func encode(_ value: FieldValue) -> [UInt8] {
        var writer = JSONWriter()
        writer.write(value)
        return writer.bytes
    }

    /// How many bytes have been written.
    public var count: Int { storage.count }

    /// The bytes written so far, copied.
    public var bytes: [UInt8] { bytes(in: 0..<storage.count) }

    /// The bytes written at `range`, copied.
    public func bytes(in range: Range<Int>) -> [UInt8] {
        precondition(range.lowerBound >= 0 && range.upperBound <= storage.count, "range \(range) outside \(storage.count) bytes")
        return Array(UnsafeRawBufferPointer(start: storage.base + range.lowerBound, count: range.count))
    }

    /// Appends one byte.
    @inline(__always)
    public mutating func append(_ byte: UInt8) {
        if storage.count == storage.capacity || !isKnownUniquelyReferenced(&storage) { grow(to: storage.count + 1) }
        storage.base.storeBytes(of: byte, toByteOffset: storage.count, as: UInt8.self)
        storage.count += 1
    }

    /// Appends `bytes` as they are.
    @inline(__always)
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        let end = storage.count + bytes.count
        if end > storage.capacity || !isKnownUniquelyReferenced(&storage) { grow(to: end) }
        (storage.base + storage.count).copyMemory(from: source, byteCount: bytes.count)
        storage.count = end
    }

    /// Appends `bytes` as they are.
    public mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    /// Appends `bytes` as they are.
    public mutating func append(_ bytes: ArraySlice<UInt8>) { bytes.withUnsafeBytes { append($0) } }

    /// Appends the UTF-8 of `text` as it is (no quotes, no escapes).
    @inline(__always)
    public mutating func append(_ text: StaticString) { append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)) }

    /// Appends the UTF-8 of `text` as it is (no quotes, no escapes).
    public mutating func append(utf8 text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Forgets the bytes written and keeps the buffer, so that one writer
    /// can encode document after document without allocating.
    public mutating func removeAll() {
        if isKnownUniquelyReferenced(&storage) { storage.count = 0 } else { storage = Storage(capacity: storage.capacity) }
    }

    /// Lends the bytes written so far for changing in place.
    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { grow(to: storage.count) }
        return try body(UnsafeMutableRawBufferPointer(start: storage.base, count: storage.count))
    }

    /// Appends `value`. Non-finite doubles, which JSON cannot spell, are written as `null`.
    public mutating func write(_ value: FieldValue) {
        switch value {
        case .null: append("null")
        case .bool(let b): if b { append("true") } else { append("false") }
        case .int(let i): write(integer: i)
        case .double(let d):
            if d.isFinite { append(utf8: "\(d)") } else { append("null") }
        case .string(let s): write(string: s)
        case .array(let values):
            append(UInt8(ascii: "["))
            for (i, v) in values.enumerated() {
                if i > 0 { append(UInt8(ascii: ",")) }
                write(v)
            }
            append(UInt8(ascii: "]"))
        case .object(let map):
            append(UInt8(ascii: "{"))
            for (i, entry) in map.entries.enumerated() {
                write(memberName: entry.key, first: i == 0)
                write(entry.value)
            }
            append(UInt8(ascii: "}"))
        }
    }

    /// Appends `s` as a JSON string literal, escaping what JSON requires.
    public mutating func write(string s: String) { write(string: s, prefix: nil, suffix: nil) }

    /// Appends `key` as an object member's name: a comma first unless it is
    /// the object's first member, then the string literal and a colon.
    mutating func write(memberName key: String, first: Bool) {
        write(string: key, prefix: first ? nil : UInt8(ascii: ","), suffix: UInt8(ascii: ":"))
    }

    private mutating func write(string s: String, prefix: UInt8?, suffix: UInt8?) {
        // A native string lends its bytes; a small one (most field names)
        // is copied to the stack first.
        if s.utf8.withContiguousStorageIfAvailable({ write(string: $0, prefix: prefix, suffix: suffix) }) != nil { return }
        var s = s
        s.withUTF8 { write(string: $0, prefix: prefix, suffix: suffix) }
    }

    /// Appends UTF-8 `bytes` as a JSON string literal, escaping what JSON requires.
    public mutating func write(string bytes: UnsafeBufferPointer<UInt8>) { write(string: bytes, prefix: nil, suffix: nil) }

    /// The literal with an optional byte before and after it. A string with
    /// nothing to escape (nearly every one) is one check for room and one copy.
    @inline(__always)
    private mutating func write(string bytes: UnsafeBufferPointer<UInt8>, prefix: UInt8?, suffix: UInt8?) {
        let plain = JSONString.plainRun(bytes, from: 0)
        guard plain == bytes.count else {
            if let prefix { append(prefix) }
            writeEscaping(bytes, plainUpTo: plain)
            if let suffix { append(suffix) }
            return
        }
        let length = bytes.count + 2 + (prefix == nil ? 0 : 1) + (suffix == nil ? 0 : 1)
        let end = storage.count + length
        if end > storage.capacity || !isKnownUniquelyReferenced(&storage) { grow(to: end) }
        var at = storage.base + storage.count
        if let prefix {
            at.storeBytes(of: prefix, as: UInt8.self)
            at += 1
        }
        at.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
        if let source = bytes.baseAddress { (at + 1).copyMemory(from: source, byteCount: bytes.count) }
        at += bytes.count + 1
        at.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
        if let suffix { (at + 1).storeBytes(of: suffix, as: UInt8.self) }
        storage.count = end
    }

    /// The literal of `bytes`, whose first `plain` bytes need no escape.
    private mutating func writeEscaping(_ bytes: UnsafeBufferPointer<UInt8>, plainUpTo plain: Int) {
        append(UInt8(ascii: "\""))
        // Runs of bytes that need no escape are copied in one go.
        var start = 0, end = plain
        while true {
            if start < end { append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<end])) }
            guard end < bytes.count else { break }
            escape(bytes[end])
            start = end + 1
            end = JSONString.plainRun(bytes, from: start)
        }
        append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ c: UInt8) {
        switch c {
        case UInt8(ascii: "\""): append("\\\"")
        case UInt8(ascii: "\\"): append("\\\\")
        case 0x0A: append("\\n")
        case 0x0D: append("\\r")
        case 0x09: append("\\t")
        default:
            let hex: StaticString = "0123456789abcdef"
            append("\\u00")
            append(hex.utf8Start[Int(c >> 4)])
            append(hex.utf8Start[Int(c & 0xF)])
        }
    }

    /// Appends `i` in decimal without making a string of it.
    public mutating func write(integer i: Int) {
        if i < 0 { append(UInt8(ascii: "-")) }
        // Digits come out last first: into a buffer on the stack, then appended in order.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var magnitude = i.magnitude
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            append(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: digits[start...])))
        }
    }

    /// Moves the bytes to storage of at least `capacity` (and at least
    /// twice the current size, so that appends stay amortized O(1)) that
    /// this writer alone holds.
    @inline(never)
    private mutating func grow(to capacity: Int) {
        let grown = Storage(capacity: Swift.max(capacity, storage.capacity * 2))
        grown.base.copyMemory(from: storage.base, byteCount: storage.count)
        grown.count = storage.count
        storage = grown
    }

    /// The buffer. Its fields are read and written only through the writer
    /// that holds it uniquely (checked before every write), so the run-time
    /// exclusivity checks a class's fields get would only cost time.
    private final class Storage {
        let base: UnsafeMutableRawPointer
        let capacity: Int
        @exclusivity(unchecked) var count = 0

        init(capacity: Int) {
            self.capacity = Swift.max(capacity, 16)
            base = .allocate(byteCount: self.capacity, alignment: 1)
        }

        deinit { base.deallocate() }
    }
}
