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
                guard let from = field(key, keyText(key)), let text = reader.string(value, "a field"), let to = field(value, text) else { return nil }
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
                      let fieldNode = f["field"], let text = reader.string(fieldNode, "a field"), let path = field(fieldNode, text),
                      let patternNode = f["pattern"], let regex = regex(patternNode),
                      let replacement = f["replacement"].flatMap({ reader.string($0, "a replacement") }) else { return nil }
                return (path, regex, replacement)
            }
            return rules.count == items.count ? .gsub(rules) : nil
        case "json":
            guard let f = reader.mapping(body, "a json step", allowed: ["source", "target"], required: ["source"]),
                  let sourceNode = f["source"], let text = reader.string(sourceNode, "a field"), let source = field(sourceNode, text) else { return nil }
            var target: FieldPath?
            if let t = f["target"] {
                guard let text = reader.string(t, "a field"), let path = field(t, text) else { return nil }
                target = path
            }
            return .json(source: source, target: target)
        case "truncate":
            guard let f = reader.mapping(body, "a truncate step", allowed: ["fields", "max_bytes"], required: ["fields", "max_bytes"]),
                  let paths = f["fields"].flatMap({ fieldList($0, "truncate") }),
                  let max = f["max_bytes"].flatMap({ reader.int($0, "max_bytes", atLeast: 1) }) else { return nil }
            return .truncate(paths, maxBytes: max)
        case "date":
            guard let f = reader.mapping(body, "a date step", allowed: ["field", "formats", "target", "timezone"],
                                         required: ["field", "formats"]),
                  let fieldNode = f["field"], let text = reader.string(fieldNode, "a field"), let source = field(fieldNode, text),
                  let formatsNode = f["formats"], let texts = reader.strings(formatsNode, "date formats") else { return nil }
            let formats = texts.compactMap { text in reader.checked(formatsNode, "bad date format") { try DateFormat(text) } }
            var target = FieldPath(components: ["@timestamp"])
            if let t = f["target"] {
                guard let text = reader.string(t, "a field"), let path = field(t, text) else { return nil }
                target = path
            }
            let offset = f["timezone"].flatMap { timezoneOffset($0) } ?? 0
            return formats.count == texts.count ? .date(source: source, formats: formats, target: target, defaultOffsetSeconds: offset) : nil
        default:
            reader.report(body, "unknown step kind '\(kind)'")
            return nil
        }
    }

    func regex(_ node: Node) -> PCRERegex? {
        guard let pattern = reader.string(node, "a regular expression") else { return nil }
        return reader.checked(node, "bad regular expression") { try PCRERegex(pattern) }
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
