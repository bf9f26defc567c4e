import Foundation
import Sluice
import SluiceConfig
import SluiceTransforms
import Testing

@Suite struct DryRunTests {
    private func spec(_ yaml: String = TopologyLoaderTests.valid) throws -> TopologySpec {
        try TopologyLoader.load(yaml: yaml, file: "t.yaml")
    }

    private func destinations(_ outputs: [DryRun.Output]) -> [String] {
        outputs.map {
            switch $0 {
            case .destination(let name, _, _, _), .metricLines(let name, _, _, _): name
            case .deadLetter(let topic, _, _, let step, _): "\(topic) by \(step)"
            }
        }
    }

    @Test func recordsFollowTheStepsToTheirDestination() throws {
        let dry = try DryRun(try spec())
        #expect(destinations(try dry.process(value: Array(#"{"service":"a","level":"ERROR"}"#.utf8))) == ["errors"])
        let rest = try dry.process(value: Array(#"{"service":"a","level":"INFO"}"#.utf8))
        #expect(destinations(rest) == ["rest"])
        guard case .destination(_, _, _, let event) = rest.first else { Issue.record("no output"); return }
        #expect(event["severity"] == "low")
        #expect(try dry.process(value: Array(#"{"level":"ERROR"}"#.utf8)).isEmpty, "`where` drops what it does not keep")
    }

    @Test func undecodableRecordsAndFailedStepsGoToTheDeadLetterTopicWithTheReason() throws {
        let yaml = TopologyLoaderTests.valid.replacingOccurrences(
            of: "  - where: '[service] exists'", with: "  - convert: { n: integer }\n    on_failure: dlq")
        let dry = try DryRun(try spec(yaml))
        #expect(destinations(try dry.process(value: Array("not json".utf8))) == ["shop-logs-dlq by decode-json-0"])
        let failed = try dry.process(value: Array(#"{"n":"x"}"#.utf8))
        #expect(destinations(failed) == ["shop-logs-dlq by convert-1"])
        let line = String(decoding: failed[0].jsonLine(), as: UTF8.self)
        #expect(line.contains(#""reason":"convert failed: cannot convert n (string x) to integer""#), "\(line)")
    }

    @Test func aDateStepSetsTheTimestampAndABadPatternDoesNotValidate() throws {
        let yaml = TopologyLoaderTests.valid.replacingOccurrences(
            of: "  - where: '[service] exists'",
            with: "  - date: { field: t, formats: ['dd/MMM/yyyy:HH:mm:ss Z'], timezone: '+01:00' }")
        let dry = try DryRun(try spec(yaml))
        let out = try dry.process(value: Array(#"{"service":"a","t":"11/Dec/2013:00:01:45 -0800"}"#.utf8))
        guard case .destination(_, _, _, let event)? = out.first else { Issue.record("no output: \(out)"); return }
        #expect(event["@timestamp"] == "2013-12-11T08:01:45.000Z")
        #expect(throws: ConfigErrors.self) { try spec(yaml.replacingOccurrences(of: "HH:mm", with: "hh:mm")) }
        #expect(throws: ConfigErrors.self) { try spec(yaml.replacingOccurrences(of: "+01:00", with: "Europe/Paris")) }
    }

    @Test func theEngineTopologyRoutesAsTheDryRunDoes() throws {
        let spec = try spec()
        let driver = TopologyTestDriver(topology: try spec.topology(), applicationID: spec.application)
        defer { driver.close() }
        let inputs = [#"{"service":"a","level":"ERROR"}"#, #"{"service":"b"}"#, #"{"level":"ERROR"}"#, "{bad"]
        for value in inputs { try driver.pipe("logs", value: value) }
        #expect(driver.output("shop-errors").count == 1)
        #expect(driver.outputValues("shop-rest") == [#"{"service":"b","severity":"low"}"#])
        #expect(driver.deadLetters.count == 1)
        let dry = try DryRun(spec)
        #expect(try inputs.flatMap { try destinations(dry.process(value: Array($0.utf8))) }
                == ["errors", "rest", "shop-logs-dlq by decode-json-0"])
    }

    @Test func theShippedJSONExampleSplitsAsTheSwiftExampleDoes() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("topologies/nginx-json-classify.yaml").path
        let dry = try DryRun(try TopologyLoader.load(path: file, environment: [:]))
        let cases = [(#"{"status":502,"path":"/api/x"}"#, "errors"), (#"{"status":200,"path":"/api/x"}"#, "api"),
                     (#"{"status":404,"path":"/home"}"#, "other")]
        for (value, expected) in cases { #expect(destinations(try dry.process(value: Array(value.utf8))) == [expected]) }
    }
}
