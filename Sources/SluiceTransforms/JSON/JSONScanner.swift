/// The validating scanner behind ``JSONObjectView``: recursive descent over
/// a buffer the caller keeps alive, no allocation except for unescaping.
///
/// Each rule of the grammar also has a form that takes the position where
/// its text starts and returns the one after it: the loops over an object's
/// members and an array's elements keep their position in a register that
/// way, and call out only for a nested container.
struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var atEnd: Bool { i >= bytes.count }
    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    func error(_ message: String) -> JSONError { JSONError(message: message, offset: i) }

    @inline(__always)
    mutating func skipWhitespace() { i = whitespaceEnd(i) }

    @inline(__always)
    mutating func expect(_ c: UInt8, _ what: StaticString) throws(JSONError) {
        guard peek == c else { throw error("expected \(what)") }
        i += 1
    }

    /// Scans `{…}` at `i`, handing each member's key and value positions to
    /// `members` (the top level's; nested objects are only checked).
    mutating func scanObject<Members: JSONMembers>(depth: Int, members: inout Members) throws(JSONError) {
        guard depth <= JSONObjectView.maxDepth else { throw error("nesting deeper than \(JSONObjectView.maxDepth)") }
        var j = whitespaceEnd(i + 1)
        if j < bytes.count, bytes[j] == UInt8(ascii: "}") { i = j + 1; return }
        while true {
            // Each expected byte is tested first and whitespace skipped only
            // when it is not there: compact documents have none.
            if !(j < bytes.count && bytes[j] == UInt8(ascii: "\"")) {
                j = whitespaceEnd(j)
                guard j < bytes.count, bytes[j] == UInt8(ascii: "\"") else { throw JSONError(message: "expected a string key", offset: j) }
            }
            let keyStart = j &+ 1
            let (keyEnd, escaped) = try stringEnd(j)
            j = keyEnd
            if !(j < bytes.count && bytes[j] == UInt8(ascii: ":")) {
                j = whitespaceEnd(j)
                guard j < bytes.count, bytes[j] == UInt8(ascii: ":") else {
                    throw JSONError(message: "expected ':' after a key", offset: j)
                }
            }
            let valueStart = whitespaceEnd(j &+ 1)
            j = try valueEnd(valueStart, depth: depth)
            members.add(JSONObjectView.Field(keyStart: keyStart, keyEnd: keyEnd &- 1, valueStart: valueStart,
                                             valueEnd: j, keyHasEscapes: escaped), in: bytes)
            if !(j < bytes.count && bytes[j] == UInt8(ascii: ",")) {
                j = whitespaceEnd(j)
                guard j < bytes.count else { throw JSONError(message: "unterminated object", offset: j) }
                if bytes[j] == UInt8(ascii: "}") { i = j &+ 1; return }
                guard bytes[j] == UInt8(ascii: ",") else { throw JSONError(message: "expected ',' or '}'", offset: j) }
            }
            j &+= 1
        }
    }

    mutating func scanArray(depth: Int) throws(JSONError) {
        guard depth <= JSONObjectView.maxDepth else { throw error("nesting deeper than \(JSONObjectView.maxDepth)") }
        var j = whitespaceEnd(i + 1)
        if j < bytes.count, bytes[j] == UInt8(ascii: "]") { i = j + 1; return }
        while true {
            j = whitespaceEnd(try valueEnd(whitespaceEnd(j), depth: depth))
            guard j < bytes.count else { throw JSONError(message: "unterminated array", offset: j) }
            let c = bytes[j]
            if c == UInt8(ascii: "]") { i = j + 1; return }
            guard c == UInt8(ascii: ",") else { throw JSONError(message: "expected ',' or ']'", offset: j) }
            j += 1
        }
    }

    /// The position after the value at `j`: scalars are scanned here, a
    /// container by a call that may recurse (nested `depth` deep).
    @inline(__always)
    func valueEnd(_ j: Int, depth: Int) throws(JSONError) -> Int {
        guard j < bytes.count else { throw JSONError(message: "expected a value", offset: j) }
        switch bytes[j] {
        case UInt8(ascii: "\""): return try stringEnd(j).end
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try numberEnd(j)
        case UInt8(ascii: "t"): return try literalEnd(j, "true")
        case UInt8(ascii: "f"): return try literalEnd(j, "false")
        case UInt8(ascii: "n"): return try literalEnd(j, "null")
        default: return try containerEnd(j, depth: depth)
        }
    }

    /// The position after the object or array at `j` (out of line: it recurses).
    @inline(never)
    func containerEnd(_ j: Int, depth: Int) throws(JSONError) -> Int {
        var nested = JSONScanner(bytes)
        nested.i = j
        switch bytes[j] {
        case UInt8(ascii: "{"):
            var unrecorded = UnrecordedMembers()
            try nested.scanObject(depth: depth + 1, members: &unrecorded)
        case UInt8(ascii: "["): try nested.scanArray(depth: depth + 1)
        case let c: throw JSONError(message: "unexpected character '\(Unicode.Scalar(c))'", offset: j)
        }
        return nested.i
    }

    @inline(__always)
    func whitespaceEnd(_ j: Int) -> Int {
        // Compact documents have none: one comparison then.
        if j < bytes.count, bytes[j] > 0x20 { return j }
        var j = j
        while j < bytes.count {
            switch bytes[j] {
            case 0x20, 0x09, 0x0A, 0x0D: j += 1
            default: return j
            }
        }
        return j
    }

    mutating func scanLiteral(_ literal: StaticString) throws(JSONError) { i = try literalEnd(i, literal) }

    @inline(__always)
    func literalEnd(_ j: Int, _ literal: StaticString) throws(JSONError) -> Int {
        let n = literal.utf8CodeUnitCount
        guard j + n <= bytes.count else { throw JSONError(message: "expected \(literal)", offset: j) }
        for k in 0..<n where bytes[j + k] != literal.utf8Start[k] { throw JSONError(message: "expected \(literal)", offset: j) }
        return j + n
    }

    mutating func scanNumber() throws(JSONError) { i = try numberEnd(i) }

    /// The position after the number at `start`, whose first byte the caller has seen.
    @inline(__always)
    func numberEnd(_ start: Int) throws(JSONError) -> Int {
        var j = start
        if bytes[j] == UInt8(ascii: "-") { j += 1 }
        guard j < bytes.count, isDigit(bytes[j]) else { throw JSONError(message: "expected a digit", offset: j) }
        let first = bytes[j]
        j += 1
        if first != UInt8(ascii: "0") { j = digitsEnd(j) }
        if j < bytes.count, bytes[j] == UInt8(ascii: ".") {
            j += 1
            guard j < bytes.count, isDigit(bytes[j]) else { throw JSONError(message: "expected a digit after '.'", offset: j) }
            j = digitsEnd(j)
        }
        if j < bytes.count, bytes[j] | 0x20 == UInt8(ascii: "e") {
            j += 1
            if j < bytes.count, bytes[j] == UInt8(ascii: "+") || bytes[j] == UInt8(ascii: "-") { j += 1 }
            guard j < bytes.count, isDigit(bytes[j]) else { throw JSONError(message: "expected a digit in the exponent", offset: j) }
            j = digitsEnd(j)
        }
        return j
    }

    @inline(__always)
    private func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }

    /// The position of the first byte at or after `j` that is not a digit.
    /// Eight bytes at a time where eight are left: a timestamp in
    /// milliseconds is two steps rather than thirteen.
    @inline(__always)
    private func digitsEnd(_ j: Int) -> Int {
        var j = j
        if let base = bytes.baseAddress {
            while j &+ 8 <= bytes.count {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + j).loadUnaligned(as: UInt64.self))
                if let found = Self.firstNonDigit(word) { return j &+ found }
                j &+= 8
            }
        }
        while j < bytes.count, isDigit(bytes[j]) { j += 1 }
        return j
    }

    /// The byte (0–7, little-endian) of the first byte in `word` that is
    /// not an ASCII digit, if any. A digit is 0x30–0x39: its high half is 3,
    /// and stays 3 when 6 is added. Adding 6 carries only out of a byte
    /// that is not a digit, into the bytes after it, so every byte before
    /// the first non-digit reads as zero and the lowest set bit is in it.
    @inline(__always)
    static func firstNonDigit(_ word: UInt64) -> Int? {
        let highHalves: UInt64 = 0xF0F0_F0F0_F0F0_F0F0, threes: UInt64 = 0x3030_3030_3030_3030
        let sixes: UInt64 = 0x0606_0606_0606_0606
        let other = (word & highHalves ^ threes) | ((word &+ sixes) & highHalves ^ threes)
        return other == 0 ? nil : other.trailingZeroBitCount / 8
    }

    /// Scans a string literal; returns whether it holds escapes.
    mutating func scanString() throws(JSONError) -> Bool {
        let (end, escaped) = try stringEnd(i)
        i = end
        return escaped
    }

    /// The position after the string literal whose opening quote is at `j`,
    /// and whether it holds escapes.
    @inline(__always)
    func stringEnd(_ quote: Int) throws(JSONError) -> (end: Int, escaped: Bool) {
        var j = quote + 1
        var escaped = false
        while true {
            j = JSONString.plainRun(bytes, from: j)
            guard j < bytes.count else { throw JSONError(message: "unterminated string", offset: j) }
            let c = bytes[j]
            if c == UInt8(ascii: "\"") { return (j + 1, escaped) }
            if c < 0x20 { throw JSONError(message: "control character in a string", offset: j) }
            escaped = true
            j = try escapeEnd(j)
        }
    }

    /// The position after the escape sequence whose backslash is at `j`.
    @inline(never)
    func escapeEnd(_ backslash: Int) throws(JSONError) -> Int {
        let j = backslash + 1
        guard j < bytes.count else { throw JSONError(message: "unterminated string", offset: j) }
        switch bytes[j] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return j + 1
        case UInt8(ascii: "u"):
            guard j + 4 < bytes.count, (1...4).allSatisfy({ Self.hexValue(bytes[j + $0]) != nil }) else {
                throw JSONError(message: "bad \\u escape", offset: j)
            }
            return j + 5
        default: throw JSONError(message: "bad escape", offset: j)
        }
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

