import Foundation
import SluiceConfig
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
        ("processing:", "procesing:", 5, 1, "unknown key 'procesing' in the topology; did you mean 'processing'?"),
        ("format: json", "format: jsn", 11, 13, "unknown source format 'jsn'; did you mean 'json'?"),
        ("'[service] exists'", "'[service] =~ /(x/'", 16, 26, "bad condition: bad regular expression /(x/"),
        ("to: errors", "to: eror", 24, 13, "unknown destination 'eror'; did you mean 'errors'?"),
        ("${env:BROKERS:-127.0.0.1:9092}", "${vault:x}", 3, 22, "unknown interpolation '${vault:x}'"),
        ("${env:BROKERS:-127.0.0.1:9092}", "${env:NOPE}", 3, 22, "environment variable NOPE is not set"),
        ("set: { severity: low }", "set: [severity]", 21, 14, "expected set as a mapping of field: value"),
        ("tag: [alert]", "tga: [alert]", 19, 9, "found 'tga'; did you mean 'to' or 'tag'?"),
        ("- default: rest", "- default: rest\n      - when: '[x]'\n        to: rest", 25, 9, "expected the default rule last"),
    ])
    func eachMistakeIsReportedWithItsPosition(_ find: String, _ replace: String, _ line: Int, _ column: Int, _ message: String) {
        let found = diagnostics(Self.valid.replacingOccurrences(of: find, with: replace))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.line == line && found.first?.column == column, "\(found)")
        #expect(found.first?.message.contains(message) == true, "\(found)")
        #expect(found.first?.description.hasPrefix("t.yaml:\(line):\(column): ") == true)
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
