/// A way to read a timestamp, as Logstash's `date` filter names them:
/// `ISO8601`, `UNIX` (seconds, fractions allowed), `UNIX_MS`, or a Joda-style
/// pattern such as `dd/MMM/yyyy:HH:mm:ss Z`.
///
/// Pattern letters: `yyyy`/`yy` (or `YYYY`/`YY`) year, `M`/`MM` month number, `MMM`/`MMMM`
/// English month name, `d`/`dd` day, `H`/`HH` hour (0–23), `m`/`mm`,
/// `s`/`ss`, `S…` fraction of a second, `Z` offset `+hhmm`, `ZZ` offset
/// `+hh:mm`, `ZZZ` `UTC`/`Z`, `EEE`/`EEEE` day name (read and ignored);
/// text in single quotes and any other character match themselves.
/// A time without an offset is read in `defaultOffset` (UTC unless set).
public struct DateFormat: Sendable, Equatable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        case iso8601, unix, unixMilliseconds
        case pattern([Token])
    }

    enum Token: Sendable, Equatable {
        case year(digits: Int), month(digits: Int), monthName, day, hour, minute, second, fraction, offset(colon: Bool),
             zoneName, dayName
        /// A character to match as it is, as its UTF-8 bytes.
        case literal([UInt8])
    }

    let kind: Kind
    /// The format as written.
    public let description: String

    /// Why a pattern is not understood.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        /// What was expected.
        public var description: String
    }

    /// ISO 8601, as `ISO8601` names it.
    public static let iso8601 = DateFormat(kind: .iso8601, description: "ISO8601")

    private init(kind: Kind, description: String) {
        self.kind = kind
        self.description = description
    }

    /// Parses a format name or pattern.
    public init(_ text: String) throws(ParseError) {
        description = text
        switch text {
        case "ISO8601": kind = .iso8601
        case "UNIX": kind = .unix
        case "UNIX_MS": kind = .unixMilliseconds
        default: kind = .pattern(try Self.tokens(text))
        }
    }

    private static func tokens(_ text: String) throws(ParseError) -> [Token] {
        let chars = Array(text)
        var tokens: [Token] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            var n = 1
            while i + n < chars.count, chars[i + n] == c { n += 1 }
            switch c {
            case "y", "Y": tokens.append(.year(digits: n == 2 ? 2 : 4))
            case "M": tokens.append(n >= 3 ? .monthName : .month(digits: n))
            case "d": tokens.append(.day)
            case "H": tokens.append(.hour)
            case "m": tokens.append(.minute)
            case "s": tokens.append(.second)
            case "S": tokens.append(.fraction)
            case "Z": tokens.append(n >= 3 ? .zoneName : .offset(colon: n == 2))
            case "E": tokens.append(.dayName)
            case "'":
                guard let close = chars[(i + 1)...].firstIndex(of: "'") else {
                    throw ParseError(description: "expected a closing ' in date pattern '\(text)'")
                }
                tokens += chars[(i + 1)..<close].map { .literal(Array($0.utf8)) }
                n = close - i + 1
            default:
                if c.isLetter { throw ParseError(description: "unknown letter '\(c)' in date pattern '\(text)'") }
                tokens += Array(repeating: .literal(Array(c.utf8)), count: n)
            }
            i += n
        }
        return tokens
    }

    /// Milliseconds since the epoch, or `nil` if `text` does not match.
    public func parse(_ text: String, defaultOffsetSeconds: Int = 0) -> Int64? {
        switch kind {
        case .unix: return Double(text).flatMap { Int64(exactly: ($0 * 1000).rounded()) }
        case .unixMilliseconds: return Int64(text) ?? Double(text).flatMap { Int64(exactly: $0.rounded(.towardZero)) }
        case .iso8601:
            return DateReader.reading(text) { $0.readISO8601(defaultOffset: defaultOffsetSeconds) }
        case .pattern(let tokens):
            return DateReader.reading(text) { $0.read(tokens, defaultOffset: defaultOffsetSeconds) }
        }
    }
}

extension DateFormat {
    /// `milliseconds` since the epoch written in this format, in UTC (as
    /// Logstash's `%{+yyyy.MM.dd}` writes index names). ISO8601 writes
    /// Logstash's `@timestamp` form; UNIX and UNIX_MS write the number.
    public func format(milliseconds: Int64) -> String {
        switch kind {
        case .iso8601: return SluiceTransforms.iso8601(milliseconds: milliseconds)
        case .unix: return String(milliseconds.dividingFloor(by: 1000))
        case .unixMilliseconds: return String(milliseconds)
        case .pattern(let tokens):
            let t = CivilTime(milliseconds: milliseconds)
            var out = ""
            func pad(_ v: Int, _ digits: Int) {
                let text = String(v)
                out += String(repeating: "0", count: max(0, digits - text.count)) + text
            }
            for token in tokens {
                switch token {
                case .year(let digits): digits == 2 ? pad(t.year % 100, 2) : pad(t.year, 4)
                case .month(let digits): pad(t.month, digits)
                case .monthName:
                    let name = DateReader.months[t.month - 1]
                    out += name.prefix(1).uppercased() + name.dropFirst()
                case .day: pad(t.day, 2)
                case .hour: pad(t.hour, 2)
                case .minute: pad(t.minute, 2)
                case .second: pad(t.second, 2)
                case .fraction: pad(t.millisecond, 3)
                case .offset(let colon): out += colon ? "+00:00" : "+0000"
                case .zoneName: out += "UTC"
                // 1970-01-01 was a Thursday.
                case .dayName: out += ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][((t.days % 7) + 7) % 7]
                case .literal(let bytes): out += String(decoding: bytes, as: UTF8.self)
                }
            }
            return out
        }
    }
}

