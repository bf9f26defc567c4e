/// A reference to a field, possibly nested: `[a][b]` as in Logstash, or
/// `a.b`. A name without brackets or dots is a top-level field, so
/// `@timestamp` and `message` need no brackets.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    /// The keys from the top level down; never empty.
    public let components: [String]

    /// Why a path does not parse.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        /// What was expected.
        public var message: String
        /// The character offset of the problem in the path.
        public var offset: Int
        public var description: String { message }
    }

    /// Parses `text`.
    public init(_ text: String) throws(ParseError) {
        guard !text.isEmpty else { throw ParseError(message: "expected a field name", offset: 0) }
        guard text.first == "[" else {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            if let empty = parts.firstIndex(where: \.isEmpty) {
                throw ParseError(message: "expected a field name between dots in '\(text)'",
                                 offset: parts[..<empty].reduce(0) { $0 + $1.count + 1 })
            }
            components = parts
            return
        }
        var parts: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            let offset = text.count - rest.count
            guard rest.first == "[", let close = rest.firstIndex(of: "]") else {
                throw ParseError(message: "expected '[name]' in field reference '\(text)'", offset: offset)
            }
            let name = rest[rest.index(after: rest.startIndex)..<close]
            guard !name.isEmpty, !name.contains("[") else {
                throw ParseError(message: "expected a field name inside '[]' in '\(text)'", offset: offset + 1)
            }
            parts.append(String(name))
            rest = rest[rest.index(after: close)...]
        }
        components = parts
    }

    /// A path of the given components.
    public init(components: [String]) {
        precondition(!components.isEmpty, "a field path has at least one component")
        self.components = components
    }

    /// The top-level key.
    public var head: String { components[0] }

    public var description: String { components.count == 1 ? components[0] : components.map { "[\($0)]" }.joined() }
}
