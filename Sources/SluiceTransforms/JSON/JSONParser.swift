/// Parses JSON text into ``FieldValue``s, validating as it goes (the same
/// rules as ``JSONObjectView``).
public enum JSONParser {
    /// Parses one JSON value filling all of `bytes` (surrounding whitespace allowed).
    public static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(JSONError) -> FieldValue {
        let contiguous = bytes.withContiguousStorageIfAvailable { (buffer) -> Result<FieldValue, JSONError> in
            Result { () throws(JSONError) in try parse(buffer) }
        }
        if let contiguous { return try contiguous.get() }
        return try Array(bytes).withUnsafeBufferPointer { (buffer) throws(JSONError) in try parse(buffer) }
    }

    static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONError) -> FieldValue {
        guard buffer.count > 0 else { throw JSONError(message: "expected a value", offset: 0) }
        var scanner = JSONScanner(buffer)
        scanner.skipWhitespace()
        let value = try scanner.parseValue(depth: 1)
        scanner.skipWhitespace()
        guard scanner.atEnd else { throw scanner.error("unexpected data after the value") }
        return value
    }
}

extension JSONScanner {
    mutating func parseValue(depth: Int) throws(JSONError) -> FieldValue {
        guard let c = peek else { throw error("expected a value") }
        switch c {
        case UInt8(ascii: "{"): return .object(try parseObject(depth: depth + 1))
        case UInt8(ascii: "["): return .array(try parseArray(depth: depth + 1))
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try scanLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try scanLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try scanLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character '\(Unicode.Scalar(c))'")
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONError) -> FieldMap {
        guard depth <= JSONObjectView.maxDepth else { throw error("nesting deeper than \(JSONObjectView.maxDepth)") }
        var map = FieldMap()
        i += 1
        skipWhitespace()
        if peek == UInt8(ascii: "}") { i += 1; return map }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a key")
            skipWhitespace()
            map[key] = try parseValue(depth: depth)
            skipWhitespace()
            guard let c = peek else { throw error("unterminated object") }
            i += 1
            if c == UInt8(ascii: "}") { return map }
            guard c == UInt8(ascii: ",") else { i -= 1; throw error("expected ',' or '}'") }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONError) -> [FieldValue] {
        guard depth <= JSONObjectView.maxDepth else { throw error("nesting deeper than \(JSONObjectView.maxDepth)") }
        var values: [FieldValue] = []
        i += 1
        skipWhitespace()
        if peek == UInt8(ascii: "]") { i += 1; return values }
        while true {
            skipWhitespace()
            values.append(try parseValue(depth: depth))
            skipWhitespace()
            guard let c = peek else { throw error("unterminated array") }
            i += 1
            if c == UInt8(ascii: "]") { return values }
            guard c == UInt8(ascii: ",") else { i -= 1; throw error("expected ',' or ']'") }
        }
    }

    private mutating func parseString() throws(JSONError) -> String {
        let start = i + 1
        let escaped = try scanString()
        let body = UnsafeBufferPointer(rebasing: bytes[start..<(i - 1)])
        return escaped ? JSONScanner.unescape(ArraySlice(body)) : String(decoding: body, as: UTF8.self)
    }

    private mutating func parseNumber() throws(JSONError) -> FieldValue {
        let start = i
        try scanNumber()
        let text = UnsafeBufferPointer(rebasing: bytes[start..<i])
        if !text.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }),
           let int = Int(String(decoding: text, as: UTF8.self)) {
            return .int(int)
        }
        return .double(Double(String(decoding: text, as: UTF8.self)) ?? .nan)
    }
}
