import Foundation
import Sluice
@testable import SluiceConfig
import SluiceKafka
import SluiceTransforms
import Testing

@Suite struct TopologyLoaderTests {
    static let valid = """
    application: shop-logs
    kafka:
      bootstrap.servers: ${env:BROKERS:-127.0.0.1:9092}
      sasl.password: hunter2
    processing:
      guarantee: exactly_once
      threads: 3
      commit_interval_ms: 250
    sources:
      - topics: [logs]
        format: json
    destinations:
      errors: { topic: shop-errors }
      rest: { topic: shop-rest }
    steps:
      - where: '[service] exists'
      - if: '[level] == "ERROR"'
        then:
          - tag: [alert]
        else:
          - set: { severity: low }
      - route:
          - when: '"alert" in [tags]'
            to: errors
          - default: rest
    """

    private func diagnostics(_ yaml: String, environment: [String: String] = [:]) -> [Diagnostic] {
        do {
            _ = try TopologyLoader.load(yaml: yaml, file: "t.yaml", environment: environment)
            return []
        } catch {
            return error.diagnostics
        }
    }

    @Test func aValidFileYieldsItsSettings() throws {
        let spec = try TopologyLoader.load(yaml: Self.valid, file: "t.yaml", environment: ["BROKERS": "b:1"])
        #expect(spec.application == "shop-logs")
        #expect(spec.kafka["bootstrap.servers"] == "b:1")
        #expect(spec.guarantee == .exactlyOnce && spec.threads == 3 && spec.commitIntervalMilliseconds == 250)
        #expect(spec.destinations.map(\.topic) == ["shop-errors", "shop-rest"])
        #expect(spec.redactedKafka["sasl.password"] == "[redacted]")
        #expect(spec.outputTopics == ["shop-errors", "shop-rest", "shop-logs-dlq"])
        let config = spec.streamsConfig(overrides: KafkaConfig(["bootstrap.servers": "other:9"]))
        #expect(config.kafka["bootstrap.servers"] == "other:9" && config.threads == 3)
    }

    @Test func standbyReplicasAreReadIntoTheEngineConfig() throws {
        #expect(try TopologyLoader.load(yaml: Self.valid, file: "t.yaml").streamsConfig().standbyReplicas == 0)
        let two = Self.valid.replacingOccurrences(of: "threads: 3", with: "threads: 3\n  standby_replicas: 2")
        #expect(try TopologyLoader.load(yaml: two, file: "t.yaml").streamsConfig().standbyReplicas == 2)
    }

