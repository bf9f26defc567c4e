/// Writes ``FieldValue``s as compact JSON.
public struct JSONWriter {
    /// The bytes written so far.
    public var out: [UInt8] = []

    /// An empty writer.
    public init() {}

    /// `value` as JSON bytes.
    public static func encode(_ value: FieldValue) -> [UInt8] {
        var writer = JSONWriter()
        writer.write(value)
        return writer.out
    }

    /// Appends `value`. Non-finite doubles, which JSON cannot spell, are written as `null`.
    public mutating func write(_ value: FieldValue) {
        switch value {
        case .null: append("null")
        case .bool(let b): if b { append("true") } else { append("false") }
        case .int(let i): write(integer: i)
        case .double(let d):
            if d.isFinite { out.append(contentsOf: "\(d)".utf8) } else { append("null") }
        case .string(let s): write(string: s)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (i, v) in values.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(v)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let map):
            out.append(UInt8(ascii: "{"))
            for (i, entry) in map.entries.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(string: entry.key)
                out.append(UInt8(ascii: ":"))
                write(entry.value)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Appends `s` as a JSON string literal, escaping what JSON requires.
    public mutating func write(string s: String) {
        // A native string lends its bytes; a small one (most field names)
        // is copied to the stack first.
        if s.utf8.withContiguousStorageIfAvailable({ write(string: $0) }) != nil { return }
        var s = s
        s.withUTF8 { write(string: $0) }
    }

    /// Appends UTF-8 `bytes` as a JSON string literal, escaping what JSON requires.
    public mutating func write(string bytes: UnsafeBufferPointer<UInt8>) {
        out.append(UInt8(ascii: "\""))
        // Runs of bytes that need no escape are copied in one go.
        var start = 0
        while start < bytes.count {
            let end = JSONString.plainRun(bytes, from: start)
            if start < end { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end])) }
            guard end < bytes.count else { break }
            escape(bytes[end])
            start = end + 1
        }
        out.append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ c: UInt8) {
        switch c {
        case UInt8(ascii: "\""): append("\\\"")
        case UInt8(ascii: "\\"): append("\\\\")
        case 0x0A: append("\\n")
        case 0x0D: append("\\r")
        case 0x09: append("\\t")
        default:
            let hex = Array("0123456789abcdef".utf8)
            append("\\u00")
            out.append(hex[Int(c >> 4)])
            out.append(hex[Int(c & 0xF)])
        }
    }

    /// Appends `i` in decimal without making a string of it.
    public mutating func write(integer i: Int) {
        if i < 0 { out.append(UInt8(ascii: "-")) }
        // Digits come out last first: into a buffer on the stack, then appended in order.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var magnitude = i.magnitude
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    private mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }
}
