import Sluice
import SluiceTransforms
import Testing

/// dissect, kv, fingerprint and insert_timestamp.
@Suite struct ParseTransformTests {
    private func run(_ transform: Transform, _ fields: [(String, FieldValue)], timestamp: Int64 = 0,
                     policy: FailurePolicy = .deadLetter) throws -> Event? {
        var record = Record(key: nil, value: Event(FieldMap(fields)), timestamp: timestamp)
        return try transform.handlingFailures(policy)()(&record) ? record.value : nil
    }

    private func path(_ text: String) throws -> FieldPath { try FieldPath(text) }
    private func at(_ event: Event, _ text: String) throws -> FieldValue? { event[try FieldPath(text)] }

    @Test func dissectSplitsOnDelimitersWithSkipAppendPaddingAndReferences() throws {
        let d = try Dissector("%{ts} %{+ts} %{level->} %{} [%{?k}=%{&k}] %{[msg][text]}")
        let fields = try #require(d.dissect("2024-03-01 12:00:01 WARN    x [user=ann] disk almost full"))
        #expect(fields.map(\.0) == ["ts", "level", "user", "[msg][text]"])
        let out = try #require(try run(.dissect([(try path("message"), d)]), [("message", "2024-03-01 12:00:01 WARN    x [user=ann] disk almost full")]))
        #expect(out["ts"] == "2024-03-01 12:00:01" && out["level"] == "WARN" && out["user"] == "ann")
        #expect(try at(out, "[msg][text]") == "disk almost full")
    }

    @Test func dissectAppendsInTheOrderGivenBySlashNumbers() throws {
        let d = try Dissector("%{+name/2} %{+name/1}")
        #expect(try #require(d.dissect("world hello")).first! == ("name", "hello world"))
    }

    @Test func dissectFailsWhenADelimiterIsMissingAndTagsByDefault() throws {
        let d = try Dissector("%{a} | %{b}")
        #expect(throws: TransformFailure.self) { try run(.dissect([(try path("message"), d)]), [("message", "no bar here")]) }
        let tagged = try #require(try run(.dissect([(try path("message"), d)]), [("message", "x")], policy: .tag("_dissectfailure")))
        #expect(tagged.tags == ["_dissectfailure"])
    }

    @Test(arguments: [("%{a}%{b}", "expected a delimiter between two fields"), ("%{a", "expected '}'"),
                      ("plain", "expected at least one %{field}"), ("%{+}", "expected a field name"), ("%{[a}", "bad field")])
    func badDissectPatternsAreRejected(pattern: String, message: String) {
        #expect { try Dissector(pattern) } throws: { ($0 as? Dissector.ParseError)?.message.contains(message) == true }
    }

    @Test func kvReadsQuotedAndBracketedValuesAndRepeatsBecomeArrays() throws {
        let out = try #require(try run(.kv(source: try path("message")),
                                       [("message", #"user=ann status="not found" tags=[a b] user=bob broken empty="#)]))
        #expect(out["status"] == "not found" && out["tags"] == "a b" && out["empty"] == "")
        #expect(out["user"] == .array(["ann", "bob"]))
        #expect(out["broken"] == nil)
    }

    @Test func kvHonoursSplitCharactersTrimIncludeExcludePrefixAndTarget() throws {
        var options = KeyValueOptions()
        options.fieldSplit = ["&", ";"]
        options.valueSplit = [":"]
        options.trimValue = [" "]
        options.excludeKeys = ["secret"]
        options.prefix = "q_"
        options.target = try path("params")
        let out = try #require(try run(.kv(source: try path("query"), options: options), [("query", "a: 1 &b:2;secret:x")]))
        #expect(try at(out, "[params][q_a]") == "1" && at(out, "[params][q_b]") == "2")
        #expect(try at(out, "[params][q_secret]") == nil)
    }

    @Test func fingerprintIsSHA256OfOneFieldAndMatchesKnownVectors() throws {
        let one = try #require(try run(.fingerprint([try path("m")], target: try path("id")), [("m", "abc")]))
        #expect(one["id"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = try #require(try run(.fingerprint([try path("m")], target: try path("id")),
                                        [("m", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")]))
        #expect(long["id"] == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let b64 = try #require(try run(.fingerprint([try path("m")], target: try path("id"), encoding: .base64), [("m", "abc")]))
        #expect(b64["id"] == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
    }

    @Test func fingerprintWithAKeyIsHMACSHA256() throws {
        // RFC 4231, test case 2.
        let out = try #require(try run(.fingerprint([try path("m")], target: try path("id"), key: "Jefe"), [("m", "what do ya want for nothing?")]))
        #expect(out["id"] == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func fingerprintPadsEveryMessageLengthAroundTheBlockBoundaries() throws {
        // Expected digests from Python's hashlib.
        let expected = [
            55: "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072",
            63: "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2",
            64: "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c",
            65: "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9",
            119: "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c",
            120: "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98",
            200: "aa20c23e3201834050679e1d88941b9a6fed0557c9a705cb2c315e2e63fd486d",
            1_000_000: "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
        ]
        for (length, digest) in expected {
            let letter = length == 1_000_000 ? "a" : "x"
            let out = try #require(try run(.fingerprint([try path("m")], target: try path("id")),
                                           [("m", .string(String(repeating: letter, count: length)))]))
            #expect(out["id"] == .string(digest), "\(length) bytes")
        }
    }

    @Test func fingerprintWithAKeyLongerThanABlockHashesTheKeyFirstAndKeepsItForEveryRecord() throws {
        // Expected MAC from Python's hmac module.
        let transform = Transform.fingerprint([try path("m")], target: try path("id"),
                                              key: String(repeating: "sluice-", count: 12))
        for _ in 0..<2 {
            let out = try #require(try run(transform, [("m", "ann@example.com")]))
            #expect(out["id"] == "2f03f9fa65ca0aaa29981f94e88b7116351bee3e7a5fdd28313af6c4bbe7acdb")
        }
    }

    @Test func fingerprintOfSeveralFieldsIgnoresTheirOrderAndSkipsEventsWithNone() throws {
        let ab = Transform.fingerprint([try path("a"), try path("b")], target: try path("id"))
        let ba = Transform.fingerprint([try path("b"), try path("a")], target: try path("id"))
        let x = try #require(try run(ab, [("a", "1"), ("b", .int(2))]))["id"]
        let y = try #require(try run(ba, [("b", .int(2)), ("a", "1")]))["id"]
        #expect(x != nil && x == y)
        let z = try #require(try run(ab, [("a", "1"), ("b", .int(3))]))["id"]
        #expect(z != x)
        #expect(try #require(try run(ab, [("c", "1")]))["id"] == nil)
    }

    @Test func insertTimestampWritesTheRecordTimeAsMillisecondsOrISO8601() throws {
        let ms = try #require(try run(.insertTimestamp(try path("[event][ingested]")), [("m", "x")], timestamp: 1_700_000_000_123))
        #expect(try at(ms, "[event][ingested]") == .int(1_700_000_000_123))
        let iso = try #require(try run(.insertTimestamp(try path("t"), format: .iso8601), [("m", "x")], timestamp: 1_700_000_000_123))
        #expect(iso["t"] == "2023-11-14T22:13:20.123Z")
        #expect(throws: TransformFailure.self) { try run(.insertTimestamp(try path("[m][t]")), [("m", "a string")]) }
    }
}
