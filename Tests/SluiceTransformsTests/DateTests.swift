import Sluice
import SluiceTransforms
import Testing

@Suite struct DateTests {
    private func parse(_ format: String, _ text: String, offset: Int = 0) throws -> Int64? {
        try DateFormat(format).parse(text, defaultOffsetSeconds: offset)
    }

    @Test(arguments: [
        ("dd/MMM/yyyy:HH:mm:ss Z", "11/Dec/2013:00:01:45 -0800", Int64(1_386_748_905_000)),
        ("ISO8601", "2013-12-11T08:01:45.123Z", 1_386_748_905_123),
        ("ISO8601", "2013-12-11T09:01:45+01:00", 1_386_748_905_000),
        ("ISO8601", "2013-12-11 08:01:45,5", 1_386_748_905_500),
        ("ISO8601", "2013-12-11", 1_386_720_000_000),
        ("UNIX", "1386748905.25", 1_386_748_905_250),
        ("UNIX_MS", "1386748905123", 1_386_748_905_123),
        ("yyyy-MM-dd HH:mm:ss.SSS", "2024-02-29 23:59:59.999", 1_709_251_199_999),
        ("EEE MMM dd HH:mm:ss yyyy", "Wed Oct 11 14:32:52 2000", 971_274_772_000),
        ("yyyy-MM-dd'T'HH:mm:ssZZ", "1969-12-31T23:59:59-00:00", -1_000),
    ])
    func formatsReadTheInstantTheyDescribe(_ format: String, _ text: String, _ expected: Int64) throws {
        #expect(try parse(format, text) == expected)
    }

    @Test func aTimeWithoutOffsetIsReadInTheDefaultOffset() throws {
        #expect(try parse("yyyy-MM-dd HH:mm", "1970-01-01 01:00", offset: 3600) == 0)
    }

    @Test(arguments: [("ISO8601", "2013-02-29T00:00:00Z"), ("ISO8601", "2013-12-11T08:01:45Zjunk"), ("UNIX", "soon"),
                      ("dd/MMM/yyyy", "11/Foo/2013"), ("HH:mm", "24:00")])
    func textThatDoesNotMatchReadsAsNothing(_ format: String, _ text: String) throws {
        #expect(try parse(format, text) == nil)
    }

    @Test func unknownPatternLettersAreRejected() {
        #expect(throws: DateFormat.ParseError.self) { try DateFormat("yyyy-QQ") }
        #expect(throws: DateFormat.ParseError.self) { try DateFormat("HH 'open") }
    }

    @Test func millisecondsPrintAsLogstashWritesTimestamps() {
        #expect(iso8601(milliseconds: 1_386_748_905_000) == "2013-12-11T08:01:45.000Z")
        #expect(iso8601(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(iso8601(milliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(iso8601(milliseconds: 253_402_300_800_000) == "10000-01-01T00:00:00.000Z", "a fifth digit of year is written, not cut")
    }

    @Test func theDateStepSetsTheTimestampFieldAndTheRecordTimeOrTagsAFailure() throws {
        let step = Transform.date(source: try FieldPath("ts"), formats: [try DateFormat("UNIX_MS"), .iso8601],
                                  target: try FieldPath("@timestamp"))
        var event = Event()
        event["ts"] = "2013-12-11T08:01:45Z"
        var record = Record(key: nil, value: event, timestamp: 0)
        let run = step.handlingFailures(.tag("_dateparsefailure"))()
        #expect(try run(&record))
        #expect(record.timestamp == 1_386_748_905_000)
        #expect(record.value["@timestamp"] == "2013-12-11T08:01:45.000Z")
        record.value["ts"] = "yesterday"
        #expect(try run(&record))
        #expect(record.value.tags == ["_dateparsefailure"])
        #expect(record.timestamp == 1_386_748_905_000, "a failed parse leaves the time as it was")
    }

    @Test(arguments: [
        ("yyyy.MM.dd", "2013.12.11"),
        ("YYYY.MM", "2013.12"),
        ("dd/MMM/yyyy:HH:mm:ss Z", "11/Dec/2013:08:01:45 +0000"),
        ("EEE, dd MMM yy HH:mm:ss.SSS ZZ", "Wed, 11 Dec 13 08:01:45.123 +00:00"),
        ("UNIX_MS", "1386748905123"),
    ])
    func aTimeIsWrittenInAPatternInUTC(format: String, expected: String) throws {
        #expect(try DateFormat(format).format(milliseconds: 1_386_748_905_123) == expected)
    }

    @Test func whatAPatternWritesItReadsBack() throws {
        let format = try DateFormat("dd/MMM/yyyy:HH:mm:ss Z")
        for ms in [Int64(0), 951_782_400_000, 1_386_748_905_000, -86_400_000] {
            #expect(format.parse(format.format(milliseconds: ms)) == ms)
        }
    }

    @Test func aTemplateWritesTheRecordsTimeWhereItSaysPlusPattern() throws {
        let template = try Template("logs-%{service}-%{+yyyy.MM.dd}")
        let event = try Event(json: Array(#"{"service":"web"}"#.utf8))
        #expect(template.render(event, timestamp: 1_386_748_905_123) == "logs-web-2013.12.11")
        #expect(template.render(event) == "logs-web-%{+yyyy.MM.dd}", "without a time the reference shows")
        #expect(throws: (any Error).self) { try Template("%{+yyyy.QQ}") }
    }
}