extension Array where Element == DateFormat {
    /// `text` read by the first format that reads it, in milliseconds since the epoch.
    public func parse(_ text: String, defaultOffsetSeconds: Int = 0) -> Int64? {
        // A loop: `lazy.compactMap { … }.first` finds the first format that
        // reads the text, then reads it again for the value.
        for format in self {
            if let milliseconds = format.parse(text, defaultOffsetSeconds: defaultOffsetSeconds) { return milliseconds }
        }
        return nil
    }
}

/// Reads the parts of a date from text.
struct DateReader {
    // UTF-8 bytes: every token reads ASCII, and Character-level access costs
    // more than the rest of a date step together.
    private let chars: UnsafeBufferPointer<UInt8>
    private var i = 0
    private var year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, millisecond = 0
    private var offset: Int?

    private init(_ chars: UnsafeBufferPointer<UInt8>) { self.chars = chars }

    /// Runs `body` on a reader of `text`'s UTF-8 bytes (no copy of them).
    static func reading<R>(_ text: String, _ body: (inout DateReader) -> R) -> R {
        var text = text
        return text.withUTF8 { bytes in
            var reader = DateReader(bytes)
            return body(&reader)
        }
    }

    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    mutating func read(_ tokens: [DateFormat.Token], defaultOffset: Int) -> Int64? {
        for token in tokens {
            switch token {
            case .year(let digits):
                guard let y = number(min: digits, max: digits == 2 ? 2 : 4) else { return nil }
                year = digits == 2 ? 2000 + y : y
            case .month(let digits): guard let m = number(min: digits, max: 2) else { return nil }; month = m
            case .monthName: guard let m = monthName() else { return nil }; month = m
            case .day: guard let d = number(min: 1, max: 2) else { return nil }; day = d
            case .hour: guard let h = number(min: 1, max: 2) else { return nil }; hour = h
            case .minute: guard let m = number(min: 1, max: 2) else { return nil }; minute = m
            case .second: guard let s = number(min: 1, max: 2) else { return nil }; second = s
            case .fraction: guard readFraction() else { return nil }
            case .offset: guard readOffset() else { return nil }
            case .zoneName: guard readOffset() || word(is: "UTC") else { return nil }; offset = offset ?? 0
            case .dayName: guard word() != nil else { return nil }
            case .literal(let bytes): for byte in bytes { guard literal(byte) else { return nil } }
            }
        }
        return i == chars.count ? epochMilliseconds(defaultOffset) : nil
    }

    /// `yyyy-MM-dd[T| ]HH:mm[:ss[.S…]][Z|±hh[:mm]]`, or a date alone.
    mutating func readISO8601(defaultOffset: Int) -> Int64? {
        guard let y = number(min: 4, max: 4), literal(UInt8(ascii: "-")), let m = number(min: 2, max: 2), literal(UInt8(ascii: "-")),
              let d = number(min: 2, max: 2) else { return nil }
        (year, month, day) = (y, m, d)
        if i < chars.count {
            guard literal(UInt8(ascii: "T")) || literal(UInt8(ascii: " ")), let h = number(min: 2, max: 2), literal(UInt8(ascii: ":")), let mi = number(min: 2, max: 2) else { return nil }
            (hour, minute) = (h, mi)
            if literal(UInt8(ascii: ":")) {
                guard let s = number(min: 2, max: 2) else { return nil }
                second = s
                if literal(UInt8(ascii: ".")) || literal(UInt8(ascii: ",")) { guard readFraction() else { return nil } }
            }
            if i < chars.count { guard readOffset() else { return nil } }
        }
        return i == chars.count ? epochMilliseconds(defaultOffset) : nil
    }

    private mutating func literal(_ c: UInt8) -> Bool {
        guard i < chars.count, chars[i] == c else { return false }
        i += 1
        return true
    }

    private mutating func number(min: Int, max: Int) -> Int? {
        var value = 0, n = 0
        while n < max, i < chars.count, (0x30...0x39).contains(chars[i]) {
            value = value * 10 + Int(chars[i] - 0x30)
            i += 1
            n += 1
        }
        return n >= min ? value : nil
    }

