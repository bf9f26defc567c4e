/// Text with `%{field}` references (Logstash's sprintf format), parsed once:
/// `"%{[service]}-%{level}"`, and `%{+yyyy.MM.dd}` for the record's time
/// in a ``DateFormat`` pattern, in UTC (for index names). A missing field
/// renders as the reference itself, as in Logstash, so a gap is visible
/// rather than silent.
public struct Template: Sendable, Equatable, CustomStringConvertible {
    enum Part: Sendable, Equatable {
        case text(String)
        case field(FieldPath, source: String)
        case time(DateFormat, source: String)
    }

    let parts: [Part]
    /// The template as written.
    public let description: String

    /// Parses `text`; fails on an unterminated `%{` or a bad field reference.
    public init(_ text: String) throws(FieldPath.ParseError) {
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.range(of: "%{") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw FieldPath.ParseError(message: "expected '}' to close '%{' in '\(text)'",
                                           offset: text.distance(from: text.startIndex, to: open.lowerBound))
            }
            let reference = String(rest[open.upperBound..<close])
            if reference.hasPrefix("+") {
                do {
                    parts.append(.time(try DateFormat(String(reference.dropFirst())), source: "%{\(reference)}"))
                } catch {
                    throw FieldPath.ParseError(message: error.description,
                                               offset: text.distance(from: text.startIndex, to: open.upperBound) + 1)
                }
            } else {
                parts.append(.field(try FieldPath(reference), source: "%{\(reference)}"))
            }
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.parts = parts
        self.description = text
    }

    /// Whether the template refers to no field and no time.
    public var isConstant: Bool { !parts.contains { if case .text = $0 { false } else { true } } }

    /// Whether the template refers to a field (not only to the time).
    public var refersToFields: Bool { parts.contains { if case .field = $0 { true } else { false } } }

    /// Whether `event` has every field the template refers to.
    public func fieldsPresent(in event: Event) -> Bool {
        parts.allSatisfy { if case .field(let path, _) = $0 { event[path] != nil } else { true } }
    }

    /// What every rendering matches, as an index pattern: each reference
    /// becomes `*` (`logs-%{service}-%{+yyyy.MM.dd}` → `logs-*-*`).
    public var wildcardPattern: String {
        parts.map { if case .text(let t) = $0 { t } else { "*" } }.joined()
    }

    /// The text for `event` at `timestamp` (ms since the epoch); without a
    /// timestamp a time reference renders as itself.
    public func render(_ event: Event, timestamp: Int64? = nil) -> String {
        // A fixed index name, the common case: shared, not built per record.
        if parts.count == 1, case .text(let text) = parts[0] { return text }
        var out = ""
        for part in parts {
            switch part {
            case .text(let t): out += t
            case .field(let path, let source): out += event[path]?.text ?? source
            case .time(let format, let source): out += timestamp.map { format.format(milliseconds: $0) } ?? source
            }
        }
        return out
    }
}
