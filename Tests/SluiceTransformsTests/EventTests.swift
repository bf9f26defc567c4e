import SluiceTransforms
import Testing

@Suite struct EventTests {
    private func event(_ json: String) throws -> Event { try Event(json: Array(json.utf8)) }
    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func anUntouchedEventIsItsSourceAndAChangedOneKeepsTheBytesOfItsUntouchedFields() throws {
        let source = #"{"a": 1.50, "b":"x\u0041", "c":{"d":[1, 2]}}"#
        var e = try event(source)
        #expect(text(e.json()) == source)
        e["z"] = true
        #expect(text(e.json()) == #"{"a":1.50,"b":"x\u0041","c":{"d":[1, 2]},"z":true}"#)
        e["z"] = nil
        #expect(text(e.json()) == source, "without the added field it is its source again")
        e["a"] = nil
        #expect(text(e.json()) == #"{"b":"x\u0041","c":{"d":[1, 2]}}"#)
    }

    @Test func readsNestedFieldsByBracketAndDotPaths() throws {
        let e = try event(#"{"http":{"response":{"status":503}},"tags":["x"]}"#)
        #expect(e[try FieldPath("[http][response][status]")] == .int(503))
        #expect(e[try FieldPath("http.response.status")] == .int(503))
        #expect(e[try FieldPath("[http][missing]")] == nil)
        #expect(e.tags == ["x"])
    }

    @Test func settingANestedFieldCreatesTheObjectsOnTheWay() throws {
        var e = try event(#"{"a":1}"#)
        e[try FieldPath("[b][c]")] = "v"
        e["a"] = nil
        #expect(text(e.json()) == #"{"b":{"c":"v"}}"#)
    }

    @Test func changedValuesAreEncodedWithJSONEscapes() {
        var e = Event()
        e["m"] = .string("quote \" backslash \\ newline \n tab \t bell \u{7}")
        e["f"] = .double(2)
        e["n"] = .double(.nan)
        #expect(text(e.json()) == #"{"m":"quote \" backslash \\ newline \n tab \t bell \u0007","f":2.0,"n":null}"#)
    }

    @Test func parserKeepsIntegersApartFromFloatsAndRejectsBadJSON() throws {
        #expect(try JSONParser.parse(Array(#"[1, -2.5, 1e2, "s", true, null, {"k": []}]"#.utf8))
                == [1, -2.5, 100.0, "s", true, nil, ["k": []]])
        #expect(throws: JSONError.self) { try JSONParser.parse(Array("[1,]".utf8)) }
        #expect(throws: JSONError.self) { try JSONParser.parse(Array(#"{"a":1} x"#.utf8)) }
    }

    @Test func badFieldReferencesAreRejectedWithTheirOffset() {
        for (text, offset) in [("[a]b", 3), ("a..b", 2), ("[]", 1), ("", 0)] {
            #expect(throws: FieldPath.ParseError.self, "\(text)") { try FieldPath(text) }
            do { _ = try FieldPath(text) } catch { #expect(error.offset == offset, "\(text)") }
        }
    }
}
