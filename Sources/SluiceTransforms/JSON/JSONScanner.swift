/// The validating scanner behind ``JSONObjectView``: recursive descent over
/// a buffer the caller keeps alive, no allocation except for unescaping.
struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var atEnd: Bool { i >= bytes.count }
    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    func error(_ message: String) -> JSONError { JSONError(message: message, offset: i) }

    @inline(__always)
    mutating func skipWhitespace() {
        // Compact documents have none: one comparison then.
        if i < bytes.count, bytes[i] > 0x20 { return }
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    @inline(__always)
    mutating func expect(_ c: UInt8, _ what: StaticString) throws(JSONError) {
        guard peek == c else { throw error("expected \(what)") }
        i += 1
    }

    /// Scans `{…}` at `i`, adding each member's key and value positions to
    /// `fields` when there is one (the top level; nested objects are only checked).
    mutating func scanObject(depth: Int, fields: inout [JSONObjectView.Field]?) throws(JSONError) {
        guard depth <= JSONObjectView.maxDepth else { throw error("nesting deeper than \(JSONObjectView.maxDepth)") }
        i += 1
        skipWhitespace()
        if peek == UInt8(ascii: "}") { i += 1; return }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let keyStart = i + 1
            let escaped = try scanString()
            let keyEnd = i - 1
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a key")
            skipWhitespace()
            let valueStart = i
            try scanValue(depth: depth)
            fields?.append(JSONObjectView.Field(keyStart: keyStart, keyEnd: keyEnd, valueStart: valueStart, valueEnd: i,
                                                keyHasEscapes: escaped))
            skipWhitespace()
            guard let c = peek else { throw error("unterminated object") }
            i += 1
            if c == UInt8(ascii: "}") { return }
            guard c == UInt8(ascii: ",") else { i -= 1; throw error("expected ',' or '}'") }
        }
    }

    mutating func scanArray(depth: Int) throws(JSONError) {
        guard depth <= JSONObjectView.maxDepth else { throw error("nesting deeper than \(JSONObjectView.maxDepth)") }
        i += 1
        skipWhitespace()
        if peek == UInt8(ascii: "]") { i += 1; return }
        while true {
            skipWhitespace()
            try scanValue(depth: depth)
            skipWhitespace()
            guard let c = peek else { throw error("unterminated array") }
            i += 1
            if c == UInt8(ascii: "]") { return }
            guard c == UInt8(ascii: ",") else { i -= 1; throw error("expected ',' or ']'") }
        }
    }

    mutating func scanValue(depth: Int) throws(JSONError) {
        guard let c = peek else { throw error("expected a value") }
        switch c {
        case UInt8(ascii: "{"):
            var unrecorded: [JSONObjectView.Field]? = nil
            try scanObject(depth: depth + 1, fields: &unrecorded)
        case UInt8(ascii: "["): try scanArray(depth: depth + 1)
        case UInt8(ascii: "\""): _ = try scanString()
        case UInt8(ascii: "t"): try scanLiteral("true")
        case UInt8(ascii: "f"): try scanLiteral("false")
        case UInt8(ascii: "n"): try scanLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try scanNumber()
        default: throw error("unexpected character '\(Unicode.Scalar(c))'")
        }
    }

    mutating func scanLiteral(_ literal: StaticString) throws(JSONError) {
        let n = literal.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw error("expected \(literal)") }
        for j in 0..<n where bytes[i + j] != literal.utf8Start[j] { throw error("expected \(literal)") }
        i += n
    }

    @inline(__always)
    mutating func scanNumber() throws(JSONError) {
        if peek == UInt8(ascii: "-") { i += 1 }
        guard let first = peek, isDigit(first) else { throw error("expected a digit") }
        i += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        if peek == UInt8(ascii: ".") {
            i += 1
            guard let d = peek, isDigit(d) else { throw error("expected a digit after '.'") }
            skipDigits()
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            i += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
            guard let d = peek, isDigit(d) else { throw error("expected a digit in the exponent") }
            skipDigits()
        }
    }

    private func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }

    private mutating func skipDigits() {
        while let c = peek, isDigit(c) { i += 1 }
    }

    /// Scans a string literal; returns whether it holds escapes.
    @inline(__always)
    mutating func scanString() throws(JSONError) -> Bool {
        i += 1
        var escaped = false
        while i < bytes.count {
            skipPlainStringBytes()
            guard i < bytes.count else { break }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; return escaped }
            if c < 0x20 { throw error("control character in a string") }
            if c == UInt8(ascii: "\\") {
                escaped = true
                i += 1
                guard let e = peek else { break }
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    guard i + 4 < bytes.count, (1...4).allSatisfy({ Self.hexValue(bytes[i + $0]) != nil }) else {
                        throw error("bad \\u escape")
                    }
                    i += 5
                default: throw error("bad escape")
                }
                continue
            }
            i += 1
        }
        throw error("unterminated string")
    }

    /// Skips the bytes a string holds as they are (see ``JSONString/plainRun(_:from:)``).
    @inline(__always)
    mutating func skipPlainStringBytes() {
        i = JSONString.plainRun(bytes, from: i)
    }

    static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(c - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Decodes a validated string body with escapes (surrogate pairs joined,
    /// lone surrogates replaced by U+FFFD).
    static func unescape(_ body: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var i = body.startIndex
        func hex4(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 << 4 | hexValue(body[at + $1])! } }
        while i < body.endIndex {
            let c = body[i]
            guard c == UInt8(ascii: "\\") else { out.append(c); i += 1; continue }
            let e = body[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(i)
                i += 4
                if (0xD800..<0xDC00).contains(scalar), i + 5 < body.endIndex,
                   body[i] == UInt8(ascii: "\\"), body[i + 1] == UInt8(ascii: "u") {
                    let low = hex4(i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                out.append(contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
            default: out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// What JSON strings have in common for reading and writing.
enum JSONString {
    /// The index of the first byte at or after `start` that a JSON string
    /// cannot hold as it is (a quote, a backslash or a control character),
    /// or the end. Reads 8 bytes at a time (SWAR: a few arithmetic
    /// operations per word).
    @inline(__always)
    static func plainRun(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard let base = bytes.baseAddress else { return start }
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let raw = UnsafeRawPointer(base)
        var i = start
        while i + 8 <= bytes.count {
            let w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let quote = w ^ (ones &* 0x22), backslash = w ^ (ones &* 0x5C)
            // x has a zero byte iff (x - 0x01…) & ~x has a high bit; w has a byte
            // below 0x20 iff (w - 0x20…) & ~w has one. A borrow can only flag
            // bytes above a truly special one, so the lowest flag is exact.
            let special = (((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((w &- ones &* 0x20) & ~w)) & highs
            if special != 0 { return i + special.trailingZeroBitCount / 8 }
            i += 8
        }
        while i < bytes.count, !isSpecial(base[i]) { i += 1 }
        return i
    }

    /// The text of a validated string literal (`literal` keeps its quotes).
    static func decode(literal: ArraySlice<UInt8>) -> String {
        let body = literal.dropFirst().dropLast()
        guard body.contains(UInt8(ascii: "\\")) else { return String(decoding: body, as: UTF8.self) }
        return JSONScanner.unescape(body)
    }

    /// Whether a string must escape `c`.
    @inline(__always)
    static func isSpecial(_ c: UInt8) -> Bool { c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") }
}
