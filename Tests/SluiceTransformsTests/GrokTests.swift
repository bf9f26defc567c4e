import Sluice
@testable import SluiceTransforms
import Testing

/// The shipped patterns against the sample lines of Logstash's own pattern
/// tests (logstash-patterns-core, httpd_spec.rb, ECS mode): same fields, same types.
@Suite struct GrokTests {
    private let bank = GrokPatterns()

    private func grok(_ expression: String, _ message: String, options: GrokOptions = GrokOptions(),
                      policy: FailurePolicy = .tag("_grokparsefailure")) throws -> Event? {
        var event = Event()
        event["message"] = .string(message)
        var record = Record(key: nil, value: event, timestamp: 0)
        let step = Transform.grok([(try FieldPath("message"), [try Grok(expression, patterns: bank)])], options: options)
        return try step.handlingFailures(policy)()(&record) ? record.value : nil
    }

    private func field(_ event: Event, _ path: String) throws -> FieldValue? { event[try FieldPath(path)] }

    @Test func combinedLogSampleParsesToTheECSFieldsWithIntegerStatusAndBytes() throws {
        let line = #"83.149.9.216 - - [24/Feb/2015:23:13:42 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36""#
        let e = try #require(try grok("%{HTTPD_COMBINEDLOG}", line))
        #expect(try field(e, "[source][address]") == "83.149.9.216")
        #expect(try field(e, "[http][request][method]") == "GET")
        #expect(try field(e, "[url][original]") == "/presentations/logstash-monitorama-2013/images/kibana-search.png")
        #expect(try field(e, "[http][version]") == "1.1")
        #expect(try field(e, "[http][response][status_code]") == .int(200))
        #expect(try field(e, "[http][response][body][bytes]") == .int(203023))
        #expect(try field(e, "[http][request][referrer]") == "http://semicomplete.com/presentations/logstash-monitorama-2013/")
        #expect(try field(e, "[user_agent][original]") == "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36")
        #expect(try field(e, "timestamp") == "24/Feb/2015:23:13:42 +0000")
        #expect(e["user"] == nil && e["apache"] == nil, "a '-' user or identity is not captured")
        #expect(e.tags.isEmpty)
    }

    @Test func combinedLogCapturesAnEmailAsUserAndSkipsAnEmptyReferrer() throws {
        let line = #"10.0.0.1 - username@example.com [07/Apr/2016:18:42:24 +0000] "GET /bar/foo/users/1/username%40example.com/authenticate?token=blargh&client_id=15 HTTP/1.1" 400 75 "" "Mozilla/5.0 (iPad; CPU OS 9_3_1 like Mac OS X) AppleWebKit/601.1.46 (KHTML, like Gecko) Version/9.0 Mobile/13E238 Safari/601.1""#
        let e = try #require(try grok("%{COMBINEDAPACHELOG}", line))
        #expect(try field(e, "[user][name]") == "username@example.com")
        #expect(try field(e, "[http][request][referrer]") == nil)
        #expect(try field(e, "[http][response][status_code]") == .int(400))
    }

    @Test func combinedLogLeavesOutAStatusWrittenAsDash() throws {
        let line = #"83.149.9.216 - a.user [11/Jan/2020:23:05:27 +0100] "OPTIONS /remote.php/ HTTP/1.1" - 7908 "-" "monitoring-client (v2.2)""#
        let e = try #require(try grok("%{HTTPD_COMBINEDLOG}", line))
        #expect(try field(e, "[http][request][method]") == "OPTIONS")
        #expect(try field(e, "[http][response][body][bytes]") == .int(7908))
        #expect(try field(e, "[http][response][status_code]") == nil)
        #expect(try field(e, "[user_agent][original]") == "monitoring-client (v2.2)")
        #expect(try field(e, "[http][request][referrer]") == nil)
    }

