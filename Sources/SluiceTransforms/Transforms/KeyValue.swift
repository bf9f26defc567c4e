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
        let separators = fieldSplit + valueSplit + trimKey + trimValue
        guard separators.allSatisfy(\.isASCII) else {
            // Scalars, not Characters: splitting needs no grapheme breaking.
            return pairs(of: Array(text.unicodeScalars), scalar: \.self) { var s = String.UnicodeScalarView(); s.append(contentsOf: $0); return String(s) }
        }
        // ASCII separators never occur inside a multi-byte character: UTF-8 bytes split alike, and faster.
        var text = text
        return text.withUTF8 { bytes in
            pairs(of: bytes, scalar: { Unicode.Scalar($0) }) { String(decoding: UnsafeBufferPointer(rebasing: $0), as: UTF8.self) }
        }
    }

    /// ``pairs(_:)`` over code units `units` (scalars, or UTF-8 bytes when
    /// every separator is ASCII); `scalar` reads a unit as a scalar, `string`
    /// makes text of a run of units.
    private func pairs<Units: RandomAccessCollection>(
        of units: Units, scalar: (Units.Element) -> Unicode.Scalar, string: (Units.SubSequence) -> String
    ) -> [(String, String)] where Units.Index == Int {
        func isField(_ u: Units.Element) -> Bool { fieldSplit.contains(scalar(u)) }
        func isValue(_ u: Units.Element) -> Bool { valueSplit.contains(scalar(u)) }
        func trimmed(_ range: Range<Int>, _ set: [Unicode.Scalar]) -> String {
            var range = range
            while let first = range.first, set.contains(scalar(units[first])) { range = range.dropFirst() }
            while let last = range.last, set.contains(scalar(units[last])) { range = range.dropLast() }
            return string(units[range])
        }
        var out: [(String, String)] = []
        var i = units.startIndex
        let end = units.endIndex
        while i < end {
            while i < end, isField(units[i]) { i += 1 }
            let keyStart = i
            while i < end, !isValue(units[i]), !isField(units[i]) { i += 1 }
            let key = trimmed(keyStart..<i, trimKey)
            guard i < end, isValue(units[i]) else { continue }
            i += 1
            let value: String
            if i < end, let closer = KeyValueOptions.closer(of: scalar(units[i])),
               let close = units[(i + 1)...].firstIndex(where: { scalar($0) == closer }) {
                value = trimmed((i + 1)..<close, trimValue)
                i = close + 1
            } else {
                let valueStart = i
                while i < end, !isField(units[i]) { i += 1 }
                value = trimmed(valueStart..<i, trimValue)
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
}

extension Transform {
    /// Splits a string field into key/value fields; a key seen twice gets
    /// an array of its values. Text without pairs changes nothing.
    public static func kv(source: FieldPath, options: KeyValueOptions = KeyValueOptions()) -> Transform {
        Transform(kind: "kv") { record in
            guard case .string(let text)? = record.value[source] else { return .keep }
            let pairs = options.pairs(text)
            let target = options.target?.components ?? []
            for (i, (key, value)) in pairs.enumerated() {
                var components = target
                components.append(key)
                let path = FieldPath(components: components)
                var newValue = FieldValue.string(value)
                // A key earlier in the same text: its values gather in an
                // array. A scan, not a set: a line holds a few pairs, and
                // hashing each key into a set took a sixth of the step.
                if pairs[..<i].contains(where: { $0.0 == key }), let existing = record.value[path] {
                    if case .array(let values) = existing { newValue = .array(values + [newValue]) } else { newValue = .array([existing, newValue]) }
                }
                guard record.value.set(path, to: newValue) else { return .notAnObject(path) }
            }
            return .keep
        }
    }
}
