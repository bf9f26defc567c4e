import Logging
import Sluice
import SluiceKafka
import SluiceSinks
import SluiceTransforms
import Testing

@Suite struct IndexTemplateTests {
    let transport = ScriptedTransport()
    let clock = ManualClock(1_000)

    let template = IndexTemplate(name: "sluice-logs", patterns: ["logs-*"], version: 3, priority: 200,
                                 mappings: FieldMap([("properties", ["status": ["type": "keyword"]])]))

    func sink(maxDocuments: Int = 3) -> ElasticsearchSink {
        var config = ElasticsearchSinkConfig(hosts: ["http://es-a:9200", "http://es-b:9200"])
        config.maxDocuments = maxDocuments
        config.templates = [template]
        let context = SinkContext(name: "es", applicationID: "app", threadIndex: 0, logger: Logger(label: "test")) { _ in }
        return ElasticsearchSink(config: config, context: context, transport: transport, clock: clock)
    }

    func write(_ sink: ElasticsearchSink, _ offsets: Range<Int64>) throws {
        for o in offsets {
            try sink.write(BulkAction(index: "logs-a", id: "in+0+\(o)", document: Array(#"{"n":\#(o)}"#.utf8)),
                           source: Provenance(topic: "in", partition: 0, offset: o))
        }
    }

    func reply(_ status: Int, _ body: String = "{}") {
        transport.answers.append(.success(HTTPResponse(status: status, body: Array(body.utf8))))
    }

    func installed(version: Int?) -> String {
        let v = version.map { #","version":\#($0)"# } ?? ""
        return #"{"index_templates":[{"name":"sluice-logs","index_template":{"index_patterns":["logs-*"]\#(v)}}]}"#
    }

    @Test func noBulkRequestGoesOutBeforeAMissingTemplateIsInstalled() throws {
        let sink = sink()
        try write(sink, 0..<3)
        #expect(transport.requests.map(\.method) == ["GET"])
        #expect(transport.requests[0].url == "http://es-a:9200/_index_template/sluice-logs")
        reply(404)
        try sink.poll(timeout: .zero)
        #expect(transport.requests.map(\.method) == ["GET", "PUT"])
        let body = try JSONParser.parse(transport.requests[1].body)
        #expect(body == ["index_patterns": ["logs-*"], "version": 3, "_meta": ["managed_by": "sluice"], "priority": 200,
                         "template": ["mappings": ["properties": ["status": ["type": "keyword"]]]]])
        reply(200, #"{"acknowledged":true}"#)
        try sink.poll(timeout: .zero)
        #expect(transport.requests.map(\.method) == ["GET", "PUT", "POST"])
        #expect(transport.requests[2].url.hasSuffix("/_bulk"))
    }

    @Test func aTemplateOfTheSameOrANewerVersionIsKept() throws {
        for version in [3, 4] {
            let sink = sink()
            let before = transport.requests.count
            try write(sink, 0..<3)
            reply(200, installed(version: version))
            try sink.poll(timeout: .zero)
            #expect(transport.requests[before...].map(\.method) == ["GET", "POST"], "version \(version)")
            transport.answer([201, 201, 201])
            try sink.poll(timeout: .zero)
        }
    }

    @Test func anOlderOrUnversionedTemplateIsReplaced() throws {
        for version in [2, nil] {
            let sink = sink()
            let before = transport.requests.count
            try write(sink, 0..<3)
            reply(200, installed(version: version))
            try sink.poll(timeout: .zero)
            reply(200, #"{"acknowledged":true}"#)
            try sink.poll(timeout: .zero)
            #expect(transport.requests[before...].map(\.method) == ["GET", "PUT", "POST"], "version \(String(describing: version))")
            transport.answer([201, 201, 201])
            try sink.poll(timeout: .zero)
        }
    }

    @Test func whileTheClusterCannotAnswerTheInstallIsRetriedAndDocumentsWaitWithoutOverfilling() throws {
        let sink = sink(maxDocuments: 2)
        try write(sink, 0..<2)
        transport.answers.append(.failure(HTTPTransportError(code: 7, message: "Couldn't connect to server")))
        try sink.poll(timeout: .zero)
        #expect(sink.isFull, "a full buffer pauses input while the template waits")
        #expect(transport.requests.count == 1, "not before the backoff is over")
        clock.advance(by: 200)
        try sink.poll(timeout: .zero)
        #expect(transport.requests.map(\.url) == ["http://es-a:9200/_index_template/sluice-logs",
                                                  "http://es-b:9200/_index_template/sluice-logs"])
        reply(503, #"{"error":{"type":"cluster_block_exception","reason":"blocked"}}"#)
        try sink.poll(timeout: .zero)
        clock.advance(by: 400)
        try sink.poll(timeout: .zero)
        reply(404)
        try sink.poll(timeout: .zero)
        reply(200, #"{"acknowledged":true}"#)
        try sink.poll(timeout: .zero)
        #expect(transport.requests.map(\.method) == ["GET", "GET", "GET", "PUT", "POST"])
        #expect(sink.firstPendingOffset(of: TopicPartition("in", 0)) == 0, "nothing counts as written before the bulk answer")
    }

    @Test func aTemplateTheClusterRefusesStopsTheSinkWithItsReason() throws {
        let sink = sink()
        try write(sink, 0..<1)
        reply(404)
        try sink.poll(timeout: .zero)
        reply(400, #"{"error":{"type":"mapper_parsing_exception","reason":"No handler for type [keywrd] declared on field [status]"}}"#)
        let error = #expect(throws: ElasticsearchSinkError.self) { try sink.poll(timeout: .zero) }
        #expect(error?.description == "index template sluice-logs: Elasticsearch answered 400: mapper_parsing_exception: No handler for type [keywrd] declared on field [status]")
    }
}
