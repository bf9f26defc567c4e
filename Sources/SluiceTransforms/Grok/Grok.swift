/// A grok expression — a regular expression in which `%{NAME}` stands for a
/// named pattern and `%{NAME:field:type}` also captures what it matched
/// into a field — compiled once into a single PCRE2 expression.
public struct Grok: Sendable {
    /// The expression as written.
    public let expression: String
    let regex: PCRERegex
    /// By regex group number: the field a group fills and how its text converts.
    private(set) var captures: [Capture?]

    /// What one named group of the compiled expression fills.
    struct Capture: Sendable {
        var field: FieldPath
        var type: CaptureType?
        /// Replace a value already there rather than append to it.
        var overwrite = false
    }

    /// The `:type` suffix of a capture; any other text stays a string.
    public enum CaptureType: String, Sendable, CaseIterable {
        case int, long, float, double
    }

    /// Why an expression does not compile, and where in it.
    public struct CompileError: Error, Sendable, CustomStringConvertible {
        /// What is wrong.
        public var message: String
        /// Character offset in the expression.
        public var offset: Int
        /// The name of a pattern that does not exist, for suggestions.
        public var unknownPattern: String?
        public var description: String { message }
    }

    /// Compiles `expression` against `patterns`.
    public init(_ expression: String, patterns: GrokPatterns) throws(CompileError) {
        var expander = Expander(patterns: patterns)
        try expander.expand(expression, at: nil, through: [])
        let regex: PCRERegex
        do {
            regex = try PCRERegex(expander.out, dotAll: true, namedGroupsOnly: true)
        } catch {
            throw CompileError(message: "the expanded expression does not compile: \(error.message)", offset: 0)
        }
        self.expression = expression
        self.regex = regex
        self.captures = regex.groupNames.map { name in name.flatMap { expander.captures[$0] } }
    }
}

/// Rewrites a grok expression into PCRE2 syntax, pattern references
/// expanded recursively, each capture a group with a generated name.
private struct Expander {
    let patterns: GrokPatterns
    var out = ""
    var captures: [String: Grok.Capture] = [:]

    init(patterns: GrokPatterns) { self.patterns = patterns }

    /// Expands `text`; `at` is the offset of the top-level reference being
    /// expanded (`nil` while expanding the top level itself), where errors
    /// inside nested definitions are reported.
    mutating func expand(_ text: String, at reference: Int?, through stack: [String]) throws(Grok.CompileError) {
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count {
                out.append(c); out.append(chars[i + 1])
                i += 2
            } else if c == "%", i + 1 < chars.count, chars[i + 1] == "{" {
                guard let close = chars[i...].firstIndex(of: "}") else {
                    throw Grok.CompileError(message: "expected '}' to close '%{'", offset: reference ?? i)
                }
                try expandReference(String(chars[(i + 2)..<close]), at: reference ?? i, through: stack)
                i = close + 1
            } else if let (name, length) = namedGroup(chars, i) {
                let field: FieldPath
                do { field = try FieldPath(name) } catch {
                    throw Grok.CompileError(message: "bad field name in (?<\(name)>: \(error.message)", offset: reference ?? i)
                }
                out += "(?<\(newGroup(field, nil))>"
                i += length
            } else {
                out.append(c)
                i += 1
            }
        }
    }

    /// `NAME`, `NAME:field` or `NAME:field:type` between `%{` and `}`.
    private mutating func expandReference(_ body: String, at offset: Int, through stack: [String]) throws(Grok.CompileError) {
        let parts = body.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        let name = parts[0]
        guard GrokPatterns.isName(name) else {
            throw Grok.CompileError(message: "expected a pattern name in %{\(body)}", offset: offset)
        }
        guard let definition = patterns.definitions[name] else {
            throw Grok.CompileError(message: "unknown grok pattern '\(name)'", offset: offset, unknownPattern: name)
        }
        guard !stack.contains(name) else {
            throw Grok.CompileError(message: "pattern \(name) refers to itself (\((stack + [name]).joined(separator: " → ")))", offset: offset)
        }
        var type: Grok.CaptureType?
        if parts.count == 3 {
            guard let t = Grok.CaptureType(rawValue: parts[2]) else {
                let known = Grok.CaptureType.allCases.map(\.rawValue).joined(separator: ", ")
                throw Grok.CompileError(message: "unknown capture type '\(parts[2])' in %{\(body)} (expected \(known))", offset: offset)
            }
            type = t
        }
        if parts.count >= 2 {
            let field: FieldPath
            do { field = try FieldPath(parts[1]) } catch {
                throw Grok.CompileError(message: "bad field in %{\(body)}: \(error.message)", offset: offset)
            }
            out += "(?<\(newGroup(field, type))>"
        } else {
            out += "(?:"
        }
        try expand(definition, at: offset, through: stack + [name])
        out += ")"
    }

    private mutating func newGroup(_ field: FieldPath, _ type: Grok.CaptureType?) -> String {
        let name = "g\(captures.count + 1)"
        captures[name] = Grok.Capture(field: field, type: type)
        return name
    }

    /// A named group written directly, `(?<name>` or `(?P<name>`, but not
    /// the lookbehinds `(?<=` and `(?<!`: its name and the length of the opener.
    private func namedGroup(_ chars: [Character], _ i: Int) -> (String, Int)? {
        guard chars[i] == "(", i + 3 < chars.count, chars[i + 1] == "?" else { return nil }
        var start = i + 2
        if chars[start] == "P" { start += 1 }
        guard start < chars.count, chars[start] == "<", start + 1 < chars.count,
              chars[start + 1] != "=", chars[start + 1] != "!",
              let close = chars[(start + 1)...].firstIndex(of: ">") else { return nil }
        return (String(chars[(start + 1)..<close]), close + 1 - i)
    }
}

