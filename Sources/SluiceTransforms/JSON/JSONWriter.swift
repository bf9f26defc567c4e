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
        case .bool(let b): append(b ? "true" : "false")
        case .int(let i): append(String(i))
        case .double(let d): append(d.isFinite ? "\(d)" : "null")
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
        var s = s
        out.append(UInt8(ascii: "\""))
        s.withUTF8 { bytes in
            // Runs of bytes that need no escape are copied in one go.
            var start = 0
            for (i, c) in bytes.enumerated() where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                escape(c)
                start = i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
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

    private mutating func append(_ s: String) { out.append(contentsOf: s.utf8) }
}
