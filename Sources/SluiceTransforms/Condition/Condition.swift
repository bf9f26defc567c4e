/// A condition over an event's fields, compiled once from text such as
/// `[status] >= 500 and [request] =~ /^\/api/` or
/// `"_grokparsefailure" in [tags]`.
///
/// The grammar follows Logstash's conditionals: field references `[a][b]`
/// (or `a.b`), string/number/boolean/null literals, lists `["a", "b"]`,
/// `== != < > <= >=`, `=~ !~` (PCRE2, `/…/` or a string), `in` and
/// `not in` (list membership, array membership, or substring of a string),
/// `[field] exists`, `and or not` with parentheses, and a bare field that
/// holds when present and neither null nor false.
///
/// Comparisons between numbers are numeric (an integer equals the same
/// float); between strings, by their UTF-8 bytes; between anything else,
/// `<`-style comparisons are false. A missing field equals nothing but null.
public struct Condition: Sendable, CustomStringConvertible {
    /// The condition's text.
    public let text: String
    let syntax: ConditionSyntax
    let regexes: [PCRERegex]

    /// Parses and compiles `text`, regular expressions included.
    public init(_ text: String) throws(ConditionError) {
        var parser = try ConditionParser(text)
        syntax = try parser.parse()
        var compiled: [PCRERegex] = []
        for (pattern, offset) in parser.regexes {
            do { compiled.append(try PCRERegex(pattern)) } catch {
                throw ConditionError(message: "bad regular expression /\(pattern)/: \(error.message)", offset: offset)
            }
        }
        self.text = text
        self.regexes = compiled
    }

    public var description: String { text }

    /// An evaluator with its own matching state, for one thread.
    public func makeEvaluator() -> ConditionEvaluator {
        let matchers = regexes.map(PCRERegex.Matcher.init)
        return ConditionEvaluator(holds: Self.compile(syntax, matchers))
    }

    private static func compile(_ node: ConditionSyntax, _ matchers: [PCRERegex.Matcher]) -> (Event) -> Bool {
        switch node {
        case .and(let a, let b):
            let l = compile(a, matchers), r = compile(b, matchers)
            return { l($0) && r($0) }
        case .or(let a, let b):
            let l = compile(a, matchers), r = compile(b, matchers)
            return { l($0) || r($0) }
        case .not(let a):
            let inner = compile(a, matchers)
            return { !inner($0) }
        case .truthy(let operand):
            return { value(operand, $0)?.isTruthy ?? false }
        case .exists(let path):
            return { $0[path] != nil }
        case .compare(let a, let comparison, let b):
            return { compare(value(a, $0), comparison, value(b, $0)) }
        case .match(let operand, let index, let negated):
            let matcher = matchers[index]
            return { event in
                guard case .string(let s)? = value(operand, event) else { return negated }
                return matcher.matches(s) != negated
            }
        case .membership(let needle, let haystack, let negated):
            return { contains(value(haystack, $0), value(needle, $0)) != negated }
        }
    }

    private static func value(_ operand: ConditionSyntax.Operand, _ event: Event) -> FieldValue? {
        switch operand {
        case .field(let path): event[path]
        case .literal(let v): v
        }
    }

    /// Whether two values are equal as `==` compares them: numbers by value
    /// (an integer equals the same float), anything else exactly; a missing
    /// value equals only null.
    public static func equal(_ a: FieldValue?, _ b: FieldValue?) -> Bool {
        if let x = a?.number, let y = b?.number { return x == y }
        return (a ?? .null) == (b ?? .null)
    }

    static func compare(_ a: FieldValue?, _ comparison: ConditionSyntax.Comparison, _ b: FieldValue?) -> Bool {
        switch comparison {
        case .equal: return equal(a, b)
        case .notEqual: return !equal(a, b)
        default: break
        }
        let order: Int
        if let x = a?.number, let y = b?.number {
            order = x < y ? -1 : (x > y ? 1 : 0)
        } else if let x = a?.string, let y = b?.string {
            order = x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : (x == y ? 0 : 1)
        } else {
            return false
        }
        switch comparison {
        case .less: return order < 0
        case .greater: return order > 0
        case .lessOrEqual: return order <= 0
        default: return order >= 0
        }
    }

    private static func contains(_ haystack: FieldValue?, _ needle: FieldValue?) -> Bool {
        switch haystack {
        case .array(let values)?: return values.contains { equal($0, needle) }
        case .string(let s)?:
            guard let n = needle?.string else { return false }
            return n.isEmpty || s.utf8.firstRange(of: n.utf8) != nil
        default: return false
        }
    }
}

/// A compiled ``Condition`` bound to one thread's matching state.
public struct ConditionEvaluator {
    let holds: (Event) -> Bool

    /// Whether the condition holds for `event`.
    public func callAsFunction(_ event: Event) -> Bool { holds(event) }
}
