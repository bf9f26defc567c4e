import Foundation
import SluiceTransforms
import Yams

extension StepReader {
    /// The transform a step of `kind` describes, or `nil` after reporting why not.
    func transform(_ kind: String, _ body: Node) -> Transform? {
        switch kind {
        case "drop":
            return reader.bool(body, "drop") == true ? .drop : nil
        case "set", "add":
            return pairs(body, kind) { key, value -> (FieldPath, SetValue)? in
                guard let path = field(key, keyText(key)), let literal = reader.value(value, "the value of \(path)") else { return nil }
                if case .string(let text) = literal, text.contains("%{") {
                    return reader.checked(value, "bad %{field} reference") { (path, .template(try Template(text))) }
                }
                return (path, .literal(literal))
            }.map { Transform.set($0, overwrite: kind == "set") }
        case "rename", "copy":
            return pairs(body, kind) { key, value -> (FieldPath, FieldPath)? in
                guard let from = field(key, keyText(key)), let to = field(value) else { return nil }
                return (from, to)
            }.map { kind == "rename" ? Transform.rename($0) : Transform.copy($0) }
        case "remove", "lowercase", "uppercase", "strip":
            guard let paths = fieldList(body, kind) else { return nil }
            return kind == "remove" ? .remove(paths) : .text(TextChange(rawValue: kind)!, paths)
        case "tag":
            return reader.strings(body, "tags").map(Transform.tag)
        case "convert":
            return pairs(body, kind) { key, value -> (FieldPath, Conversion)? in
                guard let path = field(key, keyText(key)), let to = reader.choice(value, "conversion", as: Conversion.self) else { return nil }
                return (path, to)
            }.map(Transform.convert)
        case "gsub":
            guard let items = reader.sequence(body, "gsub rules") else { return nil }
            let rules = items.compactMap { item -> (FieldPath, PCRERegex, String)? in
                guard let f = reader.mapping(item, "a gsub rule", allowed: ["field", "pattern", "replacement"],
                                             required: ["field", "pattern", "replacement"]),
                      let fieldNode = f["field"], let path = field(fieldNode),
                      let patternNode = f["pattern"], let regex = regex(patternNode),
                      let replacement = f["replacement"].flatMap({ reader.string($0, "a replacement") }) else { return nil }
                return (path, regex, replacement)
            }
            return rules.count == items.count ? .gsub(rules) : nil
        case "json":
            guard let f = reader.mapping(body, "a json step", allowed: ["source", "target"], required: ["source"]),
                  let sourceNode = f["source"], let source = field(sourceNode) else { return nil }
            var target: FieldPath?
            if let t = f["target"] {
                guard let path = field(t) else { return nil }
                target = path
            }
            return .json(source: source, target: target)
        case "truncate":
            guard let f = reader.mapping(body, "a truncate step", allowed: ["fields", "max_bytes"], required: ["fields", "max_bytes"]),
                  let paths = f["fields"].flatMap({ fieldList($0, "truncate") }),
                  let max = f["max_bytes"].flatMap({ reader.int($0, "max_bytes", atLeast: 1) }) else { return nil }
            return .truncate(paths, maxBytes: max)
        case "date":
            guard let time = timeField(body, "a date step", extra: ["target"]) else { return nil }
            var target = FieldPath(components: ["@timestamp"])
            if let t = time.fields["target"] {
                guard let path = field(t) else { return nil }
                target = path
            }
            return .date(source: time.field, formats: time.formats, target: target, defaultOffsetSeconds: time.offset)
        case "insert_timestamp":
            // `insert_timestamp: field`, or a mapping with `field` and `format`.
            var fieldNode = body, format = TimestampFormat.unixMilliseconds
            if case .mapping = body {
                guard let f = reader.mapping(body, "an insert_timestamp step", allowed: ["field", "format"], required: ["field"]),
                      let n = f["field"] else { return nil }
                fieldNode = n
                if let node = f["format"] {
                    guard let chosen = reader.choice(node, "timestamp format", as: TimestampFormat.self) else { return nil }
                    format = chosen
                }
            }
            return field(fieldNode).map { .insertTimestamp($0, format: format) }
        case "grok":
            return grok(body)
        case "dissect":
            guard let f = reader.mapping(body, "a dissect step", allowed: ["mapping", "append_separator"], required: ["mapping"]) else { return nil }
            let separator = f["append_separator"].map { reader.string($0, "append_separator") } ?? " "
            let rules = pairs(f["mapping"]!, "dissect mapping") { key, value -> (FieldPath, Dissector)? in
                guard let path = field(key, keyText(key)), let text = reader.string(value, "a dissect pattern") else { return nil }
                return reader.checked(value, "bad dissect pattern") { (path, try Dissector(text)) }
            }
            guard let rules, let separator else { return nil }
            return .dissect(rules, appendSeparator: separator)
        case "kv":
            return keyValue(body)
        case "fingerprint":
            guard let f = reader.mapping(body, "a fingerprint step", allowed: ["fields", "target", "key", "encoding"], required: ["fields"]),
                  let fields = f["fields"].flatMap({ fieldList($0, "fingerprint") }) else { return nil }
            var target = FieldPath(components: ["fingerprint"]), encoding = FingerprintEncoding.hex, key: String?
            if let t = f["target"] {
                guard let path = field(t) else { return nil }
                target = path
            }
            if let n = f["encoding"] {
                guard let chosen = reader.choice(n, "fingerprint encoding", as: FingerprintEncoding.self) else { return nil }
                encoding = chosen
            }
            if let n = f["key"] {
                guard let text = reader.string(n, "an HMAC key") else { return nil }
                key = text
            }
            return .fingerprint(fields, target: target, key: key, encoding: encoding)
        default:
            reader.report(body, "unknown step kind '\(kind)'")
            return nil
        }
    }

