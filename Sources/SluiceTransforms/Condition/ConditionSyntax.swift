/// The syntax tree of a condition, as parsed from text.
indirect enum ConditionSyntax: Sendable {
    case and(ConditionSyntax, ConditionSyntax)
    case or(ConditionSyntax, ConditionSyntax)
    case not(ConditionSyntax)
    /// A bare operand: true when present and neither null nor false.
    case truthy(Operand)
    case exists(FieldPath)
    case compare(Operand, Comparison, Operand)
    /// `=~` (or `!~` when negated) against the regex at this index.
    case match(Operand, regex: Int, negated: Bool)
    case membership(Operand, in: Operand, negated: Bool)

    enum Operand: Sendable {
        case field(FieldPath)
        case literal(FieldValue)
    }

    enum Comparison: String, Sendable {
        case equal = "==", notEqual = "!=", less = "<", greater = ">", lessOrEqual = "<=", greaterOrEqual = ">="
    }
}

/// Why a condition does not parse: what was expected, and where.
public struct ConditionError: Error, Sendable, CustomStringConvertible {
    /// What was expected or found.
    public var message: String
    /// The character offset in the condition's text.
    public var offset: Int
    public var description: String { message }
}

/// Splits a condition's text into tokens, each with its character offset.
struct ConditionLexer {
    enum Token: Equatable {
        case field(FieldPath), word(String), string(String), number(FieldValue), regex(String)
        case op(String), open, close, openList, closeList, comma, end
    }

    private let chars: [Character]
    private var i = 0

    init(_ text: String) { chars = Array(text) }

    mutating func tokens() throws(ConditionError) -> [(Token, Int)] {
        var out: [(Token, Int)] = []
        while true {
            while i < chars.count, chars[i].isWhitespace { i += 1 }
            let start = i
            let token = try next()
            out.append((token, start))
            if token == .end { return out }
        }
    }

    private mutating func next() throws(ConditionError) -> Token {
        guard i < chars.count else { return .end }
        let c = chars[i]
        switch c {
        case "(": i += 1; return .open
        case ")": i += 1; return .close
        case ",": i += 1; return .comma
        case "]": i += 1; return .closeList
        case "[": return try bracketed()
        case "\"", "'": return .string(try quoted(c))
        case "/": return .regex(try quoted("/"))
        case "=", "!", "<", ">":
            let two = i + 1 < chars.count ? String([c, chars[i + 1]]) : ""
            if ["==", "!=", "<=", ">=", "=~", "!~"].contains(two) { i += 2; return .op(two) }
            guard c != "=" else { throw ConditionError(message: "expected '==' or '=~' after '='", offset: i) }
            i += 1
            return .op(String(c))
        default:
            if c.isNumber || (c == "-" && i + 1 < chars.count && chars[i + 1].isNumber) { return try number() }
            if c.isLetter || c == "_" || c == "@" { return try word() }
            throw ConditionError(message: "unexpected character '\(c)'", offset: i)
        }
    }

    /// `[a][b]` is a field reference; `[` followed by a literal starts a list.
    private mutating func bracketed() throws(ConditionError) -> Token {
        var j = i + 1
        while j < chars.count, chars[j] == " " { j += 1 }
        if j < chars.count, "\"'0123456789-]".contains(chars[j]) { i += 1; return .openList }
        let start = i
        while i < chars.count, chars[i] == "[" {
            guard let close = chars[i...].firstIndex(of: "]") else {
                throw ConditionError(message: "expected ']' to close the field reference", offset: i)
            }
            i = close + 1
        }
        do { return .field(try FieldPath(String(chars[start..<i]))) } catch {
            throw ConditionError(message: error.message, offset: start + error.offset)
        }
    }

    private mutating func quoted(_ quote: Character) throws(ConditionError) -> String {
        let start = i
        i += 1
        var text = ""
        while i < chars.count, chars[i] != quote {
            if chars[i] == "\\", i + 1 < chars.count {
                // In a regex literal every escape but `\/` reaches PCRE2 as written.
                let e = chars[i + 1]
                if quote == "/" { text += e == "/" ? "/" : "\\\(e)" } else {
                    switch e {
                    case "n": text += "\n"
                    case "t": text += "\t"
                    default: text.append(e)
                    }
                }
                i += 2
                continue
            }
            text.append(chars[i])
            i += 1
        }
        guard i < chars.count else {
            throw ConditionError(message: "expected closing \(quote) for the literal that starts here", offset: start)
        }
        i += 1
        return text
    }

    private mutating func number() throws(ConditionError) -> Token {
        let start = i
        i += 1
        while i < chars.count, chars[i].isNumber || chars[i] == "." || chars[i] == "e" || chars[i] == "E" { i += 1 }
        let text = String(chars[start..<i])
        if let int = Int(text) { return .number(.int(int)) }
        if let double = Double(text) { return .number(.double(double)) }
        throw ConditionError(message: "'\(text)' is not a number", offset: start)
    }

    private mutating func word() throws(ConditionError) -> Token {
        let start = i
        while i < chars.count, chars[i].isLetter || chars[i].isNumber || "_@.-".contains(chars[i]) { i += 1 }
        return .word(String(chars[start..<i]))
    }
}
