/// A value in an ``Event``: JSON's kinds, with integers kept apart from
/// floating-point numbers (as Logstash does).
public enum FieldValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([FieldValue])
    case object(FieldMap)

    /// The number as a double, for an int or a double.
    public var number: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    /// The string, for a string.
    public var string: String? {
        if case .string(let s) = self { s } else { nil }
    }

    /// The name of the kind, for messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "float"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// Truth as a condition reads a bare field: present, not null, not false.
    public var isTruthy: Bool {
        switch self {
        case .null, .bool(false): false
        default: true
        }
    }

    /// The text `%{field}` interpolation and `convert: string` write: strings
    /// as they are, everything else as its JSON.
    public var text: String {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        case .bool(let b): b ? "true" : "false"
        default: String(decoding: JSONWriter.encode(self), as: UTF8.self)
        }
    }
}

/// An object's fields in insertion order. Lookups scan linearly: log events
/// have a few dozen fields, where a scan beats hashing.
public struct FieldMap: Sendable, Equatable {
    /// One field. Keys and values live in one array: an object is one
    /// allocation, and events build a dozen nested objects per record.
    public struct Entry: Sendable, Equatable {
        /// The field's name.
        public var key: String
        /// Its value.
        public var value: FieldValue
    }

    /// The fields in order.
    public private(set) var entries: [Entry] = []

    /// An empty map.
    public init() {}

    /// A map of `pairs` in order (a repeated key keeps its last value).
    public init(_ pairs: [(String, FieldValue)]) {
        entries.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    /// The number of fields.
    public var count: Int { entries.count }

    /// The keys in order.
    public var keys: [String] { entries.map(\.key) }

    /// The values, parallel to ``keys``.
    public var values: [FieldValue] { entries.map(\.value) }

    /// A field's value; assigning `nil` removes it.
    public subscript(key: String) -> FieldValue? {
        get { index(of: key).map { entries[$0].value } }
        set {
            if let i = index(of: key) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append(Entry(key: key, value: newValue))
            }
        }
    }

    private func index(of key: String) -> Int? {
        // Lengths first: unequal keys mostly differ in length, and comparing
        // lengths costs far less than comparing strings.
        let length = key.utf8.count
        return entries.firstIndex { $0.key.utf8.count == length && $0.key == key }
    }
}

extension FieldValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: FieldValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, FieldValue)...) { self = .object(FieldMap(elements)) }
    public init(nilLiteral: ()) { self = .null }
}