    private mutating func readFraction() -> Bool {
        let start = i
        var scale = 100
        while i < chars.count, (0x30...0x39).contains(chars[i]) {
            millisecond += Int(chars[i] - 0x30) * scale
            scale /= 10
            i += 1
        }
        return i > start
    }

    /// `Z`, `+hh`, `+hhmm` or `+hh:mm`.
    private mutating func readOffset() -> Bool {
        if literal(UInt8(ascii: "Z")) { offset = 0; return true }
        guard i < chars.count, chars[i] == UInt8(ascii: "+") || chars[i] == UInt8(ascii: "-") else { return false }
        let sign = chars[i] == UInt8(ascii: "-") ? -1 : 1
        i += 1
        guard let h = number(min: 2, max: 2) else { return false }
        _ = literal(UInt8(ascii: ":"))
        let m = number(min: 2, max: 2) ?? 0
        offset = sign * (h * 3600 + m * 60)
        return true
    }

    private mutating func monthName() -> Int? {
        guard let w = word(), w.count >= 3 else { return nil }
        // The first three letters, lowercased, against each month's.
        let key = Self.packed(chars[w.lowerBound], chars[w.lowerBound + 1], chars[w.lowerBound + 2])
        guard let index = Self.packedMonths.firstIndex(of: key) else { return nil }
        return index + 1
    }

    /// Three letters, lowercased, in one integer.
    private static func packed(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt32 {
        UInt32(a | 0x20) << 16 | UInt32(b | 0x20) << 8 | UInt32(c | 0x20)
    }

    private static let packedMonths = months.map { name in
        let b = Array(name.utf8)
        return packed(b[0], b[1], b[2])
    }

    /// The letters from here on; `nil` if there are none.
    private mutating func word() -> Range<Int>? {
        let start = i
        while i < chars.count, (0x41...0x5A).contains(chars[i] & ~0x20) { i += 1 }
        return i > start ? start..<i : nil
    }

    /// Whether a word is here that reads `text` exactly.
    private mutating func word(is text: StaticString) -> Bool {
        guard let w = word() else { return false }
        return w.count == text.utf8CodeUnitCount && zip(chars[w], UnsafeBufferPointer(start: text.utf8Start, count: w.count)).allSatisfy { $0 == $1 }
    }

    private func epochMilliseconds(_ defaultOffset: Int) -> Int64? {
        guard (1...12).contains(month), (1...daysIn(month, year)).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        let days = Self.daysFromCivil(year, month, day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset ?? defaultOffset)
        return seconds * 1000 + Int64(millisecond)
    }

    private func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y - 1 : y
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// Milliseconds since the epoch as ISO 8601 in UTC with milliseconds, as
/// Logstash writes `@timestamp`: `2013-12-11T08:01:45.000Z`.
public func iso8601(milliseconds: Int64) -> String {
    let t = CivilTime(milliseconds: milliseconds)
    // Years outside 0…9999 do not fit the 24 characters; they are written as the format allows.
    guard (0...9999).contains(t.year) else {
        return "\(t.year)-\(two(t.month))-\(two(t.day))T\(two(t.hour)):\(two(t.minute)):\(two(t.second)).\(three(t.millisecond))Z"
    }
    return String(unsafeUninitializedCapacity: 24) { out in
        func put(_ v: Int, at end: Int, digits: Int) {
            var v = v
            for k in stride(from: end, to: end - digits, by: -1) { out[k] = UInt8(ascii: "0") + UInt8(v % 10); v /= 10 }
        }
        put(t.year, at: 3, digits: 4); put(t.month, at: 6, digits: 2); put(t.day, at: 9, digits: 2)
        put(t.hour, at: 12, digits: 2); put(t.minute, at: 15, digits: 2); put(t.second, at: 18, digits: 2)
        put(t.millisecond, at: 22, digits: 3)
        out[4] = UInt8(ascii: "-"); out[7] = UInt8(ascii: "-"); out[10] = UInt8(ascii: "T")
        out[13] = UInt8(ascii: ":"); out[16] = UInt8(ascii: ":"); out[19] = UInt8(ascii: "."); out[23] = UInt8(ascii: "Z")
        return 24
    }
}

private func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
private func three(_ v: Int) -> String { v < 10 ? "00\(v)" : v < 100 ? "0\(v)" : "\(v)" }

/// The UTC calendar date and time of an instant.
struct CivilTime {
    var year, month, day, hour, minute, second, millisecond: Int
    /// Days since 1970-01-01.
    var days: Int

    init(milliseconds: Int64) {
        let seconds = Int(milliseconds.dividingFloor(by: 1000))
        millisecond = Int(milliseconds - Int64(seconds) * 1000)
        days = seconds.dividingFloor(by: 86_400)
        let secondOfDay = seconds - days * 86_400
        hour = secondOfDay / 3600
        minute = secondOfDay / 60 % 60
        second = secondOfDay % 60
        // The inverse of DateReader.daysFromCivil.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }
}

extension BinaryInteger {
    /// Division rounding toward negative infinity.
    func dividingFloor(by divisor: Self) -> Self {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
