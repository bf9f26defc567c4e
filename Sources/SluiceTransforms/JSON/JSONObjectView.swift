import Glibc

/// A JSON object validated in one pass, with the positions of its top-level
/// fields: reading a field costs a short scan of those positions, with no
/// tree and no copy of the document.
///
/// Validation follows RFC 8259 (structure, string escapes, number grammar,
/// literals, no trailing garbage), nesting up to ``maxDepth``. Bytes inside
/// strings are not checked for UTF-8 well-formedness.
public struct JSONObjectView {
    /// The document.
    public let bytes: [UInt8]
    private(set) var fields: [Field] = []

    /// The deepest nesting accepted.
    public static let maxDepth = 256

    struct Field {
        let keyStart: Int, keyEnd: Int      // inside the quotes
        let valueStart: Int, valueEnd: Int  // the value's bytes, quotes included
        let keyHasEscapes: Bool
    }

    /// Validates `bytes` as a JSON document whose top level is an object.
    public init(_ bytes: [UInt8]) throws(JSONError) {
        self.bytes = bytes
        var fields: [Field]? = []
        fields!.reserveCapacity(16)
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONError) in
            var scanner = JSONScanner(buffer)
            scanner.skipWhitespace()
            guard scanner.peek == UInt8(ascii: "{") else { throw scanner.error("expected a JSON object") }
            try scanner.scanObject(depth: 1, fields: &fields)
            scanner.skipWhitespace()
            guard scanner.atEnd else { throw scanner.error("unexpected data after the object") }
        }
        self.fields = fields!
    }

    /// The names of the top-level fields in document order.
    public var keys: [String] { fields.map(key(of:)) }

    func key(of field: Field) -> String { decodeString(from: field.keyStart - 1, to: field.keyEnd + 1) }

    /// A top-level field's value, found once and then read as any type;
    /// `nil` if absent. With duplicate keys, the last one wins, as in most
    /// parsers.
    public subscript(key: String) -> Value? {
        field(key).map { Value(raw: bytes[$0.valueStart..<$0.valueEnd]) }
    }

    /// The raw bytes of a top-level field's value (a string keeps its quotes).
    public func raw(_ key: String) -> ArraySlice<UInt8>? { self[key]?.raw }

    /// A string field's decoded text; `nil` if absent or not a string.
    public func string(_ key: String) -> String? { self[key]?.string }

    /// Whether a string field starts with `prefix` (see ``Value/hasPrefix(_:)``).
    public func string(_ key: String, hasPrefix prefix: String) -> Bool { self[key]?.hasPrefix(prefix) ?? false }

    /// An integer field; `nil` if absent, not a number, or not integral.
    public func int(_ key: String) -> Int? { self[key]?.int }

    /// A number field as a double; `nil` if absent or not a number.
    public func double(_ key: String) -> Double? { self[key]?.double }

    /// A boolean field; `nil` if absent or not a boolean.
    public func bool(_ key: String) -> Bool? { self[key]?.bool }

    /// Whether the field is present (with any value, `null` included).
    public func contains(_ key: String) -> Bool { field(key) != nil }

    /// The JSON type of a top-level field's value; `nil` if absent.
    public func kind(of key: String) -> JSONKind? { self[key]?.kind }

    private func field(_ key: String) -> Field? {
        var key = key
        return key.withUTF8 { k in
            bytes.withUnsafeBufferPointer { doc in
                fields.withUnsafeBufferPointer { fields in
                    // From the end, as the last duplicate wins. Most keys differ
                    // in length: one subtraction and comparison per field then.
                    var i = fields.count
                    while i > 0 {
                        i -= 1
                        let start = fields[i].keyStart, escaped = fields[i].keyHasEscapes
                        if fields[i].keyEnd - start == k.count, !escaped {
                            if k.isEmpty || memcmp(doc.baseAddress! + start, k.baseAddress!, k.count) == 0 { return fields[i] }
                        } else if escaped,
                                  decodeString(from: start - 1, to: fields[i].keyEnd + 1) == String(decoding: k, as: UTF8.self) {
                            return fields[i]
                        }
                    }
                    return nil
                }
            }
        }
    }

    /// Decodes the string literal at `[start, end)` (quotes included).
    private func decodeString(from start: Int, to end: Int) -> String {
        JSONString.decode(literal: bytes[start..<end])
    }
}

extension JSONObjectView {
    /// One field's value in the document, as validated: reading it costs no
    /// lookup, and nothing is copied until a string is decoded.
    public struct Value: Sendable {
        /// The value's bytes (a string keeps its quotes).
        public let raw: ArraySlice<UInt8>

        /// Its JSON type.
        public var kind: JSONKind {
            switch raw.first {
            case UInt8(ascii: "\""): .string
            case UInt8(ascii: "{"): .object
            case UInt8(ascii: "["): .array
            case UInt8(ascii: "t"), UInt8(ascii: "f"): .bool
            case UInt8(ascii: "n"): .null
            default: .number
            }
        }

        /// Its decoded text; `nil` if not a string.
        public var string: String? {
            guard raw.first == UInt8(ascii: "\"") else { return nil }
            return JSONString.decode(literal: raw)
        }

        /// Whether it is a string that starts with `prefix`, compared on the
        /// raw bytes (so a prefix with characters JSON escapes is not supported).
        public func hasPrefix(_ prefix: String) -> Bool {
            guard raw.first == UInt8(ascii: "\""), raw.count - 2 >= prefix.utf8.count else { return false }
            var prefix = prefix
            return prefix.withUTF8 { p in
                raw.withUnsafeBufferPointer { r in p.isEmpty || memcmp(r.baseAddress! + 1, p.baseAddress!, p.count) == 0 }
            }
        }

        /// Its integer value; `nil` if not a number or not integral.
        public var int: Int? {
            var value = 0
            var i = raw.startIndex
            let negative = raw[i] == UInt8(ascii: "-")
            if negative { i += 1 }
            guard i < raw.endIndex else { return nil }
            while i < raw.endIndex {
                let d = raw[i] &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(d))
                if o1 || o2 { return nil }
                value = s
                i += 1
            }
            return negative ? -value : value
        }

        /// Its value as a double; `nil` if not a number.
        public var double: Double? {
            guard kind == .number else { return nil }
            return Double(String(decoding: raw, as: UTF8.self))
        }

        /// Its boolean value; `nil` if not a boolean.
        public var bool: Bool? {
            switch raw.first {
            case UInt8(ascii: "t"): true
            case UInt8(ascii: "f"): false
            default: nil
            }
        }
    }
}

/// The type of a JSON value.
public enum JSONKind: Sendable, Hashable {
    case string, number, bool, null, object, array
}

/// Why a document is not valid JSON, and where.
public struct JSONError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was expected or found.
    public var message: String
    /// The byte offset where the problem was found.
    public var offset: Int

    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}
