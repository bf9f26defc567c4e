import Foundation
import Sluice
import SluiceConfig
import SluiceSinks
import SluiceTransforms
import Testing

/// The `elasticsearch` destination block of a topology file.
@Suite struct ElasticsearchDestinationTests {
    static let valid = """
    application: web
    sources:
      - topics: [logs]
        format: json
    destinations:
      search:
        elasticsearch:
          hosts: ['http://es-1:9200', 'https://es-2:9200']
          index: 'logs-%{[service][name]}-%{+yyyy.MM.dd}'
          id: topic_partition_offset
          routing: '%{[service][name]}'
          max_documents: 1000
          linger_ms: 50
          max_in_flight: 4
          mode: sync
          retry: { initial_backoff_ms: 50, max_backoff_ms: 5000, max_attempts: 10 }
          on_version_conflict: dlq
          user: elastic
          password: ${env:ES_PASSWORD}
          tls: { ca_file: /etc/ca.pem, verify: true }
          gzip: true
          template:
            version: 2
            settings: { number_of_shards: 1, refresh_interval: 5s }
            mappings:
              properties:
                status: { type: keyword }
                bytes: { type: long }
      audit: { topic: audit-out }
    steps:
      - route:
          - when: '[audit] exists'
            to: audit
          - default: search
    """

