@testable import SluiceTransforms
import Testing

@Suite struct PCRERegexTests {
    private static let subjects = [
        "", "/", "/api/v1/cart", "/apix", "x/api/", "/healthz?probe=1", "GET /healthz", "{\"a\":1}", "a{",
        "upstream timed out (110)", "upstream timed ou", "https://shop.example.com/cart", "https://shopXexample.com/",
        "café crème", "caf", "a.b", "axb", "ab", "aab", "ba", "a\\b", "50% off", "line\nbreak",
    ]

    /// Patterns a condition writes as plain text: matched without PCRE2.
    private static let literals = [
        #"^\/api\/"#, #"^\/healthz"#, #"^\{"#, "upstream timed out", #"^https:\/\/shop\.example\.com\/"#,
        "café", "^", "", #"a\.b"#, #"a\\b"#, "50% off", "ab", "^ab", "e\nb",
    ]

    /// Patterns with operators, classes or flags: left to PCRE2.
    private static let patterns = [
        "a.b", #"\d"#, "a|b", "(?i)CAFÉ", "ab$", "a{2}", "^a*b", "[ab]", #"\Qa.b\E"#, "a]", "a}", #"\bab"#, "(ab)",
    ]

    @Test func plainTextPatternsAreMatchedWithoutPCRE2AndOthersAreNot() throws {
        for pattern in Self.literals { #expect(try PCRERegex(pattern).literal != nil, "\(pattern)") }
        for pattern in Self.patterns { #expect(try PCRERegex(pattern).literal == nil, "\(pattern)") }
        #expect(try PCRERegex("abc", caseless: true).literal == nil, "caseless matching is PCRE2's")
        #expect(try PCRERegex(#"^\/api\/"#).literal?.bytes == Array("/api/".utf8))
    }

    @Test(arguments: literals + patterns)
    func matchesAgreesWithPCRE2OnEverySubject(_ pattern: String) throws {
        let matcher = PCRERegex.Matcher(try PCRERegex(pattern))
        for subject in Self.subjects {
            var text = subject
            let byPCRE2 = text.withUTF8 { matcher.match($0) }
            #expect(matcher.matches(subject) == byPCRE2, "\(pattern) on \(subject)")
        }
    }
}
