import Foundation
import SluiceTransforms
import Yams

/// Reads a YAML document into typed values, collecting every problem with
/// its position instead of stopping at the first. Every scalar read as text
/// goes through `${…}` interpolation.
final class YAMLReader {
    let file: String
    private let environment: [String: String]
    private(set) var diagnostics: [Diagnostic] = []
    /// Texts that came from `${file:}`: secrets by construction.
    private(set) var secretValues: Set<String> = []

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    /// A mapping's entries in order, with lookup by key.
    struct Fields {
        let node: Node
        let entries: [(key: String, keyNode: Node, value: Node)]
        subscript(key: String) -> Node? { entries.first { $0.key == key }?.value }

        /// Reads optional `key` with `parse` and hands its value to `apply`;
        /// returns `false` only when the key is there but `parse` refused it.
        func read<T>(_ key: String, _ parse: (Node) -> T?, into apply: (T) -> Void) -> Bool {
            guard let node = self[key] else { return true }
            guard let value = parse(node) else { return false }
            apply(value)
            return true
        }
    }

    // MARK: Reporting

    /// Records a problem at `node`, `offset` characters into its text when
    /// it is a scalar.
    func report(_ node: Node, _ message: String, offset: Int = 0) {
        let line = node.mark?.line ?? 1
        var column = node.mark?.column ?? 1
        if offset > 0, case .scalar(let s) = node {
            column += offset + (s.style == .singleQuoted || s.style == .doubleQuoted ? 1 : 0)
        }
        report(line: line, column: column, message)
    }

    /// What `make` builds from `node`'s text, or `nil` after reporting its
    /// error as "`label`: message", at the error's offset when it has one.
    func checked<T>(_ node: Node, _ label: String, _ make: () throws -> T) -> T? {
        do {
            return try make()
        } catch let error as any PositionedError {
            report(node, "\(label): \(error.message)", offset: error.offset)
        } catch {
            report(node, "\(label): \(error)")
        }
        return nil
    }

    func report(line: Int, column: Int, _ message: String) {
        diagnostics.append(Diagnostic(file: file, line: line, column: column, message: message))
    }

    // MARK: Shapes