    private func problems(_ yaml: String) -> [String] {
        do {
            _ = try TopologyLoader.load(yaml: yaml, file: "t.yaml", environment: ["ES_PASSWORD": "pw"])
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    @Test func theBlockYieldsTheSinksConnectionBatchingAndDocumentSettings() throws {
        let spec = try TopologyLoader.load(yaml: Self.valid, file: "t.yaml", environment: ["ES_PASSWORD": "pw"])
        guard case .elasticsearch(let es) = spec.destinations[0].target else {
            Issue.record("expected an Elasticsearch destination")
            return
        }
        #expect(es.config.hosts == ["http://es-1:9200", "https://es-2:9200"])
        #expect(es.config.maxDocuments == 1000 && es.config.maxInFlight == 4 && es.config.mode == .sync)
        #expect(es.config.linger == .milliseconds(50))
        #expect(es.config.retry.maxAttempts == 10 && es.config.retry.maxBackoff == .seconds(5))
        #expect(es.config.onVersionConflict == .dlq)
        #expect(es.config.http.authentication == .basic(user: "elastic", password: "pw"))
        #expect(es.config.http.caFile == "/etc/ca.pem" && es.config.http.gzip)
        #expect(es.documents.index.description == "logs-%{[service][name]}-%{+yyyy.MM.dd}")
        #expect(spec.outputTopics == ["audit-out", "web-dlq"], "an index is not a topic")
        #expect(!"\(es.config.http.authentication)".contains("pw"), "the password never prints")
    }

    @Test func theTemplateBlockDefaultsItsNameAndPatternFromTheDestinationAndIndex() throws {
        let spec = try TopologyLoader.load(yaml: Self.valid, file: "t.yaml", environment: ["ES_PASSWORD": "pw"])
        guard case .elasticsearch(let es) = spec.destinations[0].target, let template = es.config.templates.first else {
            Issue.record("expected an Elasticsearch destination with a template")
            return
        }
        #expect(template.name == "sluice-search")
        #expect(template.patterns == ["logs-*-*"])
        #expect(template.version == 2)
        #expect(template.settings == FieldMap([("number_of_shards", 1), ("refresh_interval", "5s")]))
        #expect(template.mappings == FieldMap([("properties", ["status": ["type": "keyword"], "bytes": ["type": "long"]])]))
    }

    @Test func anInferredMappingPastedUnderTheTemplateReadsBackAsTheSameMapping() throws {
        var inference = MappingInference()
        for line in [#"{"@timestamp":"2026-11-21T10:15:02Z","client":"203.0.113.9","n":1,"tags":["a"],"o":{"p":1.5,"q":null}}"#,
                     #"{"client":"web-1","n":"x"}"#] {
            guard case .object(let document) = try JSONParser.parse(Array(line.utf8)) else { continue }
            inference.add(document)
        }
        let indented = inference.yaml.split(separator: "\n").map { String(repeating: " ", count: 10) + $0 }
        let declared = "          properties:\n            status: { type: keyword }\n            bytes: { type: long }"
        #expect(Self.valid.contains(declared))
        let yaml = Self.valid.replacingOccurrences(of: declared, with: indented.joined(separator: "\n"))
        let spec = try TopologyLoader.load(yaml: yaml, file: "t.yaml", environment: ["ES_PASSWORD": "pw"])
        guard case .elasticsearch(let es) = spec.destinations[0].target else {
            Issue.record("expected an Elasticsearch destination")
            return
        }
        #expect(es.config.templates.first?.mappings == inference.mapping)
    }

    @Test func describeShowsTheIndexAndTheTopologyHasASinkNamedAfterTheDestination() throws {
        let spec = try TopologyLoader.load(yaml: Self.valid, file: "t.yaml", environment: ["ES_PASSWORD": "pw"])
        #expect(spec.describe(.text).contains("search → elasticsearch logs-%{[service][name]}-%{+yyyy.MM.dd}"))
        let topology = try spec.topology()
        #expect(topology.sinkNames == ["search"])
        #expect(topology.sinkTopics == [])
    }

    @Test func recordsRoutedToTheIndexReachTheSinkAndTheRestTheirTopic() throws {
        let spec = try TopologyLoader.load(yaml: Self.valid, file: "t.yaml", environment: ["ES_PASSWORD": "pw"])
        let driver = TopologyTestDriver(topology: try spec.topology())
        try driver.pipe("logs", value: #"{"service":{"name":"web"},"n":1}"#, timestamp: 1_700_000_000_000)
        try driver.pipe("logs", value: #"{"audit":true}"#)
        let documents = driver.sinkOutput("search", as: BulkAction.self)
        #expect(documents.map(\.item.index) == ["logs-web-2023.11.14"])
        #expect(documents.map(\.item.id) == ["logs+0+0"])
        #expect(documents.map(\.item.routing) == ["web"])
        #expect(driver.outputValues("audit-out") == [#"{"audit":true}"#])
    }

    @Test func aTombstoneSkipsTheStepsAndBecomesADeleteOfTheKeysDocumentWhereOnTombstoneSaysDelete() throws {
        let yaml = Self.valid.replacingOccurrences(of: "id: topic_partition_offset", with: "id: key\n      on_tombstone: delete")
            .replacingOccurrences(of: "index: 'logs-%{[service][name]}-%{+yyyy.MM.dd}'", with: "index: 'logs-%{+yyyy.MM.dd}'")
            .replacingOccurrences(of: "      routing: '%{[service][name]}'\n", with: "")
        let driver = TopologyTestDriver(topology: try TopologyLoader.load(yaml: yaml, file: "t.yaml", environment: ["ES_PASSWORD": "pw"]).topology())
        try driver.pipe("logs", key: Array("doc-7".utf8), value: nil)
        let documents = driver.sinkOutput("search", as: BulkAction.self)
        #expect(documents.map(\.item.operation) == [.delete])
        #expect(documents.map(\.item.id) == ["doc-7"])
        #expect(documents.map(\.source?.offset) == [0], "its offset completes with the delete")
        #expect(driver.outputValues("audit-out").isEmpty && driver.deadLetters.isEmpty)
    }

    @Test func aTombstoneWritesNothingAndGoesNowhereElseWhereOnTombstoneSaysIgnore() throws {
        let driver = TopologyTestDriver(topology: try TopologyLoader.load(yaml: Self.valid, file: "t.yaml", environment: ["ES_PASSWORD": "pw"]).topology())
        try driver.pipe("logs", key: Array("doc-7".utf8), value: nil)
        try driver.pipe("logs", value: #"{"n":1}"#)
        #expect(driver.sinkOutput("search", as: BulkAction.self).count == 1, "only the record with a value")
        #expect(driver.outputValues("audit-out").isEmpty && driver.deadLetters.isEmpty)
    }

    @Test func withoutAnElasticsearchDestinationATombstoneGoesToTheDeadLetterTopicWithItsReason() throws {
        let yaml = """
        application: web
        sources: [{ topics: [logs], format: json }]
        destinations: { out: { topic: logs-out } }
        steps: [{ route: [{ default: out }] }]
        """
        let driver = TopologyTestDriver(topology: try TopologyLoader.load(yaml: yaml, file: "t.yaml").topology(), applicationID: "web")
        try driver.pipe("logs", key: Array("doc-7".utf8), value: nil)
        #expect(driver.outputValues("logs-out").isEmpty)
        let reason = driver.deadLetters.first?.headers.first { $0.key == DeadLetterHeader.reason }?.value
        #expect(reason.map { String(decoding: $0, as: UTF8.self) }?.contains("tombstone") == true)
    }

    @Test(arguments: [
        ("      index: 'logs-%{[service][name]}-%{+yyyy.MM.dd}'\n", "", "missing required key 'index'"),
        ("'http://es-1:9200'", "'es-1:9200'", "expected an Elasticsearch URL starting with http:// or https://, found 'es-1:9200'"),
        ("id: topic_partition_offset", "id: partition_offset", "unknown document id 'partition_offset'"),
        ("id: topic_partition_offset", "id: { fingerprint: ['[a'] }", "bad field reference"),
        ("mode: sync", "mode: synchronous", "unknown mode 'synchronous'"),
        ("on_version_conflict: dlq", "on_version_conflict: skip", "unknown on_version_conflict 'skip'"),
        ("max_in_flight: 4", "max_in_flight: 0", "expected max_in_flight to be at least 1, found 0"),
        ("      user: elastic\n", "", "expected a `user` with `password`"),
        ("user: elastic", "user: elastic\n      api_key: abc", "expected one way to authenticate, found user and api_key"),
        ("'logs-%{[service][name]}-%{+yyyy.MM.dd}'", "'logs-%{+yyyy.QQ}'", "unknown letter 'Q' in date pattern"),
        ("id: topic_partition_offset", "operation: upsert", "expected an `id` for operation upsert"),
        ("gzip: true", "gzp: true", "unknown key 'gzp'"),
        ("version: 2", "priority: 2", "missing required key 'version'"),
        ("id: topic_partition_offset", "id: key\n      on_tombstone: delete",
         "expected an index without %{field} references for on_tombstone: delete"),
        ("version: 2", "version: 2\n        data_stream: true", "expected `operation: create` with a data stream"),
        ("settings: { number_of_shards: 1, refresh_interval: 5s }", "settings: [1]", "expected settings as a mapping"),
    ])
    func aMistakeIsReportedWithItsPlace(original: String, replacement: String, message: String) {
        let yaml = Self.valid.replacingOccurrences(of: original, with: replacement)
        let found = problems(yaml)
        #expect(found.contains { $0.hasPrefix("t.yaml:") && $0.contains(message) }, "got \(found)")
    }
}