    @Test func httpd24ErrorLogSampleParsesEveryPart() throws {
        let line = "[Mon Aug 31 09:30:48.958285 2015] [proxy_fcgi:error] [pid 28787:tid 140169587934976] (70008)Partial results are valid but processing is incomplete: [client 58.13.45.166:59307] AH01075: Error dispatching request to : (reading input brigade), referer: http://example.com/index.php?id_product=11&controller=product"
        let e = try #require(try grok("%{HTTPD_ERRORLOG}", line))
        #expect(try field(e, "timestamp") == "Mon Aug 31 09:30:48.958285 2015")
        #expect(try field(e, "[log][level]") == "error")
        #expect(try field(e, "[process][pid]") == .int(28787))
        #expect(try field(e, "[process][thread][id]") == .int(140169587934976))
        #expect(try field(e, "[source][address]") == "58.13.45.166")
        #expect(try field(e, "[source][port]") == .int(59307))
        #expect(try field(e, "[error][code]") == "AH01075")
        #expect(try field(e, "[apache][error][module]") == "proxy_fcgi")
        #expect(try field(e, "[apache][error][proxy][error][code]") == "70008")
        #expect(try field(e, "[apache][error][proxy][error][message]") == "Partial results are valid but processing is incomplete")
        #expect(e["message"] == .array([.string(line), "Error dispatching request to : (reading input brigade), referer: http://example.com/index.php?id_product=11&controller=product"]),
                "a capture into an existing field not listed in overwrite appends, as in Logstash")
    }

    @Test(arguments: [
        ("[Mon Aug 31 16:27:04 2015] [error] [client 10.17.42.3] Premature end of script headers: example.com",
         ["timestamp": "Mon Aug 31 16:27:04 2015", "[log][level]": "error", "[source][address]": "10.17.42.3", "[error][code]": nil] as [String: FieldValue?],
         "Premature end of script headers: example.com"),
        ("[Mon Aug 31 07:15:38.664897 2015] [proxy_fcgi:error] [pid 28786:tid 140169629898496] [client 81.139.1.34:52042] AH01071: Got error 'Primary script unknown\n'",
         ["[apache][error][module]": "proxy_fcgi", "[process][pid]": .int(28786), "[process][thread][id]": .int(140169629898496),
          "[source][address]": "81.139.1.34", "[source][port]": .int(52042), "[error][code]": "AH01071"],
         "Got error 'Primary script unknown\n'"),
        ("[Thu Apr 27 10:39:46.719636 2017] [php7:notice] [pid 17] [client 10.255.0.3:49580] Test error log record",
         ["[apache][error][module]": "php7", "[log][level]": "notice", "[process][pid]": .int(17), "[source][port]": .int(49580),
          "[source][address]": "10.255.0.3"],
         "Test error log record"),
        ("[Mon Aug 31 06:29:47.406518 2015] [mpm_event:notice] [pid 24968:tid 140169861986176] AH00489: Apache/2.4.16 (Ubuntu) configured -- resuming normal operations",
         ["[apache][error][module]": "mpm_event", "[process][thread][id]": .int(140169861986176), "[error][code]": "AH00489"],
         "Apache/2.4.16 (Ubuntu) configured -- resuming normal operations"),
        ("[Mon Aug 31 06:29:47.406530 2015] [core:notice] [pid 24968:tid 140169861986176] AH00094: Command line: '/usr/sbin/apache2'",
         ["[apache][error][module]": "core", "[error][code]": "AH00094"], "Command line: '/usr/sbin/apache2'"),
        ("[Tue Apr 14 14:27:52.605084 2020] [:error] [pid 5688] [client 192.168.10.110:8196] script '/login/wp-login.php' not found or unable to stat",
         ["[log][level]": "error", "[process][pid]": .int(5688), "[apache][error][module]": nil],
         "script '/login/wp-login.php' not found or unable to stat"),
    ])
    func httpdErrorLogSamplesParseLikeLogstash(line: String, expected: [String: FieldValue?], message: String) throws {
        var options = GrokOptions()
        options.overwrite = [try FieldPath("message")]
        let e = try #require(try grok("%{HTTPD_ERRORLOG}", line, options: options))
        for (path, value) in expected { #expect(try field(e, path) == value, "\(path)") }
        #expect(e["message"] == .string(message), "overwrite replaces the message")
    }

    @Test(arguments: [
        ("%{IP:ip}", "2001:db8::ff00:42:8329", "2001:db8::ff00:42:8329"),
        ("%{IP:ip}", "::ffff:192.0.2.128", "::ffff:192.0.2.128"),
        ("%{IP:ip}", "fe80::1%eth0", "fe80::1%eth0"),
        ("%{IP:ip}", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("%{IPORHOST:ip} ", "api-1.example.com ", "api-1.example.com"),
        ("%{TIMESTAMP_ISO8601:ts}", "2024-03-01T12:00:00.123+01:00", "2024-03-01T12:00:00.123+01:00"),
        ("%{LOGLEVEL:l}", "WARNING", "WARNING"),
        ("%{QS:q}", #""say \"hi\"" rest"#, #""say \"hi\"""#),
        ("%{NUMBER:n:float}", "x=-12.5", "-12.5"),
        ("%{WORD:w}", "hello world", "hello"),
    ])
    func corePatternsCaptureWhatTheyName(expression: String, text: String, expected: String) throws {
        let e = try #require(try grok(expression, text, policy: .deadLetter))
        let value = try #require(e.fields.keys.filter { $0 != "message" }.first.flatMap { e[$0] })
        #expect(value.text == expected)
    }

    @Test func anIPv4AddressWithAFifthOctetOrOutOfRangeDoesNotMatchIP() throws {
        #expect(try grok("^%{IP}$", "256.1.1.1") != nil)
        let tagged = try #require(try grok("^%{IP}$", "256.1.1.1"))
        #expect(tagged.tags == ["_grokparsefailure"])
        #expect(try grok("^%{IPV4}$", "10.1.2.3.4", policy: .drop) == nil)
    }

    @Test func aMismatchTagsByDefaultDeadLettersOrDropsAsTheStepSays() throws {
        let tagged = try #require(try grok("%{HTTPD_COMBINEDLOG}", "not an access line"))
        #expect(tagged.tags == ["_grokparsefailure"] && tagged["message"] == "not an access line")
        #expect(throws: TransformFailure.self) { try grok("%{HTTPD_COMBINEDLOG}", "x", policy: .deadLetter) }
        #expect(try grok("%{HTTPD_COMBINEDLOG}", "x", policy: .drop) == nil)
    }

    @Test func userPatternsFilesAndRawNamedGroupsCompose() throws {
        var bank = GrokPatterns()
        try bank.load(file: "# nginx error log\nNGINX_ERROR_DATE %{YEAR}/%{MONTHNUM}/%{MONTHDAY} %{TIME}\n\nPID [0-9]+\n")
        let g = try Grok(#"%{NGINX_ERROR_DATE:ts} \[%{LOGLEVEL:level}\] (?<pid>%{PID})#"#, patterns: bank)
        var record = Record(key: nil, value: Event(FieldMap([("message", "2024/03/01 12:00:01 [error] 42#0: boom")])), timestamp: 0)
        #expect(try Transform.grok([(try FieldPath("message"), [g])]).handlingFailures(.deadLetter)()(&record))
        #expect(record.value["ts"] == "2024/03/01 12:00:01" && record.value["level"] == "error" && record.value["pid"] == "42")
    }

    @Test(arguments: ["0", "7", "007", "-5", "+5", "-0", "123456789012345678", "1234567890123456789",
                      "99999999999999999999", "-", "1.5", "12a", "1e3", " 1"])
    func anIntegerCaptureReadsItsTextAsIntegerConversionDoes(text: String) throws {
        // Whatever the text, the value is what converting the captured string gives.
        let e = try #require(try grok("^%{DATA:n:int}$", text))
        #expect(try field(e, "n") == Grok.CaptureType.int.convert(text))
        let l = try #require(try grok("^%{DATA:n:long}$", text))
        #expect(try field(l, "n") == Grok.CaptureType.long.convert(text))
    }

    @Test func theFirstMatchingExpressionWinsAndTargetNestsCaptures() throws {
        var options = GrokOptions()
        options.target = try FieldPath("parsed")
        let groks = [try Grok("^%{INT:code:int}$", patterns: bank), try Grok("^%{WORD:word}$", patterns: bank)]
        var record = Record(key: nil, value: Event(FieldMap([("message", "hello")])), timestamp: 0)
        _ = try Transform.grok([(try FieldPath("message"), groks)], options: options).handlingFailures(.deadLetter)()(&record)
        let word = try FieldPath("[parsed][word]"), code = try FieldPath("[parsed][code]")
        #expect(record.value[word] == "hello" && record.value[code] == nil)
    }

    @Test(arguments: [
        ("%{NOPE:x}", "unknown grok pattern 'NOPE'", 0),
        ("a %{WORD:x:bool}", "unknown capture type 'bool'", 2),
        ("%{WORD:[bad}", "bad field", 0),
        ("abc %{WORD", "expected '}'", 4),
        ("(", "does not compile", 0),
    ])
    func badExpressionsFailToCompileWithWhereAndWhy(expression: String, message: String, offset: Int) {
        #expect { try Grok(expression, patterns: bank) } throws: { error in
            guard let e = error as? Grok.CompileError else { return false }
            return e.message.contains(message) && e.offset == offset
        }
    }

    @Test func aPatternThatRefersToItselfIsAnErrorNotALoop() throws {
        var bank = GrokPatterns()
        bank.define("A", "x%{B}")
        bank.define("B", "%{A}")
        #expect { try Grok("%{A}", patterns: bank) } throws: { ($0 as? Grok.CompileError)?.message.contains("refers to itself") == true }
    }

    @Test func aPatternFileLineWithoutAPatternIsReportedByLine() {
        var bank = GrokPatterns()
        #expect { try bank.load(file: "# c\nGOOD x\nBAD\n") } throws: { ($0 as? GrokPatterns.FileError)?.line == 3 }
    }
}