    /// `match` (field: expression or list), `pattern_definitions`,
    /// `patterns_files` (relative to the topology file), `overwrite`,
    /// `target`, `break_on_match`, `keep_empty_captures`.
    private func grok(_ body: Node) -> Transform? {
        guard let f = reader.mapping(body, "a grok step", allowed: ["match", "pattern_definitions", "patterns_files", "overwrite", "target",
                                                                    "break_on_match", "keep_empty_captures"], required: ["match"]),
              let patterns = grokPatterns(files: f["patterns_files"], definitions: f["pattern_definitions"]) else { return nil }
        var options = GrokOptions()
        if let n = f["overwrite"] { options.overwrite = Set(fieldList(n, "overwrite") ?? []) }
        if let n = f["target"] { options.target = field(n) }
        if let n = f["break_on_match"], let b = reader.bool(n, "break_on_match") { options.breakOnMatch = b }
        if let n = f["keep_empty_captures"], let b = reader.bool(n, "keep_empty_captures") { options.keepEmptyCaptures = b }
        let rules = pairs(f["match"]!, "grok match") { key, value -> (FieldPath, [Grok])? in
            guard let path = field(key, keyText(key)) else { return nil }
            let nodes: [Node]
            if case .sequence(let s) = value { nodes = Array(s) } else { nodes = [value] }
            let groks = nodes.compactMap { node -> Grok? in
                guard let text = reader.string(node, "a grok expression") else { return nil }
                do throws(Grok.CompileError) { return try Grok(text, patterns: patterns) } catch {
                    let hint = error.unknownPattern.map { didYouMean($0, among: patterns.definitions.keys) } ?? ""
                    reader.report(node, "bad grok expression: \(error.message)\(hint)", offset: error.offset)
                    return nil
                }
            }
            return groks.count == nodes.count && !groks.isEmpty ? (path, groks) : nil
        }
        return rules.map { Transform.grok($0, options: options) }
    }

    /// `source` (default `message`), `field_split`, `value_split`,
    /// `trim_key`, `trim_value` (character sets), `include_keys`,
    /// `exclude_keys`, `prefix`, `target` — Logstash's `kv` options.
    private func keyValue(_ body: Node) -> Transform? {
        guard let f = reader.mapping(body, "a kv step", allowed: ["source", "field_split", "value_split", "trim_key", "trim_value",
                                                                 "include_keys", "exclude_keys", "prefix", "target"]) else { return nil }
        var options = KeyValueOptions(), source = FieldPath(components: ["message"]), ok = true
        func characters(_ key: String, _ apply: ([Unicode.Scalar]) -> Void) {
            guard let n = f[key] else { return }
            guard let text = reader.string(n, "\(key) characters") else { ok = false; return }
            guard !text.isEmpty else { reader.report(n, "expected at least one character in \(key)"); ok = false; return }
            apply(Array(text.unicodeScalars))
        }
        characters("field_split") { options.fieldSplit = $0 }
        characters("value_split") { options.valueSplit = $0 }
        characters("trim_key") { options.trimKey = $0 }
        characters("trim_value") { options.trimValue = $0 }
        if let n = f["include_keys"] { if let keys = reader.strings(n, "keys") { options.includeKeys = Set(keys) } else { ok = false } }
        if let n = f["exclude_keys"] { if let keys = reader.strings(n, "keys") { options.excludeKeys = Set(keys) } else { ok = false } }
        if let n = f["prefix"] { if let text = reader.string(n, "a key prefix") { options.prefix = text } else { ok = false } }
        for (key, apply) in [("source", { source = $0 }), ("target", { options.target = $0 })] as [(String, (FieldPath) -> Void)] {
            guard let n = f[key] else { continue }
            if let path = field(n) { apply(path) } else { ok = false }
        }
        return ok ? .kv(source: source, options: options) : nil
    }

