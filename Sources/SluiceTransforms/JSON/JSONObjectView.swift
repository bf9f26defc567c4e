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

    struct Field: Sendable {
        let keyStart: Int, keyEnd: Int      // inside the quotes
        let valueStart: Int, valueEnd: Int  // the value's bytes, quotes included
        let keyHasEscapes: Bool

        /// Whether its key in `document` is the text `key` (UTF-8).
        @inline(__always)
        func hasKey(_ key: UnsafeBufferPointer<UInt8>, in document: UnsafeBufferPointer<UInt8>) -> Bool {
            // Most keys differ in length: one subtraction and comparison then.
            if !keyHasEscapes {
                return keyEnd - keyStart == key.count
                    && (key.isEmpty || memcmp(document.baseAddress! + keyStart, key.baseAddress!, key.count) == 0)
            }
            let literal = ArraySlice(UnsafeBufferPointer(rebasing: document[(keyStart - 1)..<(keyEnd + 1)]))
            return JSONString.decode(literal: literal) == String(decoding: key, as: UTF8.self)
        }

        /// Its key in `document`, decoded.
        func key(in document: [UInt8]) -> String { JSONString.decode(literal: document[(keyStart - 1)..<(keyEnd + 1)]) }

        /// Its value in `document`.
        func value(in document: [UInt8]) -> Value { Value(raw: document[valueStart..<valueEnd]) }
    }

    /// Validates `bytes` as a JSON document whose top level is an object.
    public init(_ bytes: [UInt8]) throws(JSONError) {
        self.bytes = bytes
        var fields: [Field] = []
        fields.reserveCapacity(16)
        try Self.scan(bytes, into: &fields)
        self.fields = fields
    }

    /// Validates `bytes` as a JSON document whose top level is an object,
    /// handing its members to `members` in document order.
    static func scan(_ bytes: [UInt8], into members: inout some JSONMembers) throws(JSONError) {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONError) in
            var scanner = JSONScanner(buffer)
            scanner.skipWhitespace()
            guard scanner.peek == UInt8(ascii: "{") else { throw scanner.error("expected a JSON object") }
            try scanner.scanObject(depth: 1, members: &members)
            scanner.skipWhitespace()
            guard scanner.atEnd else { throw scanner.error("unexpected data after the object") }
        }
    }

    /// The names of the top-level fields in document order.
    public var keys: [String] { fields.map(key(of:)) }

    func key(of field: Field) -> String { field.key(in: bytes) }

    /// A top-level field's value, found once and then read as any type;
    /// `nil` if absent. With duplicate keys, the last one wins, as in most
    /// parsers.
    public subscript(key: String) -> Value? {
        field(key)?.value(in: bytes)
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
                    // From the end, as the last duplicate wins.
                    var i = fields.count
                    while i > 0 {
                        i -= 1
                        if fields[i].hasKey(k, in: doc) { return fields[i] }
                    }
                    return nil
                }
            }
        }
    }
}

extension JSONObjectView {
    /// One field's value in the document, as validated: reading it costs no
    /// lookup, and nothing is copied until a string is decoded.
    public struct Value: Sendable {
        /// The value's bytes (a string keeps its quotes).
        public let raw: ArraySlice<UInt8>

        /// Its JSON type.
        public var kind: JSONKind { Self.kind(first: raw.first) }

        /// The type of the value whose first byte is `first`.
        @inline(__always)
        static func kind(first: UInt8?) -> JSONKind {
            switch first {
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
        public func hasPrefix(_ prefix: String) -> Bool { raw.withUnsafeBufferPointer { Self.hasPrefix($0, prefix) } }

        /// Whether the value `raw` is a string that starts with `prefix`.
        @inline(__always)
        static func hasPrefix(_ raw: UnsafeBufferPointer<UInt8>, _ prefix: String) -> Bool {
            guard raw.first == UInt8(ascii: "\""), raw.count - 2 >= prefix.utf8.count else { return false }
            var prefix = prefix
            return prefix.withUTF8 { p in p.isEmpty || memcmp(raw.baseAddress! + 1, p.baseAddress!, p.count) == 0 }
        }

        /// Its integer value; `nil` if not a number or not integral.
        public var int: Int? { Int(decimal: raw, in: raw.indices) }

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