/// What a scan does with the members of the object it validates.
protocol JSONMembers {
    /// Takes the positions of the next member of `document`.
    mutating func add(_ field: JSONObjectView.Field, in document: UnsafeBufferPointer<UInt8>)
}

extension Array: JSONMembers where Element == JSONObjectView.Field {
    mutating func add(_ field: JSONObjectView.Field, in document: UnsafeBufferPointer<UInt8>) { append(field) }
}

/// The members of a nested object: checked, not kept.
struct UnrecordedMembers: JSONMembers {
    func add(_ field: JSONObjectView.Field, in document: UnsafeBufferPointer<UInt8>) {}
}

/// What JSON strings have in common for reading and writing.
enum JSONString {
    /// The index of the first byte at or after `start` that a JSON string
    /// cannot hold as it is (a quote, a backslash or a control character),
    /// or the end. Reads 16 bytes at a time with three vector comparisons
    /// (SSE2 on x86-64, NEON on arm64); the last few bytes are copied into a
    /// vector of plain bytes first.
    @inline(__always)
    static func plainRun(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard let base = bytes.baseAddress else { return start }
        let raw = UnsafeRawPointer(base)
        var i = start
        while i + 16 <= bytes.count {
            if let found = firstSpecial(raw.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)) { return i + found }
            i += 16
        }
        // Fewer than 16 bytes left (most keys and short values): as one or
        // two overlapping words. Copying them into a vector first called memcpy.
        let rest = bytes.count &- i
        if rest >= 8 {
            if let found = firstSpecial(word: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))) {
                return i &+ found
            }
            let last = bytes.count &- 8
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: last, as: UInt64.self))
            return firstSpecial(word: word).map { last &+ $0 } ?? bytes.count
        }
        if rest >= 4 {
            let first = UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt32.self))) | Self.plainHigh
            if let found = firstSpecial(word: first) { return i &+ found }
            let last = bytes.count &- 4
            let word = UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: last, as: UInt32.self))) | Self.plainHigh
            return firstSpecial(word: word).map { last &+ $0 } ?? bytes.count
        }
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { return i }
            i &+= 1
        }
        return i
    }

    /// Plain bytes ("aaaa") in the high half of a word, over a 4-byte load in the low half.
    private static let plainHigh: UInt64 = 0x6161_6161_0000_0000

    /// The byte (0–7, little-endian) of the first byte in `word` that a
    /// string must escape, if any: each test flags the lowest such byte
    /// exactly (a borrow only reaches bytes above it).
    @inline(__always)
    private static func firstSpecial(word: UInt64) -> Int? {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
        let found = ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash | (word &- ones &* 0x20) & ~word) & highs
        return found == 0 ? nil : found.trailingZeroBitCount / 8
    }

    /// The lane of the first byte in `v` that a string must escape, if any.
    @inline(__always)
    private static func firstSpecial(_ v: SIMD16<UInt8>) -> Int? {
        // Named constants: built inside the expression, they left the
        // comparisons a loop over the lanes.
        let quote = SIMD16<UInt8>(repeating: 0x22), backslash = SIMD16<UInt8>(repeating: 0x5C)
        let control = SIMD16<UInt8>(repeating: 0x20)
        let special = (v .== quote) .| (v .== backslash) .| (v .< control)
        // A true lane is all ones: read as two little-endian words, the
        // lowest set bit's byte is the first special byte.
        let halves = unsafeBitCast(special, to: SIMD2<UInt64>.self)
        let low = UInt64(littleEndian: halves[0]), high = UInt64(littleEndian: halves[1])
        if low != 0 { return low.trailingZeroBitCount / 8 }
        if high != 0 { return 8 + high.trailingZeroBitCount / 8 }
        return nil
    }

    /// The text of a validated string literal (`literal` keeps its quotes).
    static func decode(literal: ArraySlice<UInt8>) -> String {
        let body = literal.dropFirst().dropLast()
        guard body.contains(UInt8(ascii: "\\")) else { return String(decoding: body, as: UTF8.self) }
        return JSONScanner.unescape(body)
    }
}
