import Foundation
import Sluice
import SluiceKafka
import SluiceSinks
import SluiceTransforms
import Testing

/// The Elasticsearch sink against the real broker and the real
/// Elasticsearch the test script started.
@Suite(.serialized, .enabled(if: Services.enabled, "needs the local broker and Elasticsearch: run scripts/test.sh"))
struct ElasticsearchSinkIntegrationTests {
    let es = Elasticsearch()

    /// `count` JSON records on a new topic; the record at `broken` has a
    /// text where the index maps a number.
    func produce(_ topic: String, count: Int, broken: Int? = nil, partitions: Int = 3) throws {
        try Services.Broker.local.createTopics([NewTopic(topic, partitions: partitions)])
        let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
        for i in 0..<count {
            let n = i == broken ? #""not-a-number""# : String(i)
            try producer.send(topic: topic, key: Array("k\(i)".utf8), value: Array(#"{"n":\#(n),"service":"web"}"#.utf8))
        }
        try producer.flush(timeout: .seconds(30))
    }

    /// Runs a topology that indexes `input` into `index` until `count`
    /// records are processed; `configure` adjusts the sink.
    func sinkRun(_ input: String, index: String, applicationID: String, count: Int,
                 configure: (inout ElasticsearchSinkConfig, inout ElasticsearchDocuments) -> Void = { _, _ in }
    ) throws -> StreamApplication {
        var config = ElasticsearchSinkConfig(hosts: [Elasticsearch.url])
        let builder = TopologyBuilder()
        var documents = ElasticsearchDocuments(index: try Template(index))
        documents.id = .topicPartitionOffset
        configure(&config, &documents)
        builder.stream([input]).mapValues(named: "parse") { try Event(json: $0.value ?? []) }
            .to(.elasticsearch("es", config), named: "to-es",
                documents: documents) { $0.value }
        let app = try StreamApplication(topology: try builder.build(), config: Services.streamsConfig(applicationID),
                                        logger: Services.logger)
        app.start()
        app.waitUntilProcessed(count, timeout: .seconds(300))
        app.stop()
        try #require(try app.wait(timeout: .seconds(180)), "the application drains and stops")
        return app
    }

    @Test func everyRecordBecomesOneDocumentAndAMappingBreakerReachesTheDeadLetterTopicWithItsErrorIndexAndSource() throws {
        let run = Services.unique("es-sink")
        let input = "\(run)-in", index = "\(run)-logs"
        try es.createIndex(index, mapping: #"{"properties":{"n":{"type":"integer"},"service":{"type":"keyword"}}}"#)
        try produce(input, count: 3000, broken: 777)
        let app = try sinkRun(input, index: index, applicationID: run, count: 3000)

        #expect(try es.count(index) == 2999)
        var dead: [KafkaMessage] = []
        try TopicReader(config: Services.kafka, logger: Services.logger).read(["\(run)-dlq"]) { dead.append($0) }
        let letter = try #require(dead.first)
        #expect(dead.count == 1)
        #expect(app.deadLetterCount == 1)
        #expect(letter.key == Array("k777".utf8))
        #expect(letter.headers.string(DeadLetterHeader.errorType) == "mapper_parsing_exception")
        #expect(letter.headers.string(DeadLetterHeader.reason)?.contains("[n]") == true)
        #expect(letter.headers.string(DeadLetterHeader.processor) == "es")
        #expect(letter.headers.string(ElasticsearchHeader.index) == index)
        #expect(letter.headers.string(ElasticsearchHeader.status) == "400")
        #expect(letter.headers.string(DeadLetterHeader.sourceTopic) == input)
        let id = try #require(letter.headers.string(ElasticsearchHeader.id))
        #expect(id == "\(input)+\(letter.headers.string(DeadLetterHeader.sourcePartition)!)+\(letter.headers.string(DeadLetterHeader.sourceOffset)!)")
    }

    @Test func aReplayWithTopicPartitionOffsetIdsOverwritesInsteadOfDuplicating() throws {
        let run = Services.unique("es-replay")
        let input = "\(run)-in", index = "\(run)-logs"
        try produce(input, count: 2000)
        _ = try sinkRun(input, index: index, applicationID: "\(run)-first", count: 2000)
        _ = try sinkRun(input, index: index, applicationID: "\(run)-second", count: 2000)
        #expect(try es.count(index) == 2000)
    }

    @Test func aDeclaredTemplateShapesTheNewIndexAndIsReplacedOnlyByANewerVersion() throws {
        let run = Services.unique("es-template")
        let input = "\(run)-in", index = "\(run)-logs"
        try produce(input, count: 100, partitions: 1)
        func template(_ version: Int, nType: String) -> IndexTemplate {
            IndexTemplate(name: run, patterns: ["\(run)-*"], version: version,
                          settings: FieldMap([("number_of_replicas", 0)]),
                          mappings: FieldMap([("properties", ["n": ["type": .string(nType)]])]))
        }
        func installed() throws -> (version: Int?, nType: String?) {
            let body = try es.call("GET", "/_index_template/\(run)").body
            guard case .object(let root) = try JSONParser.parse(body), case .array(let list)? = root["index_templates"],
                  case .object(let entry)? = list.first, case .object(let t)? = entry["index_template"],
                  case .object(let inner)? = t["template"], case .object(let mappings)? = inner["mappings"],
                  case .object(let properties)? = mappings["properties"], case .object(let n)? = properties["n"] else {
                return (nil, nil)
            }
            if case .int(let v)? = t["version"] { return (v, n["type"]?.string) }
            return (nil, n["type"]?.string)
        }

        _ = try sinkRun(input, index: index, applicationID: "\(run)-1", count: 100) { config, _ in config.templates = [template(2, nType: "keyword")] }
        #expect(try installed() == (2, "keyword"))
        #expect(try es.count(index) == 100)
        let mapping = try es.call("GET", "/\(index)/_mapping/field/n").text
        #expect(mapping.contains(#""type":"keyword""#), "the index was created from the template: \(mapping)")

        _ = try sinkRun(input, index: index, applicationID: "\(run)-2", count: 100) { config, _ in config.templates = [template(1, nType: "long")] }
        #expect(try installed() == (2, "keyword"), "an older version never replaces a newer one")
        _ = try sinkRun(input, index: index, applicationID: "\(run)-3", count: 100) { config, _ in config.templates = [template(3, nType: "long")] }
        #expect(try installed() == (3, "long"))
    }

    @Test func theIndexNameTakesFieldsAndTheRecordsDay() throws {
        let run = Services.unique("es-daily")
        let input = "\(run)-in"
        try produce(input, count: 10, partitions: 1)
        _ = try sinkRun(input, index: "\(run)-%{service}-%{+yyyy.MM.dd}", applicationID: run, count: 10)
        let today = DateFormat.iso8601.format(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)).prefix(10)
            .replacingOccurrences(of: "-", with: ".")
        #expect(try es.count("\(run)-web-\(today)") == 10)
    }
}

/// A few calls to the local Elasticsearch, through the sink's own HTTP client.
struct Elasticsearch {
    static var url: String { ProcessInfo.processInfo.environment["SLUICE_ES_URL"] ?? "http://127.0.0.1:19200" }
    let client = HTTPClient(settings: HTTPSettings())

    struct Failure: Error, CustomStringConvertible { var description: String }

    @discardableResult
    func call(_ method: String, _ path: String, _ body: String = "") throws -> HTTPResponse {
        let request = HTTPRequest(method: method, url: Self.url + path,
                                  headers: body.isEmpty ? [] : ["Content-Type: application/json"], body: Array(body.utf8))
        switch client.perform(request) {
        case .success(let response): return response
        case .failure(let error): throw Failure(description: "\(method) \(path): \(error)")
        }
    }

    func createIndex(_ name: String, mapping: String) throws {
        let response = try call("PUT", "/\(name)", #"{"settings":{"number_of_replicas":0},"mappings":\#(mapping)}"#)
        guard response.status == 200 else { throw Failure(description: "create \(name): \(response.status) \(response.text)") }
    }

    /// Write requests the node has rejected since it started.
    func writeRejections() throws -> Int {
        let response = try call("GET", "/_nodes/stats/thread_pool")
        guard case .object(let root) = try JSONParser.parse(response.body), case .object(let nodes)? = root["nodes"],
              case .object(let node)? = nodes.values.first, case .object(let pools)? = node["thread_pool"],
              case .object(let write)? = pools["write"], case .int(let rejected)? = write["rejected"] else {
            throw Failure(description: "thread pool stats: \(response.status) \(response.text)")
        }
        return rejected
    }

    func count(_ index: String) throws -> Int {
        try call("POST", "/\(index)/_refresh")
        let response = try call("GET", "/\(index)/_count")
        guard response.status == 200, case .object(let root) = try JSONParser.parse(response.body),
              case .int(let count)? = root["count"] else {
            throw Failure(description: "count \(index): \(response.status) \(response.text)")
        }
        return count
    }
}
