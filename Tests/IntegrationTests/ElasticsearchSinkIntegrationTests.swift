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
    private func produce(_ topic: String, count: Int, broken: Int? = nil, partitions: Int = 3) throws {
        try Services.Broker.local.createTopics([NewTopic(topic, partitions: partitions)])
        let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
        for i in 0..<count {
            let n = i == broken ? #""not-a-number""# : String(i)
            try producer.send(topic: topic, key: Array("k\(i)".utf8), value: Array(#"{"n":\#(n),"service":"web"}"#.utf8))
        }
        try producer.flush(timeout: .seconds(30))
    }

    private func sinkRun(_ input: String, index: String, applicationID: String, count: Int) throws -> StreamApplication {
        let builder = TopologyBuilder()
        var documents = ElasticsearchDocuments(index: try Template(index))
        documents.id = .topicPartitionOffset
        builder.stream([input]).mapValues(named: "parse") { try Event(json: $0.value ?? []) }
            .to(.elasticsearch("es", ElasticsearchSinkConfig(hosts: [Elasticsearch.url])), named: "to-es",
                documents: documents) { $0.value }
        let app = try StreamApplication(topology: try builder.build(), config: Services.streamsConfig(applicationID),
                                        logger: Services.logger)
        app.start()
        app.waitUntilProcessed(count, timeout: .seconds(300))
        app.stop()
        try app.wait()
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
