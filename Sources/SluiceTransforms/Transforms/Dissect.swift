/// A dissect pattern (Logstash's `dissect` filter): text between `%{…}`
/// fields is a delimiter, each field takes the text up to the next one.
///
/// Field modifiers: `%{}` or `%{?name}` skip (a `?name` value can name
/// another field through `%{&name}`), `%{+name}` appends to `name` (in
/// order of `/N` when given), and a trailing `->` skips repeats of the
/// delimiter that follows (padding).
public struct Dissector: Sendable {
    /// The pattern as written.
    public let pattern: String
    private let prefix: [UInt8]
    private let parts: [Part]
    /// The fields of the names the pattern spells, parsed once; a `&name`
    /// reference's field name comes from the data and is parsed per record.
    private let paths: [String: FieldPath]

    private struct Part: Sendable {
        var name: String
        var kind: Kind
        var padded: Bool
        var delimiter: [UInt8]
    }

    private enum Kind: Sendable, Equatable {
        case normal, skip, namedSkip, append(order: Int), reference
    }

    /// Why a pattern does not parse, and at which character offset.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        /// What was expected.
        public var message: String
        /// The offset in the pattern.
        public var offset: Int
        public var description: String { message }
    }

    /// Parses `pattern`.
    public init(_ pattern: String) throws(ParseError) {
        let chars = Array(pattern)
        var literal: [Character] = [], prefix: [UInt8]? = nil, parts: [Part] = []
        var i = 0
        while i < chars.count {
            guard chars[i] == "%", i + 1 < chars.count, chars[i + 1] == "{" else {
                literal.append(chars[i])
                i += 1
                continue
            }
            guard let close = chars[i...].firstIndex(of: "}") else { throw ParseError(message: "expected '}' to close '%{'", offset: i) }
            let text = String(literal).utf8
            if prefix == nil { prefix = Array(text) } else {
                guard !text.isEmpty else { throw ParseError(message: "expected a delimiter between two fields", offset: i) }
                parts[parts.count - 1].delimiter = Array(text)
            }
            literal = []
            parts.append(try Dissector.part(String(chars[(i + 2)..<close]), at: i))
            i = close + 1
        }
        guard !parts.isEmpty else { throw ParseError(message: "expected at least one %{field}", offset: 0) }
        parts[parts.count - 1].delimiter = Array(String(literal).utf8)
        // `%{ts} %{+ts}`: a plain field that is appended to is the first piece.
        let appendedNames = Set(parts.filter { if case .append = $0.kind { true } else { false } }.map(\.name))
        for i in parts.indices where parts[i].kind == .normal && appendedNames.contains(parts[i].name) {
            parts[i].kind = .append(order: Int.max)
        }
        self.pattern = pattern
        self.prefix = prefix ?? []
        self.parts = parts
        self.paths = Dictionary(parts.compactMap { p in (try? FieldPath(p.name)).map { (p.name, $0) } }) { a, _ in a }
    }

    private static func part(_ body: String, at offset: Int) throws(ParseError) -> Part {
        var name = Substring(body), padded = false, kind = Kind.normal
        if name.hasSuffix("->") { padded = true; name = name.dropLast(2) }
        switch name.first {
        case "+"?:
            name = name.dropFirst()
            var order = Int.max
            if let slash = name.lastIndex(of: "/") {
                guard let n = Int(name[name.index(after: slash)...]) else {
                    throw ParseError(message: "expected an append order after '/' in %{\(body)}", offset: offset)
                }
                order = n
                name = name[..<slash]
            }
            kind = .append(order: order)
        case "?"?: name = name.dropFirst(); kind = .namedSkip
        case "&"?: name = name.dropFirst(); kind = .reference
        case nil: kind = .skip
        default: break
        }
        if name.isEmpty && kind != .skip { throw ParseError(message: "expected a field name in %{\(body)}", offset: offset) }
        // Names that become fields are checked now; a reference's name comes from the data.
        if kind != .skip && kind != .namedSkip && kind != .reference {
            do { _ = try FieldPath(String(name)) } catch {
                throw ParseError(message: "bad field in %{\(body)}: \(error.message)", offset: offset)
            }
        }
        return Part(name: String(name), kind: kind, padded: padded, delimiter: [])
    }

    /// The fields `text` dissects into, in pattern order, or `nil` if a
    /// delimiter is missing. Appended parts are joined by `separator`.
    public func dissect(_ text: String, appendSeparator separator: String = " ") -> [(String, String)]? {
        let bytes = Array(text.utf8)
        guard bytes.starts(with: prefix) else { return nil }
        var position = prefix.count
        var out: [(String, String)] = [], named: [String: String] = [:], appended: [String: [(Int, String)]] = [:]
        for (index, part) in parts.enumerated() {
            let end: Int
            if part.delimiter.isEmpty {
                end = bytes.count
            } else {
                guard let found = Dissector.find(part.delimiter, in: bytes, from: position) else { return nil }
                end = found
            }
            let value = String(decoding: bytes[position..<end], as: UTF8.self)
            position = min(bytes.count, end + part.delimiter.count)
            if part.padded, !part.delimiter.isEmpty {
                while bytes[position...].starts(with: part.delimiter) { position += part.delimiter.count }
            }
            switch part.kind {
            case .normal: out.append((part.name, value))
            case .skip: break
            case .namedSkip: named[part.name] = value
            case .append(let order):
                if appended[part.name] == nil { out.append((part.name, "")) }
                appended[part.name, default: []].append((order == Int.max ? index : order, value))
            case .reference:
                if let key = named[part.name] { out.append((key, value)) }
            }
        }
        return out.map { name, value in
            guard let pieces = appended[name] else { return (name, value) }
            return (name, pieces.sorted { $0.0 < $1.0 }.map(\.1).joined(separator: separator))
        }
    }

    /// The field `name` writes to; `nil` for a referenced name that is not a field path.
    func field(named name: String) -> FieldPath? {
        paths[name] ?? (try? FieldPath(name))
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard needle.count <= haystack.count - start else { return nil }
        var i = start
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

extension Transform {
    /// Dissects string fields; a missing delimiter fails the step (tag
    /// `_dissectfailure` unless the step says otherwise).
    public static func dissect(_ rules: [(FieldPath, Dissector)], appendSeparator: String = " ") -> Transform {
        Transform(kind: "dissect") { record in
            for (path, dissector) in rules {
                guard case .string(let text)? = record.value[path] else {
                    return .failed("\(path) is not a string to dissect")
                }
                guard let fields = dissector.dissect(text, appendSeparator: appendSeparator) else {
                    return .failed("\(path) does not fit '\(dissector.pattern)'")
                }
                for (name, value) in fields {
                    guard let field = dissector.field(named: name) else { continue }
                    guard record.value.set(field, to: .string(value)) else { return .notAnObject(field) }
                }
            }
            return .keep
        }
    }
}
