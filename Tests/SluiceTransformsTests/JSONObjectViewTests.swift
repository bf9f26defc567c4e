import SluiceTransforms
import Testing

@Suite struct JSONObjectViewTests {
    private func view(_ s: String) throws -> JSONObjectView { try JSONObjectView(Array(s.utf8)) }

    @Test func readsTopLevelFieldsOfEveryType() throws {
        let v = try view(#" { "s": "text", "i": -42, "d": 1.5e3, "t": true, "f": false, "n": null, "o": {"a": [1, {"b": 2}]} } "#)
        #expect(v.string("s") == "text")
        #expect(v.int("i") == -42)
        #expect(v.double("d") == 1500)
        #expect(v.bool("t") == true)
        #expect(v.bool("f") == false)
        #expect(v.contains("n"))
        #expect(v.raw("o").map { String(decoding: $0, as: UTF8.self) } == #"{"a": [1, {"b": 2}]}"#)
        #expect(v.keys == ["s", "i", "d", "t", "f", "n", "o"])
        #expect(["s", "i", "d", "t", "f", "n", "o", "x"].map(v.kind(of:)) == [.string, .number, .number, .bool, .bool, .null, .object, nil])
        #expect(try view(#"{"a":[1]}"#).kind(of: "a") == .array)
    }

    @Test func absentOrMistypedFieldsReadAsNil() throws {
        let v = try view(#"{"s":"1","i":1.5,"big":123456789012345678901234567890}"#)
        #expect(v.string("missing") == nil)
        #expect(v.int("s") == nil)
        #expect(v.int("i") == nil)
        #expect(v.int("big") == nil, "overflow is not a wrong number")
        #expect(v.string("i") == nil)
    }

    @Test func decodesEscapesInValuesAndKeys() throws {
        let v = try view(#"{"q":"a\"b\\c\/d\n\u00e9\ud83d\ude00","k\u0065y":"v"}"#)
        #expect(v.string("q") == "a\"b\\c/d\né😀")
        #expect(v.string("key") == "v")
    }

    @Test func prefixTestComparesRawBytesWithoutAllocating() throws {
        let v = try view(#"{"path":"/api/v1","p2":"/ap"}"#)
        #expect(v.string("path", hasPrefix: "/api"))
        #expect(!v.string("p2", hasPrefix: "/api"))
        #expect(!v.string("missing", hasPrefix: "/"))
    }

    /// `count` characters that a string holds as they are, the edges of the
    /// special ones among them (space, DEL).
    private func filler(_ count: Int) -> String { String(String(repeating: "x y~\u{7F}", count: 10).prefix(count)) }

    /// 40 positions: both halves of two 16-byte blocks, and the last bytes,
    /// which the scan tests as a copy.
    @Test func specialCharactersAreFoundAtEveryPositionOfALongString() throws {
        for k in 0..<40 {
            let before = filler(k), after = filler(40 - k)
            #expect(try view("{\"s\":\"\(before)\\\"\(after)\"}").string("s") == before + "\"" + after, "escaped quote at \(k)")
            #expect(throws: JSONError.self, "control character at \(k)") { try view("{\"s\":\"\(before)\u{01}\(after)\"}") }
            #expect(try view("{\"s\":\"\(before)\",\"t\":1}").int("t") == 1, "closing quote at \(k)")
            #expect(try view("{\"s\":\"\(before)é€😀\(after)\"}").string("s") == before + "é€😀" + after)
        }
    }

    @Test func theWriterEscapesASpecialCharacterAtEveryPositionOfALongString() throws {
        for k in 0..<40 {
            let before = filler(k), after = filler(40 - k)
            for special in ["\"", "\\", "\n", "\u{01}", "\u{1F}"] {
                let text = before + special + after
                let json = JSONWriter.encode(.object(FieldMap([("a", 1), (text, .string(text))])))
                #expect(try JSONObjectView(json).string(text) == text, "\(special.unicodeScalars.first!.value) at \(k)")
                #expect(json.allSatisfy { $0 >= 0x20 }, "raw control character written at \(k)")
            }
        }
    }

    @Test func aFieldFoundOnceReadsAsItsTypeAndAsNothingElse() throws {
        let v = try view(#"{"path":"/api/v1","status":503,"ok":true,"ratio":0.5,"o":{"a":1}}"#)
        let path = try #require(v["path"])
        #expect(path.kind == .string && path.string == "/api/v1" && path.hasPrefix("/api") && !path.hasPrefix("/apix"))
        #expect(path.int == nil && path.double == nil && path.bool == nil)
        let status = try #require(v["status"])
        #expect(status.kind == .number && status.int == 503 && status.double == 503 && status.string == nil)
        #expect(!status.hasPrefix("5"), "a number is not a string with a prefix")
        #expect(v["ok"]?.bool == true && v["ratio"]?.int == nil && v["ratio"]?.double == 0.5)
        #expect(v["o"]?.kind == .object && v["o"].map { Array($0.raw) } == Array(#"{"a":1}"#.utf8))
        #expect(v["missing"] == nil)
    }

    @Test func theLastOfDuplicateKeysWins() throws {
        #expect(try view(#"{"a":1,"a":2}"#).int("a") == 2)
        #expect(try view(#"{"key":1,"k\u0065y":2}"#).int("key") == 2, "an escaped spelling of the key is the same key")
        #expect(try view(#"{"k\u0065y":1,"key":2}"#).int("key") == 2)
    }

    @Test(arguments: [
        "", "[]", "\"str\"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1} x", "{'a':1}",
        "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":tru}", "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12G4\"}", "{\"a\":\"unterminated}", "{\"a\":[1,2}", "{\"a\":\"tab\there\"}",
        "GET /api HTTP/1.1 200",
    ])
    func rejectsWhatIsNotAJSONObject(_ text: String) {
        #expect(throws: JSONError.self) { try view(text) }
    }

    @Test func rejectsNestingDeeperThanTheLimit() {
        let deep = "{\"a\":" + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "}"
        #expect(throws: JSONError.self) { try view(deep) }
    }

    @Test func errorsSayWhereTheProblemIs() {
        #expect { try view(#"{"a":1,"b":x}"#) } throws: { ($0 as? JSONError)?.offset == 11 }
    }

    @Test(arguments: [
        (#"{"a":1,}"#, "expected a string key", 7), (#"{"a" 1}"#, "expected ':' after a key", 5),
        (#"{"a":1 x}"#, "expected ',' or '}'", 7), (#"{"a":"b"#, "unterminated string", 7),
        (#"{"a":"\x"}"#, "bad escape", 7), (#"{"a":-}"#, "expected a digit", 6),
        (#"{"a":1} x"#, "unexpected data after the object", 8), (#"{"a":[1,2}"#, "expected ',' or ']'", 9),
        (#"{"a":tru}"#, "expected true", 5), ("{\"a\":\"t\tb\"}", "control character in a string", 7),
        (#"{"a":1.}"#, "expected a digit after '.'", 7), (#"{"a":{"b":[}}"#, "unexpected character '}'", 11),
    ])
    func eachErrorSaysWhatWasExpectedAtTheByteWhereItWasNot(_ text: String, _ message: String, _ offset: Int) {
        #expect { try view(text) } throws: { ($0 as? JSONError).map { [$0.message, "\($0.offset)"] } == [message, "\(offset)"] }
    }

    @Test func aNumberEndsAtItsLastDigitWhateverByteFollowsAndWhereverItEnds() throws {
        // Numbers of every length, ending at every distance from the
        // document's end, followed by every byte.
        for length in 1...20 {
            let digits = Array(String(repeating: "1234567890", count: 2).prefix(length).utf8)
            for padding in 0...9 {
                let spaces = [UInt8](repeating: 0x20, count: padding)
                let plain = try JSONObjectView(Array(#"{"n":"#.utf8) + digits + [UInt8(ascii: "}")] + spaces)
                #expect(plain.raw("n").map(Array.init) == digits, "\(length) digits, \(padding) spaces after")
                for byte in UInt8.min...UInt8.max where !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                    let document = Array(#"{"n":"#.utf8) + digits + [byte, UInt8(ascii: "}")] + spaces
                    let end = 5 + length
                    switch byte {
                    case 0x20, 0x09, 0x0A, 0x0D:
                        #expect(try JSONObjectView(document).raw("n").map(Array.init) == digits)
                    case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "}"), UInt8(ascii: ","):
                        #expect { try JSONObjectView(document) } throws: { ($0 as? JSONError)?.offset == end + 1 }
                    default:
                        #expect { try JSONObjectView(document) } throws: { ($0 as? JSONError)?.offset == end }
                    }
                }
            }
        }
    }
}
