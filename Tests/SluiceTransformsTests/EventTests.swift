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

    @Test func aPathWrittenThroughAnObjectValueKeepsItsOtherFieldsInOrder() throws {
        var e = try event(#"{"raw":{"x":1,"y":{"z":2}},"n":0}"#)
        e[try FieldPath("[raw][y][w]")] = "from the document"
        e["set"] = ["b": 1, "c": ["d": 2]]
        e[try FieldPath("[set][c][e]")] = 3
        e[try FieldPath("[set][b]")] = nil
        #expect(text(e.json()) == #"{"raw":{"x":1,"y":{"z":2,"w":"from the document"}},"n":0,"set":{"c":{"d":2,"e":3}}}"#)
        #expect(e[try FieldPath("[set][c]")] == ["d": 2, "e": 3], "an object of nodes reads back as a value")
        #expect(e[try FieldPath("[raw][y][z]")] == 2)
    }

    @Test func aFieldRemovedAndAddedAgainGoesLastAndAValueInTheWayStopsAWrite() throws {
        var e = try event(#"{"a":1,"b":{"c":2},"s":"text"}"#)
        e[try FieldPath("[b][c]")] = nil
        e["a"] = nil
        e["a"] = 5
        e[try FieldPath("[b][d]")] = 4
        #expect(text(e.json()) == #"{"b":{"d":4},"s":"text","a":5}"#)
        #expect(!e.set(try FieldPath("[s][t]"), to: 1), "a string is in the way")
        #expect(e["s"] == "text" && e.fieldNames == ["b", "s", "a"])
    }

    @Test func fieldsRemovedFromTheStartMiddleAndEndLeaveTheRestFoundAndInOrder() throws {
        var e = try event(#"{"a":1,"b":2,"c":3,"d":4,"e":5}"#)
        e["c"] = nil
        e["a"] = nil
        e["e"] = nil
        #expect(e.fieldNames == ["b", "d"])
        #expect(e["a"] == nil && e["b"] == 2 && e["c"] == nil && e["d"] == 4 && e["e"] == nil)
        e["f"] = 6
        e["b"] = nil
        e["d"] = nil
        e["g"] = 7
        #expect(e.fieldNames == ["f", "g"])
        #expect(text(e.json()) == #"{"f":6,"g":7}"#)
        e["f"] = nil
        e["g"] = nil
        e["a"] = 0
        #expect(e.fieldNames == ["a"] && e["a"] == 0, "an object emptied and filled again")
    }

    @Test func removingARepeatedKeyUncoversTheValueBeforeIt() throws {
        var e = try event(#"{"k":1,"x":0,"k":2}"#)
        e["k"] = nil
        #expect(e["k"] == 1)
        e["k"] = nil
        #expect(e["k"] == nil && e.fieldNames == ["x"])
    }

    @Test func aRepeatedKeyReadsAsItsLastValueAsParsersDo() throws {
        var e = try event(#"{"k":1,"k":2}"#)
        #expect(e["k"] == 2)
        e["k"] = 3
        #expect(e.fields == FieldMap([("k", 3)]))
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