    /// The shipped bank plus the topology's own files and definitions.
    private func grokPatterns(files: Node?, definitions: Node?) -> GrokPatterns? {
        var patterns = GrokPatterns()
        var ok = true
        if let files {
            let directory = URL(fileURLWithPath: reader.file).deletingLastPathComponent()
            for node in reader.items(files) {
                guard let name = reader.string(node, "a patterns file") else { ok = false; continue }
                let url = name.hasPrefix("/") ? URL(fileURLWithPath: name) : directory.appendingPathComponent(name)
                guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                    reader.report(node, "cannot read the patterns file \(url.path)")
                    ok = false
                    continue
                }
                do { try patterns.load(file: text) } catch {
                    reader.report(node, "in patterns file \(url.path): \(error)")
                    ok = false
                }
            }
        }
        if let definitions {
            ok = pairs(definitions, "pattern definitions") { key, value -> Bool? in
                let name = keyText(key)
                guard GrokPatterns.isName(name) else {
                    reader.report(key, "expected a pattern name of letters, digits and '_', found '\(name)'")
                    return nil
                }
                guard let text = reader.string(value, "a grok pattern") else { return nil }
                patterns.define(name, text)
                return true
            } != nil && ok
        }
        return ok ? patterns : nil
    }

    func regex(_ node: Node) -> PCRERegex? {
        guard let pattern = reader.string(node, "a regular expression") else { return nil }
        return reader.checked(node, "bad regular expression") { try PCRERegex(pattern) }
    }

    /// `field`, `formats` and `timezone` (plus `extra` keys): a time read
    /// from a field, as the `date` step and a source's `timestamp` take it.
    func timeField(_ node: Node, _ what: String, extra: [String] = [])
        -> (field: FieldPath, formats: [DateFormat], offset: Int, fields: YAMLReader.Fields)? {
        guard let f = reader.mapping(node, what, allowed: ["field", "formats", "timezone"] + extra, required: ["field", "formats"]),
              let fieldNode = f["field"], let source = field(fieldNode),
              let formatsNode = f["formats"], let texts = reader.strings(formatsNode, "date formats") else { return nil }
        let nodes = reader.items(formatsNode)
        let formats = zip(texts, nodes).compactMap { text, node in reader.checked(node, "bad date format") { try DateFormat(text) } }
        let offset = f["timezone"].flatMap { timezoneOffset($0) } ?? 0
        return formats.count == texts.count ? (source, formats, offset, f) : nil
    }

    /// `UTC`, `Z` or a fixed offset `+hh:mm`, in seconds east of UTC.
    private func timezoneOffset(_ node: Node) -> Int? {
        guard let text = reader.string(node, "a timezone") else { return nil }
        if text == "UTC" || text == "Z" { return 0 }
        // An ISO 8601 time with this offset reads back the offset.
        if let ms = DateFormat.iso8601.parse("1970-01-01T00:00\(text)") { return Int(-ms / 1000) }
        reader.report(node, "expected a timezone as UTC or a fixed offset such as +01:00, found '\(text)'")
        return nil
    }

    private func keyText(_ node: Node) -> String { node.scalar?.string ?? "" }

    private func fieldList(_ node: Node, _ what: String) -> [FieldPath]? {
        let nodes: [Node]
        if case .sequence(let s) = node { nodes = Array(s) } else { nodes = [node] }
        let paths = nodes.compactMap { n in reader.string(n, "a field in \(what)").flatMap { field(n, $0) } }
        return paths.count == nodes.count ? paths : nil
    }

    /// Reads a mapping whose entries each become one `T`; `nil` if any fails.
    private func pairs<T>(_ node: Node, _ what: String, _ entry: (Node, Node) -> T?) -> [T]? {
        guard case .mapping(let mapping) = node else {
            reader.report(node, "expected \(what) as a mapping of field: value")
            return nil
        }
        let out = mapping.compactMap { entry($0.key, $0.value) }
        return out.count == mapping.count ? out : nil
    }
}
