import Sluice
import SluiceKafka
import SluiceTransforms
import Testing
@testable import SluiceSinks

/// The bulk body the sink writes, the responses it reads, and how records
/// become actions.
@Suite struct BulkFormatTests {
    func encoded(_ action: BulkAction) -> String {
        var writer = JSONWriter()
        _ = action.encode(into: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test func anIndexActionCarriesItsIdRoutingAndPipeline() {
        let action = BulkAction(index: "logs-\"x\"", id: "a+0+1", routing: "r", pipeline: "geo", document: Array(#"{"a":1}"#.utf8))
        #expect(encoded(action) == """
            {"index":{"_index":"logs-\\"x\\"","_id":"a+0+1","routing":"r","pipeline":"geo"}}
            {"a":1}

            """)
    }

    @Test func updatesWrapTheDocumentAndUpsertsCreateIt() {
        #expect(encoded(BulkAction(operation: .update, index: "i", id: "1", document: Array(#"{"a":1}"#.utf8))) == """
            {"update":{"_index":"i","_id":"1"}}
            {"doc":{"a":1}}

            """)
        #expect(encoded(BulkAction(operation: .upsert, index: "i", id: "1", document: Array(#"{"a":1}"#.utf8))) == """
            {"update":{"_index":"i","_id":"1"}}
            {"doc":{"a":1},"doc_as_upsert":true}

            """)
    }

    @Test func aDocumentWithLineBreaksBetweenItsTokensStaysOneLineWithItsEscapesIntact() {
        let document = "{\n\"a\":\"x\\ny\",\r\n\"b\":[1,\n2]}"
        let body = encoded(BulkAction(index: "i", document: Array(document.utf8)))
        #expect(body == "{\"index\":{\"_index\":\"i\"}}\n{ \"a\":\"x\\ny\",  \"b\":[1, 2]}\n")
        #expect(body.split(separator: "\n").count == 2)
    }

    @Test func aDeleteHasNoDocumentLine() {
        #expect(encoded(BulkAction(operation: .delete, index: "i", id: "1", document: nil)) == """
            {"delete":{"_index":"i","_id":"1"}}

            """)
    }

    @Test func aResponseWithoutErrorsIsAllSuccessWithoutParsingTheItems() {
        let items = BulkResponse.items(Array(#"{"took":3,"errors":false,"items":[not parsed]}"#.utf8), count: 2)
        #expect(items == [BulkItemResult(status: 200), BulkItemResult(status: 200)])
    }

    @Test func everyItemOfAResponseWithErrorsIsRead() {
        let body = #"{"took":3,"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"document already exists"}}}]}"#
        #expect(BulkResponse.items(Array(body.utf8), count: 2) == [
            BulkItemResult(status: 201),
            BulkItemResult(status: 409, errorType: "version_conflict_engine_exception", reason: "document already exists"),
        ])
    }

    @Test func aResponseWithTheWrongNumberOfItemsIsNotTrusted() {
        let body = #"{"took":3,"errors":true,"items":[{"index":{"status":201}}]}"#
        #expect(BulkResponse.items(Array(body.utf8), count: 2) == nil)
    }

    func record(_ event: Event?, key: String? = "k1", timestamp: Int64 = 1_700_000_000_000) -> Record<Event?> {
        Record(key: key.map { Array($0.utf8) }, value: event, timestamp: timestamp,
               provenance: Provenance(topic: "logs", partition: 3, offset: 42))
    }

    @Test func theIndexTemplateTakesFieldsAndTheRecordsDateInUTC() throws {
        let documents = ElasticsearchDocuments(index: try Template("logs-%{[service][name]}-%{+yyyy.MM.dd}"))
        let event = try Event(json: Array(#"{"service":{"name":"web"}}"#.utf8))
        let action = try #require(try documents.action(for: record(event)))
        #expect(action.index == "logs-web-2023.11.14")
        #expect(action.id == nil)
        #expect(action.document == event.json())
    }

    @Test func idsComeFromTheInputPositionTheKeyAFieldOrAFingerprint() throws {
        var documents = ElasticsearchDocuments(index: try Template("i"))
        let event = try Event(json: Array(#"{"request_id":"r-9","a":"x"}"#.utf8))
        documents.id = .topicPartitionOffset
        #expect(try documents.action(for: record(event))?.id == "logs+3+42")
        documents.id = .key
        #expect(try documents.action(for: record(event))?.id == "k1")
        documents.id = .field(try FieldPath("request_id"))
        #expect(try documents.action(for: record(event))?.id == "r-9")
        documents.id = .fingerprint(Fingerprint([try FieldPath("a")]))
        #expect(try documents.action(for: record(event))?.id == Fingerprint([try FieldPath("a")])(event))
    }

    @Test func aRecordWithoutWhatItsIdNeedsIsRefused() throws {
        var documents = ElasticsearchDocuments(index: try Template("i"))
        documents.id = .field(try FieldPath("request_id"))
        #expect(throws: DocumentError.self) { try documents.action(for: record(Event())) }
        documents.id = .key
        #expect(throws: DocumentError.self) { try documents.action(for: record(Event(), key: nil)) }
    }

    @Test func aTombstoneIsIgnoredDeletesOrFailsAsConfigured() throws {
        var documents = ElasticsearchDocuments(index: try Template("i"))
        documents.id = .key
        #expect(try documents.action(for: record(nil)) == nil)
        documents.onTombstone = .delete
        let delete = try #require(try documents.action(for: record(nil)))
        #expect(delete.operation == .delete)
        #expect(delete.id == "k1")
        documents.onTombstone = .fail
        #expect(throws: DocumentError.self) { try documents.action(for: record(nil)) }
    }

    @Test func aTombstoneUnderFailStopsTheThreadInsteadOfBeingDeadLettered() throws {
        let builder = TopologyBuilder()
        var documents = ElasticsearchDocuments(index: try Template("i"))
        documents.onTombstone = .fail
        builder.stream(["in"]).to(.elasticsearch("es", ElasticsearchSinkConfig(hosts: ["http://unused:1"])),
                                  documents: documents) { $0.value.flatMap { try? Event(json: $0) } }
        let driver = TopologyTestDriver(topology: try builder.build())
        try driver.pipe("in", value: #"{"a":1}"#)
        #expect(throws: (any Error).self) { try driver.pipe("in", value: nil) }
        #expect(driver.deadLetters.isEmpty)
        #expect(driver.sinkOutput("es", as: BulkAction.self).count == 1)
    }
}