    @Test func environmentDefaultsApplyAndFileValuesAreSecret() throws {
        let secret = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-secret-\(UUID())").path
        try "s3cret\n".write(toFile: secret, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: secret) }
        let yaml = Self.valid.replacingOccurrences(of: "sasl.password: hunter2", with: "client.id: ${file:\(secret)}")
        let spec = try TopologyLoader.load(yaml: yaml, file: "t.yaml")
        #expect(spec.kafka["bootstrap.servers"] == "127.0.0.1:9092")
        #expect(spec.kafka["client.id"] == "s3cret")
        #expect(spec.redactedKafka["client.id"] == "[redacted]")
    }

    @Test(arguments: [
        ("threads: 3", "threads: three", 7, 12, "expected threads as an integer, found 'three'"),
        ("threads: 3", "threads: 3\n  standby_replicas: -1", 8, 21, "expected standby_replicas to be at least 0, found -1"),
        ("processing:", "procesing:", 5, 1, "unknown key 'procesing' in the topology; did you mean 'processing'?"),
        ("format: json", "format: jsn", 11, 13, "unknown source format 'jsn'; did you mean 'json'?"),
        ("'[service] exists'", "'[service] =~ /(x/'", 16, 26, "bad condition: bad regular expression /(x/"),
        ("to: errors", "to: eror", 24, 13, "unknown destination 'eror'; did you mean 'errors'?"),
        ("${env:BROKERS:-127.0.0.1:9092}", "${vault:x}", 3, 22, "unknown interpolation '${vault:x}'"),
        ("${env:BROKERS:-127.0.0.1:9092}", "${env:NOPE}", 3, 22, "environment variable NOPE is not set"),
        ("set: { severity: low }", "set: [severity]", 21, 14, "expected set as a mapping of field: value"),
        ("tag: [alert]", "tga: [alert]", 19, 9, "found 'tga'; did you mean 'to' or 'tag'?"),
        ("- default: rest", "- default: rest\n      - when: '[x]'\n        to: rest", 25, 9, "expected the default rule last"),
        ("tag: [alert]", "grok: { match: { message: '%{IPORHOST:ip} %{WROD:w}' } }", 19, 51,
         "bad grok expression: unknown grok pattern 'WROD'; did you mean 'WORD'?"),
        ("tag: [alert]", "grok: { match: { message: x }, patterns_files: [no-such-file] }", 19, 57, "cannot read the patterns file"),
        ("tag: [alert]", "dissect: { mapping: { message: '%{a}%{b}' } }", 19, 45, "expected a delimiter between two fields"),
        ("tag: [alert]", "kv: { field_split: '' }", 19, 28, "expected at least one character in field_split"),
        ("tag: [alert]", "fingerprint: { fields: [a], encoding: hexa }", 19, 47, "unknown fingerprint encoding 'hexa'; did you mean 'hex'?"),
        ("format: json", "format: json\n    timestamp: { field: time, formats: [dd/MMM/yyyy:HH:mm:ss Q] }", 12, 41, "bad date format"),
    ])
    func eachMistakeIsReportedWithItsPosition(_ find: String, _ replace: String, _ line: Int, _ column: Int, _ message: String) {
        let found = diagnostics(Self.valid.replacingOccurrences(of: find, with: replace))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.line == line && found.first?.column == column, "\(found)")
        #expect(found.first?.message.contains(message) == true, "\(found)")
        #expect(found.first?.description.hasPrefix("t.yaml:\(line):\(column): ") == true)
    }

    @Test func grokPatternFilesAreReadRelativeToTheTopologyFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-grok-\(UUID())")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("patterns"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "SHOP_ID shop-[0-9]+\n".write(to: dir.appendingPathComponent("patterns/shop"), atomically: true, encoding: .utf8)
        let yaml = Self.valid.replacingOccurrences(of: "tag: [alert]", with: "grok: { match: { message: '%{SHOP_ID:shop}' }, patterns_files: [patterns/shop] }")
        let file = dir.appendingPathComponent("t.yaml").path
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        let spec = try TopologyLoader.load(path: file)
        let out = try DryRun(spec).process(value: Array(#"{"service":"a","level":"ERROR","message":"order at shop-42"}"#.utf8))
        guard case .destination(_, _, _, let event)? = out.first else { Issue.record("\(out)"); return }
        #expect(event["shop"] == "shop-42")
    }

    @Test func aSourceTimestampFieldSetsTheRecordTimeAndAnUnreadableOneIsTagged() throws {
        let yaml = Self.valid.replacingOccurrences(of: "format: json", with: "format: json\n    timestamp: { field: time, formats: [ISO8601] }")
        let spec = try TopologyLoader.load(yaml: yaml, file: "t.yaml")
        let record = Record<[UInt8]?>(key: nil, value: Array(#"{"time":"2024-03-01T12:00:00Z"}"#.utf8), timestamp: 5)
        #expect(try spec.sources[0].read(record).timestamp == 1_709_294_400_000)
        let bad = try spec.sources[0].read(record.withValue(Array(#"{"time":"yesterday"}"#.utf8)))
        #expect(bad.timestamp == 5 && bad.value.tags == ["_dateparsefailure"])
        let missing = try spec.sources[0].read(record.withValue(Array(#"{"x":1}"#.utf8)))
        #expect(missing.timestamp == 5 && missing.value.tags.isEmpty)
    }

    @Test func everyProblemIsReportedAtOnce() {
        let yaml = Self.valid.replacingOccurrences(of: "threads: 3", with: "threads: 0")
            .replacingOccurrences(of: "format: json", with: "format: xml")
            .replacingOccurrences(of: "to: errors", with: "to: nowhere")
        #expect(diagnostics(yaml).count == 3)
    }

    @Test func stepsThatCanLeaveAnEventWithoutDestinationAreRejected() {
        let yaml = Self.valid.components(separatedBy: "  - route:")[0]
        #expect(diagnostics(yaml).first?.message.contains("expected the steps to end every event at a destination") == true)
    }

    @Test func yamlSyntaxErrorsCarryThePosition() {
        let found = diagnostics("application: x\nsources: [\n")
        #expect(found.count == 1 && found[0].line == 3 && found[0].message.hasPrefix("YAML syntax"), "\(found)")
    }
}
