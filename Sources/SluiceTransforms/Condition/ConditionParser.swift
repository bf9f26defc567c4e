/// Recursive descent over ``ConditionLexer``'s tokens. Precedence, lowest
/// first: `or`, `and`, `not`, then one comparison.
struct ConditionParser {
    private var tokens: [(ConditionLexer.Token, Int)]
    private var p = 0
    private(set) var regexes: [(pattern: String, offset: Int)] = []

    private static let keywords: Set<String> = ["and", "or", "not", "in", "exists", "true", "false", "null"]

    init(_ text: String) throws(ConditionError) {
        var lexer = ConditionLexer(text)
        tokens = try lexer.tokens()
    }

    mutating func parse() throws(ConditionError) -> ConditionSyntax {
        let node = try parseOr()
        guard case .end = peek else { throw unexpected("'and', 'or' or the end of the condition") }
        return node
    }

    private var peek: ConditionLexer.Token { tokens[p].0 }
    private var offset: Int { tokens[p].1 }
    private mutating func advance() { p += 1 }

    private func isWord(_ w: String) -> Bool { peek == .word(w) }

    private func unexpected(_ expected: String) -> ConditionError {
        let found: String
        switch peek {
        case .end: found = "the end of the condition"
        case .word(let w): found = "'\(w)'"
        case .op(let o): found = "'\(o)'"
        default: found = "this"
        }
        return ConditionError(message: "expected \(expected), found \(found)", offset: offset)
    }

    private mutating func parseOr() throws(ConditionError) -> ConditionSyntax {
        var left = try parseAnd()
        while isWord("or") {
            advance()
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws(ConditionError) -> ConditionSyntax {
        var left = try parseNot()
        while isWord("and") {
            advance()
            left = .and(left, try parseNot())
        }
        return left
    }

    private mutating func parseNot() throws(ConditionError) -> ConditionSyntax {
        if isWord("not") || peek == .op("!") {
            advance()
            return .not(try parseNot())
        }
        if peek == .open {
            advance()
            let inner = try parseOr()
            guard peek == .close else { throw unexpected("')'") }
            advance()
            return inner
        }
        return try parseComparison()
    }

    private mutating func parseComparison() throws(ConditionError) -> ConditionSyntax {
        let left = try parseOperand()
        switch peek {
        case .op(let op):
            advance()
            if op == "=~" || op == "!~" { return .match(left, regex: try parseRegex(), negated: op == "!~") }
            guard let comparison = ConditionSyntax.Comparison(rawValue: op) else { throw unexpected("a comparison") }
            return .compare(left, comparison, try parseOperand())
        case .word("in"):
            advance()
            return .membership(left, in: try parseOperand(), negated: false)
        case .word("not"):
            advance()
            guard isWord("in") else { throw unexpected("'in' after 'not'") }
            advance()
            return .membership(left, in: try parseOperand(), negated: true)
        case .word("exists"):
            guard case .field(let path) = left else {
                throw ConditionError(message: "expected a field before 'exists'", offset: offset)
            }
            advance()
            return .exists(path)
        default:
            return .truthy(left)
        }
    }

    private mutating func parseOperand() throws(ConditionError) -> ConditionSyntax.Operand {
        let token = peek
        let at = offset
        switch token {
        case .field(let path): advance(); return .field(path)
        case .string(let s): advance(); return .literal(.string(s))
        case .number(let n): advance(); return .literal(n)
        case .word("true"): advance(); return .literal(.bool(true))
        case .word("false"): advance(); return .literal(.bool(false))
        case .word("null"): advance(); return .literal(.null)
        case .word(let w) where !Self.keywords.contains(w):
            advance()
            do { return .field(try FieldPath(w)) } catch {
                throw ConditionError(message: error.message, offset: at + error.offset)
            }
        case .openList:
            advance()
            var values: [FieldValue] = []
            while peek != .closeList {
                if !values.isEmpty {
                    guard peek == .comma else { throw unexpected("',' or ']' in the list") }
                    advance()
                }
                guard case .literal(let v) = try parseOperand() else {
                    throw ConditionError(message: "expected a literal in the list", offset: at)
                }
                values.append(v)
            }
            advance()
            return .literal(.array(values))
        default:
            throw unexpected("a field, a literal or '('")
        }
    }

    private mutating func parseRegex() throws(ConditionError) -> Int {
        let pattern: String
        switch peek {
        case .regex(let r), .string(let r): pattern = r
        default: throw unexpected("a regular expression (/…/ or a string)")
        }
        regexes.append((pattern, offset))
        advance()
        return regexes.count - 1
    }
}
