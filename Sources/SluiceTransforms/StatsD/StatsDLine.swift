/// The kind of a StatsD metric, which decides how its samples combine.
public enum MetricKind: String, Sendable, Hashable, CaseIterable {
    /// Samples add up (`c`).
    case counter
    /// The last value wins; `+N`/`-N` change it (`g`).
    case gauge
    /// Every value is kept for statistics (`ms`; DogStatsD's `h` and `d`).
    case timer
    /// Unique values are counted (`s`).
    case set
}

/// One sample of a StatsD line: `name:value|type[|@rate][|#tags]`.
public struct StatsDSample: Sendable, Hashable {
    /// The sanitized metric name with its tags appended as `;tag` or
    /// `;key=value`, as statsd keys it.
    public var key: String
    /// How the sample combines with others of its key.
    public var kind: MetricKind
    /// The number sent (for a set, 0).
    public var value: Double
    /// The member a set sample adds; `nil` for other kinds.
    public var member: String?
    /// The fraction of events the client sent (`@0.1`); 1 when absent.
    public var sampleRate: Double
    /// A gauge value written `+N` or `-N`: it changes an existing gauge
    /// instead of replacing it.
    public var isDelta: Bool

    /// Creates a sample.
    public init(key: String, kind: MetricKind, value: Double, member: String? = nil, sampleRate: Double = 1,
                isDelta: Bool = false) {
        self.key = key
        self.kind = kind
        self.value = value
        self.member = member
        self.sampleRate = sampleRate
        self.isDelta = isDelta
    }
}

/// A StatsD line that cannot be read, with why.
public struct StatsDLineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The line as received.
    public var line: String
    /// What is wrong with it.
    public var reason: String

    public var description: String { "bad StatsD line \"\(line)\": \(reason)" }
}

/// Reads the StatsD line protocol as the statsd daemon does: one metric
/// per line, several samples per metric (`a:1|c:2|ms`), DogStatsD tags
/// (`|#k:v,flag`) appended to the key as `;k=v;flag`, and keys sanitized
/// (whitespace runs become `_`, `/` becomes `-`, anything but letters,
/// digits and `_-.;=` is removed).
///
/// Where statsd would count an unknown type as a counter or divide by a
/// zero sample rate, the line is rejected instead.
public enum StatsDLine {
    /// The samples of every line of `text` and the lines that could not be
    /// read. A bad sample rejects only itself; the line's other samples count.
    public static func parse(_ text: String) -> (samples: [StatsDSample], errors: [StatsDLineError]) {
        var samples: [StatsDSample] = []
        var errors: [StatsDLineError] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            parse(line: line, into: &samples, errors: &errors)
        }
        return (samples, errors)
    }

    private static func parse(line: Substring, into samples: inout [StatsDSample], errors: inout [StatsDLineError]) {
        let (body, tags) = splitTags(line)
        let parts = body.split(separator: ":", omittingEmptySubsequences: false)
        let key = sanitize(parts[0] + tags)
        guard parts.count > 1 else {
            errors.append(StatsDLineError(line: String(line), reason: "no ':' between name and value"))
            return
        }
        guard !key.isEmpty else {
            errors.append(StatsDLineError(line: String(line), reason: "the metric name is empty"))
            return
        }
        for part in parts.dropFirst() {
            do throws(StatsDLineError) {
                samples.append(try sample(key: key, part, line: line))
            } catch {
                errors.append(error)
            }
        }
    }

    /// The line before `|#`, and its DogStatsD tags as statsd appends them
    /// to the key (first `;` of a tag becomes `_`, first `:` becomes `=`).
    private static func splitTags(_ line: Substring) -> (Substring, String) {
        guard let marker = line.firstRange(of: "|#") else { return (line, "") }
        let rest = line[marker.upperBound...]
        let tagText = rest.firstRange(of: "|#").map { rest[..<$0.lowerBound] } ?? rest
        var suffix = ""
        for tag in tagText.split(separator: ",", omittingEmptySubsequences: false) where !tagText.isEmpty {
            suffix += ";" + replacingFirst(":", with: "=", in: replacingFirst(";", with: "_", in: String(tag)))
        }
        return (line[..<marker.lowerBound], suffix)
    }

    private static func sample(key: String, _ text: Substring, line: Substring) throws(StatsDLineError) -> StatsDSample {
        func bad(_ reason: String) -> StatsDLineError { StatsDLineError(line: String(line), reason: reason) }
        let fields = text.split(separator: "|", omittingEmptySubsequences: false)
        guard fields.count > 1 else { throw bad("no '|' before the metric type in \"\(text)\"") }
        let valueText = fields[0]
        var rate = 1.0
        if fields.count > 2 {
            let rateText = fields[2]
            guard rateText.first == "@", let r = number(rateText.dropFirst()), r > 0 else {
                throw bad("sample rate \"\(rateText)\" is not @ and a number above 0")
            }
            rate = r
        }
        let type = fields[1].trimmingWhitespace()
        switch type {
        case "s":
            return StatsDSample(key: key, kind: .set, value: 0, member: valueText.isEmpty ? "0" : String(valueText),
                                sampleRate: rate)
        case "g":
            guard let value = number(valueText) else { throw bad("gauge value \"\(valueText)\" is not a number") }
            let sign = valueText.trimmingWhitespace().first
            return StatsDSample(key: key, kind: .gauge, value: value, sampleRate: rate, isDelta: sign == "+" || sign == "-")
        case "ms", "h", "d":
            guard let value = number(valueText), value >= 0 else {
                throw bad("timer value \"\(valueText)\" is not a number at or above 0")
            }
            return StatsDSample(key: key, kind: .timer, value: value, sampleRate: rate)
        case "c":
            guard let value = number(valueText) else { throw bad("counter value \"\(valueText)\" is not a number") }
            return StatsDSample(key: key, kind: .counter, value: value, sampleRate: rate)
        default:
            throw bad("unknown metric type \"\(type)\" (c, g, ms, h, d or s)")
        }
    }

    /// A finite decimal number, surrounding spaces allowed (JavaScript's
    /// `Number` as statsd uses it, without hex and `Infinity`).
    static func number(_ text: Substring) -> Double? {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty, let value = Double(trimmed), value.isFinite,
              trimmed.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }) else { return nil }
        return value
    }

    /// statsd's key sanitizing: whitespace runs become `_`, `/` becomes
    /// `-`, and every character but ASCII letters, digits and `_-.;=` goes.
    public static func sanitize(_ key: some StringProtocol) -> String {
        var out = ""
        out.reserveCapacity(key.utf8.count)
        var inSpace = false
        for c in key {
            if c.isWhitespace {
                if !inSpace { out.append("_") }
                inSpace = true
                continue
            }
            inSpace = false
            if c == "/" {
                out.append("-")
            } else if c.isASCII && (c.isLetter || c.isNumber || "_-.;=".contains(c)) {
                out.append(c)
            }
        }
        return out
    }

    private static func replacingFirst(_ target: Character, with replacement: Character, in text: String) -> String {
        guard let i = text.firstIndex(of: target) else { return text }
        var out = text
        out.replaceSubrange(i...i, with: String(replacement))
        return out
    }
}