/// How a grok step writes what it captured.
public struct GrokOptions: Sendable {
    /// Fields a capture replaces; elsewhere a capture into a field that
    /// already holds a value turns it into an array of both (Logstash's rule).
    public var overwrite: Set<FieldPath> = []
    /// An object to write captures into instead of the top level.
    public var target: FieldPath?
    /// Stop at the first expression that matches (across all fields).
    public var breakOnMatch = true
    /// Also write captures that matched the empty string.
    public var keepEmptyCaptures = false

    /// The defaults: append, top level, first match wins, empty captures skipped.
    public init() {}
}

extension Transform {
    /// Matches the expressions of each field in order; the first that
    /// matches writes its captures. No match on any field fails the step
    /// (tag `_grokparsefailure` unless the step says otherwise).
    public static func grok(_ rules: [(FieldPath, [Grok])], options: GrokOptions = GrokOptions()) -> Transform {
        // Target and overwrite are settled once per capture here, not per record.
        let rules = rules.map { field, groks in (field, groks.map { $0.writing(below: options.target, overwriting: options.overwrite) }) }
        return Transform(kind: "grok") {
            let matchers = rules.map { $0.1.map { PCRERegex.Matcher($0.regex) } }
            return { record in
                var matched = false
                for (i, (field, groks)) in rules.enumerated() where !(matched && options.breakOnMatch) {
                    // A missing field is matched as empty text, as Logstash does.
                    let subjects: [String]
                    switch record.value[field] {
                    case .array(let values)?: subjects = values.map(\.text)
                    case let value?: subjects = [value.text]
                    case nil: subjects = [""]
                    }
                    for subject in subjects {
                        for (j, grok) in groks.enumerated() {
                            switch grok.capture(subject, matchers[i][j], keepEmpty: options.keepEmptyCaptures, into: &record.value) {
                            case .noMatch: continue
                            case .notAnObject(let field): return .notAnObject(field)
                            case .written: matched = true
                            }
                            if options.breakOnMatch { break }
                        }
                    }
                }
                return matched ? .keep : .failed("no grok expression matched \(rules.map { $0.0.description }.joined(separator: ", "))")
            }
        }
    }
}

extension Grok {
    /// This expression with its captures written below `target` (if any),
    /// those named in `overwrite` replacing what is there.
    func writing(below target: FieldPath?, overwriting overwrite: Set<FieldPath>) -> Grok {
        var copy = self
        copy.captures = captures.map { capture in
            capture.map { c in
                Capture(field: target.map { FieldPath(components: $0.components + c.field.components) } ?? c.field,
                        type: c.type, overwrite: overwrite.contains(c.field))
            }
        }
        return copy
    }

    /// What matching one subject did.
    enum Outcome {
        case noMatch, written
        /// A capture's field lies below a value that is not an object; the
        /// captures before it are written.
        case notAnObject(FieldPath)
    }

    /// Matches `subject` with `matcher` and writes what each group captured
    /// into `event`.
    func capture(_ subject: String, _ matcher: PCRERegex.Matcher, keepEmpty: Bool, into event: inout Event) -> Outcome {
        var subject = subject
        return subject.withUTF8 { bytes -> Outcome in
            guard matcher.match(bytes) else { return .noMatch }
            for group in captures.indices {
                guard let capture = captures[group], let range = matcher.range(ofGroup: group), keepEmpty || !range.isEmpty else { continue }
                let captured = UnsafeBufferPointer(rebasing: bytes[range])
                let value: FieldValue
                if let type = capture.type {
                    // A plain decimal integer (most typed captures) needs no string on the way.
                    if type == .int || type == .long, let n = Int(decimal: captured, in: captured.indices) {
                        value = .int(n)
                    } else {
                        value = type.convert(String(decoding: captured, as: UTF8.self))
                    }
                } else {
                    value = .string(String(decoding: captured, as: UTF8.self))
                }
                guard event.put(capture, value) else { return .notAnObject(capture.field) }
            }
            return .written
        }
    }
}

extension Grok.CaptureType {
    /// `text` as this type; text that does not convert stays a string.
    func convert(_ text: String) -> FieldValue {
        switch self {
        case .int, .long: Int(text).map(FieldValue.int) ?? FieldValue.double(Double(text) ?? .nan).converted(to: .integer) ?? .string(text)
        case .float, .double: Double(text).map(FieldValue.double) ?? .string(text)
        }
    }
}

extension Event {
    /// Writes a grok capture under Logstash's rules (see ``GrokOptions``).
    mutating func put(_ capture: Grok.Capture, _ value: FieldValue) -> Bool {
        modify(capture.field, creating: true) { (slot: inout FieldValue?) -> Void in
            switch slot {
            case nil: slot = value
            case _ where capture.overwrite: slot = value
            case .array(var values)?:
                // Emptied first, so that the array appends in place.
                slot = nil
                values.append(value)
                slot = .array(values)
            case let existing?: slot = .array([existing, value])
            }
        } != nil
    }
}