    /// The node as a mapping whose keys are all among `allowed` and include
    /// `required`; unknown keys are reported with a did-you-mean suggestion.
    func mapping(_ node: Node, _ what: String, allowed: [String], required: [String] = []) -> Fields? {
        guard case .mapping(let mapping) = node else {
            report(node, "expected \(what) as a mapping (key: value), found \(describe(node))")
            return nil
        }
        var entries: [(String, Node, Node)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                report(keyNode, "expected a plain key in \(what)")
                continue
            }
            guard allowed.contains(key.string) else {
                let hint = didYouMean(key.string, among: allowed)
                report(keyNode, "unknown key '\(key.string)' in \(what)\(hint) (expected one of: \(allowed.joined(separator: ", ")))")
                continue
            }
            entries.append((key.string, keyNode, value))
        }
        let fields = Fields(node: node, entries: entries)
        for key in required where fields[key] == nil {
            report(node, "missing required key '\(key)' in \(what)")
        }
        return fields
    }

    func sequence(_ node: Node, _ what: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            report(node, "expected \(what) as a list, found \(describe(node))")
            return nil
        }
        return Array(sequence)
    }

    /// A list's items, or the node itself: for keys that take one value or several.
    func items(_ node: Node) -> [Node] { node.sequence.map(Array.init) ?? [node] }

    // MARK: Scalars

    /// A scalar as text, interpolated.
    func string(_ node: Node, _ what: String) -> String? {
        guard case .scalar(let scalar) = node else {
            report(node, "expected \(what) as text, found \(describe(node))")
            return nil
        }
        return interpolate(scalar.string, at: node)
    }

    /// A scalar or a list of scalars, as texts.
    func strings(_ node: Node, _ what: String) -> [String]? {
        if case .scalar = node { return string(node, what).map { [$0] } }
        guard let items = sequence(node, what) else { return nil }
        let texts = items.compactMap { string($0, what) }
        return texts.count == items.count ? texts : nil
    }

    func int(_ node: Node, _ what: String, atLeast minimum: Int = Int.min) -> Int? {
        guard let text = string(node, what) else { return nil }
        guard let value = Int(text) else {
            report(node, "expected \(what) as an integer, found '\(text)'")
            return nil
        }
        guard value >= minimum else {
            report(node, "expected \(what) to be at least \(minimum), found \(value)")
            return nil
        }
        return value
    }

    /// A finite number.
    func double(_ node: Node, _ what: String) -> Double? {
        guard let text = string(node, what) else { return nil }
        guard let value = Double(text), value.isFinite else {
            report(node, "expected \(what) as a number, found '\(text)'")
            return nil
        }
        return value
    }

    /// A duration written with its unit: `250ms`, `10s`, `5m`, `1h`, `1d`.
    func duration(_ node: Node, _ what: String) -> Duration? {
        guard let text = string(node, what) else { return nil }
        let digits = text.prefix { $0.isNumber }
        let units: [String: Int64] = ["ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000]
        guard !digits.isEmpty, let count = Int64(digits), let unit = units[String(text.dropFirst(digits.count))] else {
            report(node, "expected \(what) as a whole number and a unit (ms, s, m, h, d) such as 10s, found '\(text)'")
            return nil
        }
        return .milliseconds(count * unit)
    }

    /// Text with `%{field}` references.
    func template(_ node: Node, _ what: String) -> Template? {
        guard let text = string(node, what) else { return nil }
        return checked(node, "bad \(what)") { try Template(text) }
    }

    func bool(_ node: Node, _ what: String) -> Bool? {
        guard let text = string(node, what) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report(node, "expected \(what) as true or false, found '\(text)'")
            return nil
        }
    }

    /// One of the cases of `E`, by raw value.
    func choice<E: RawRepresentable & CaseIterable>(_ node: Node, _ what: String, as: E.Type) -> E? where E.RawValue == String {
        guard let text = string(node, what) else { return nil }
        if let value = E(rawValue: text) { return value }
        let names = E.allCases.map(\.rawValue)
        let hint = didYouMean(text, among: names)
        report(node, "unknown \(what) '\(text)'\(hint) (expected one of: \(names.joined(separator: ", ")))")
        return nil
    }

    /// A scalar as a field value, typed as YAML resolves it (a quoted scalar is text).
    func value(_ node: Node, _ what: String) -> FieldValue? {
        switch node {
        case .scalar(let scalar):
            guard let text = interpolate(scalar.string, at: node) else { return nil }
            if scalar.style == .plain {
                if text == "null" || text == "~" { return .null }
                if let b = node.bool, text == scalar.string { return .bool(b) }
                if let i = Int(text) { return .int(i) }
                if text.contains("."), let d = Double(text) { return .double(d) }
            }
            return .string(text)
        case .sequence(let items):
            let values = items.compactMap { value($0, what) }
            return values.count == items.count ? .array(values) : nil
        case .mapping(let mapping):
            var pairs: [(String, FieldValue)] = []
            for (k, v) in mapping {
                guard let key = string(k, "a key in \(what)"), let value = value(v, what) else { return nil }
                pairs.append((key, value))
            }
            return .object(FieldMap(pairs))
        case .alias:
            report(node, "YAML aliases are not supported in \(what)")
            return nil
        }
    }

    private func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s): "'\(s.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    // MARK: Interpolation

    /// Replaces `${env:NAME}`, `${env:NAME:-default}` and `${file:/path}`
    /// (the file's text without its final newline).
    func interpolate(_ text: String, at node: Node) -> String? {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            let offset = text.distance(from: text.startIndex, to: open.lowerBound)
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                report(node, "expected '}' to close '${' in interpolation", offset: offset)
                return nil
            }
            let body = String(rest[open.upperBound..<close])
            guard let value = resolve(body, at: node, offset: offset) else { return nil }
            out += value
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    private func resolve(_ body: String, at node: Node, offset: Int) -> String? {
        if body.hasPrefix("env:") {
            let spec = body.dropFirst(4)
            let (name, fallback) = spec.range(of: ":-").map { (String(spec[..<$0.lowerBound]), String(spec[$0.upperBound...])) }
                ?? (String(spec), nil)
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                report(node, "expected an environment variable name in '${\(body)}'", offset: offset)
                return nil
            }
            if let value = environment[name] { return value }
            if let fallback { return fallback }
            report(node, "environment variable \(name) is not set and '${env:\(name)}' has no default (write ${env:\(name):-default})",
                   offset: offset)
            return nil
        }
        if body.hasPrefix("file:") {
            let path = String(body.dropFirst(5))
            guard let data = FileManager.default.contents(atPath: path) else {
                report(node, "cannot read '\(path)' for '${file:…}'", offset: offset)
                return nil
            }
            var value = String(decoding: data, as: UTF8.self)
            if value.hasSuffix("\n") { value.removeLast() }
            secretValues.insert(value)
            return value
        }
        report(node, "unknown interpolation '${\(body)}'; expected ${env:NAME}, ${env:NAME:-default} or ${file:/path}",
               offset: offset)
        return nil
    }
}

/// An error that knows how far into a scalar's text it arose.
protocol PositionedError: Error {
    var message: String { get }
    var offset: Int { get }
}

extension ConditionError: PositionedError {}
extension FieldPath.ParseError: PositionedError {}
extension PCRERegex.CompileError: PositionedError {}
extension Dissector.ParseError: PositionedError {}
extension Grok.CompileError: PositionedError {}
