/// How `kv` splits text such as `user=ann status="not found" ms=12`.
public struct KeyValueOptions: Sendable {
    /// Characters that separate pairs.
    public var fieldSplit: [Unicode.Scalar] = [" "]
    /// Characters that separate a key from its value.
    public var valueSplit: [Unicode.Scalar] = ["="]
    /// Characters stripped from both ends of keys and of values.
    public var trimKey: [Unicode.Scalar] = []
    public var trimValue: [Unicode.Scalar] = []
    /// Only these keys (empty: all), never these.
    public var includeKeys: Set<String> = []
    public var excludeKeys: Set<String> = []
    /// Put before every key.
    public var prefix = ""
    /// An object to write into instead of the top level.
    public var target: FieldPath?

    /// Logstash's defaults: pairs split by spaces, keys from values by `=`.
    public init() {}

    /// The pairs of `text`, in order. A value in quotes or brackets
    /// (`"…"`, `'…'`, `(…)`, `[…]`, `<…>`) may hold split characters and
    /// loses its enclosing pair; text without a value separator is skipped.
    public func pairs(_ text: String) -> [(String, String)] {
        // Scalars, not Characters: splitting needs no grapheme breaking, which would cost most of the step.
        let chars = Array(text.unicodeScalars)
        var out: [(String, String)] = []
        var i = 0
        while i < chars.count {
            while i < chars.count, fieldSplit.contains(chars[i]) { i += 1 }
            let keyStart = i
            while i < chars.count, !valueSplit.contains(chars[i]), !fieldSplit.contains(chars[i]) { i += 1 }
            let key = trimmed(chars[keyStart..<i], trimKey)
            guard i < chars.count, valueSplit.contains(chars[i]) else { continue }
            i += 1
            let value: String
            if i < chars.count, let closer = KeyValueOptions.closer(of: chars[i]),
               let end = chars[(i + 1)...].firstIndex(of: closer) {
                value = trimmed(chars[(i + 1)..<end], trimValue)
                i = end + 1
            } else {
                let valueStart = i
                while i < chars.count, !fieldSplit.contains(chars[i]) { i += 1 }
                value = trimmed(chars[valueStart..<i], trimValue)
            }
            if !key.isEmpty, includeKeys.isEmpty || includeKeys.contains(key), !excludeKeys.contains(key) {
                out.append((prefix + key, value))
            }
        }
        return out
    }

    private static func closer(of c: Unicode.Scalar) -> Unicode.Scalar? {
        switch c {
        case "\"", "'": c
        case "(": ")"
        case "[": "]"
        case "<": ">"
        default: nil
        }
    }

    private func trimmed(_ chars: ArraySlice<Unicode.Scalar>, _ set: [Unicode.Scalar]) -> String {
        var slice = chars
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: slice)
        return String(out)
    }
}

extension Transform {
    /// Splits a string field into key/value fields; a key seen twice gets
    /// an array of its values. Text without pairs changes nothing.
    public static func kv(source: FieldPath, options: KeyValueOptions = KeyValueOptions()) -> Transform {
        Transform(kind: "kv") { record in
            guard case .string(let text)? = record.value[source] else { return .keep }
            var seen: Set<String> = []
            for (key, value) in options.pairs(text) {
                let path = FieldPath(components: (options.target?.components ?? []) + [key])
                var newValue = FieldValue.string(value)
                if !seen.insert(key).inserted, let existing = record.value[path] {
                    if case .array(let values) = existing { newValue = .array(values + [newValue]) } else { newValue = .array([existing, newValue]) }
                }
                guard record.value.set(path, to: newValue) else { return .notAnObject(path) }
            }
            return .keep
        }
    }
}
