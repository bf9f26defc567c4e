#if canImport(Glibc)
import Glibc
#endif
import SluiceTransforms

/// Proposes an Elasticsearch mapping from sample documents, for a person to
/// review and paste into a template: dates, IP addresses, integers and
/// floating-point numbers, booleans, and strings as `keyword` (identifiers,
/// codes, names) or `text` (free text with spaces). Fields whose samples
/// disagree are mapped as `keyword`, the type that takes them all, and
/// flagged.
public struct MappingInference {
    /// Documents seen so far.
    public private(set) var documents = 0
    private var root = Profile()

    /// An empty inference.
    public init() {}

    /// Takes one sample document.
    public mutating func add(_ document: FieldMap) {
        documents += 1
        root.addFields(document)
    }

    /// The proposed mapping: `{"properties": {…}}`.
    public var mapping: FieldMap { root.properties() }

    /// The proposed mapping as YAML for a template's `mappings:` block, with
    /// a comment on every field whose samples disagree or were all null.
    public var yaml: String {
        var out = ""
        root.writeYAML(into: &out, indent: "")
        return out
    }
}

/// What the samples of one field held.
private struct Profile {
    var booleans = 0, integers = 0, floats = 0, dates = 0, addresses = 0, words = 0, phrases = 0, nulls = 0
    var objects = 0
    var children: [(name: String, profile: Profile)] = []

    mutating func addFields(_ map: FieldMap) {
        for field in map.entries {
            if let i = children.firstIndex(where: { $0.name == field.key }) {
                children[i].profile.add(field.value)
            } else {
                var profile = Profile()
                profile.add(field.value)
                children.append((field.key, profile))
            }
        }
    }

    mutating func add(_ value: FieldValue) {
        switch value {
        case .null: nulls += 1
        case .bool: booleans += 1
        case .int: integers += 1
        case .double: floats += 1
        case .string(let text): classify(text)
        case .array(let items): for item in items { add(item) }
        case .object(let map):
            objects += 1
            addFields(map)
        }
    }

    private mutating func classify(_ text: String) {
        if looksLikeDate(text) { dates += 1 } else if isAddress(text) { addresses += 1 }
        else if text.utf8.count >= 32 && text.utf8.contains(UInt8(ascii: " ")) { phrases += 1 } else { words += 1 }
    }

    private var scalars: Int { booleans + integers + floats + dates + addresses + words + phrases }

    /// The mapping type and, when the samples disagree, why it was chosen.
    var type: (name: String, note: String?) {
        let kinds = [("boolean", booleans), ("long", integers), ("double", floats), ("date", dates),
                     ("ip", addresses), ("keyword", words), ("text", phrases)].filter { $0.1 > 0 }
        let names = Set(kinds.map(\.0))
        if names.count == 1 { return (kinds[0].0, nil) }
        if names == ["long", "double"] { return ("double", nil) }
        if names == ["keyword", "text"] { return ("text", nil) }
        return ("keyword", "samples disagree: " + kinds.map { "\($0.1) \($0.0)" }.joined(separator: ", "))
    }

    func properties() -> FieldMap {
        var fields: [(String, FieldValue)] = []
        for (name, child) in children {
            if let mapping = child.fieldMapping() { fields.append((name, .object(mapping))) }
        }
        return FieldMap([("properties", .object(FieldMap(fields)))])
    }

    /// This field's mapping; `nil` when every sample was null.
    func fieldMapping() -> FieldMap? {
        if objects > 0 && scalars == 0 { return properties() }
        guard scalars > 0 else { return nil }
        let name = type.name
        return name == "keyword" ? FieldMap([("type", "keyword"), ("ignore_above", 1024)]) : FieldMap([("type", .string(name))])
    }

    func writeYAML(into out: inout String, indent: String) {
        out += "\(indent)properties:\n"
        for (name, child) in children {
            let key = "\(indent)  \(yamlKey(name)):"
            if child.objects > 0 && child.scalars == 0 {
                out += key + "\n"
                child.writeYAML(into: &out, indent: indent + "    ")
                continue
            }
            guard let mapping = child.fieldMapping() else {
                out += "\(indent)  # \(yamlKey(name)): only null in the samples\n"
                continue
            }
            let body = mapping.entries.map { "\($0.key): \($0.value.text)" }.joined(separator: ", ")
            var notes = [child.type.note].compactMap { $0 }
            if child.objects > 0 { notes.append("also an object in \(child.objects) samples") }
            out += "\(key) { \(body) }" + (notes.isEmpty ? "" : "  # \(notes.joined(separator: "; "))") + "\n"
        }
    }
}

private func yamlKey(_ name: String) -> String {
    let plain = !name.isEmpty && name.utf8.allSatisfy {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
    }
    return plain ? name : "'" + name.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'"
}

/// A date Elasticsearch's default `strict_date_optional_time` reads:
/// ISO 8601 starting `yyyy-MM-dd`.
private func looksLikeDate(_ text: String) -> Bool {
    let bytes = Array(text.utf8.prefix(10))
    guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return false }
    return DateFormat.iso8601.parse(text) != nil
}

/// An IPv4 or IPv6 address.
private func isAddress(_ text: String) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 16)
    return inet_pton(AF_INET, text, &buffer) == 1 || inet_pton(AF_INET6, text, &buffer) == 1
}
