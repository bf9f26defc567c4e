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
            for i in 0..<map.count {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(string: map.keys[i])
                out.append(UInt8(ascii: ":"))
                write(map.values[i])
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Appends `s` as a JSON string literal, escaping what JSON requires.
    public mutating func write(string s: String) {
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 0x0A: append("\\n")
            case 0x0D: append("\\r")
            case 0x09: append("\\t")
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 0xF)])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private mutating func append(_ s: String) { out.append(contentsOf: s.utf8) }
}
