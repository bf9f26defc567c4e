import Logging
import Sluice
import SluiceKafka
import Testing
@testable import SluiceSinks

/// Answers bulk requests from a script, one response per request, and
/// keeps every request it was given.
final class ScriptedTransport: BulkTransport {
    var requests: [HTTPRequest] = []
    var answers: [Result<HTTPResponse, HTTPTransportError>] = []
    private var started: [Int] = []

    func start(_ request: HTTPRequest, tag: Int) {
        requests.append(request)
        started.append(tag)
    }

    func poll(timeout: Duration) -> [(tag: Int, result: Result<HTTPResponse, HTTPTransportError>)] {
        var done: [(tag: Int, result: Result<HTTPResponse, HTTPTransportError>)] = []
        while !started.isEmpty, !answers.isEmpty { done.append((started.removeFirst(), answers.removeFirst())) }
        return done
    }

    /// The documents of request `i`, one JSON text per document line.
    func documents(_ i: Int) -> [String] {
        let lines = String(decoding: requests[i].body, as: UTF8.self).split(separator: "\n")
        return stride(from: 1, to: lines.count, by: 2).map { String(lines[$0]) }
    }

    func answer(_ statuses: [Int], errorType: String = "mapper_parsing_exception") {
        let items = statuses.map { status in
            status < 300 ? #"{"index":{"status":\#(status)}}"#
                : #"{"index":{"status":\#(status),"error":{"type":"\#(status == 429 ? "es_rejected_execution_exception" : errorType)","reason":"failed to parse field [n]","caused_by":{"reason":"not a number"}}}}"#
        }
        let body = #"{"took":3,"errors":\#(!statuses.allSatisfy { $0 < 300 }),"items":[\#(items.joined(separator: ","))]}"#
        answers.append(.success(HTTPResponse(status: 200, body: Array(body.utf8))))
    }
}

/// Keeps the dead letters a sink sends.
final class DeadLetterBox: @unchecked Sendable {
    var letters: [DeadLetter] = []
}

@Suite struct ElasticsearchSinkTests {
    let transport = ScriptedTransport()
    let clock = ManualClock(1_000)
    let box = DeadLetterBox()
    let metrics = MetricsRegistry()

    func sink(_ configure: (inout ElasticsearchSinkConfig) -> Void = { _ in }) -> ElasticsearchSink {
        var config = ElasticsearchSinkConfig(hosts: ["http://es-a:9200", "http://es-b:9200"])
        config.maxDocuments = 3
        configure(&config)
        let box = self.box
        let context = SinkContext(name: "es", applicationID: "app", threadIndex: 0, logger: Logger(label: "test"),
                                  metrics: metrics) { box.letters.append($0) }
        return ElasticsearchSink(config: config, context: context, transport: transport, clock: clock)
    }

    func write(_ sink: ElasticsearchSink, _ offsets: Range<Int64>, partition: Int32 = 0) throws {
        for o in offsets {
            try sink.write(BulkAction(index: "logs", id: "in+\(partition)+\(o)", document: Array(#"{"n":\#(o)}"#.utf8)),
                           source: Provenance(topic: "in", partition: partition, offset: o))
        }
    }

    let tp = TopicPartition("in", 0)

    @Test func aRequestGoesOutOnceItHoldsMaxDocuments() throws {
        let sink = sink()
        try write(sink, 0..<2)
        #expect(transport.requests.isEmpty)
        try write(sink, 2..<3)
        #expect(transport.requests.count == 1)
        #expect(transport.requests[0].url == "http://es-a:9200/_bulk")
        #expect(transport.documents(0) == [#"{"n":0}"#, #"{"n":1}"#, #"{"n":2}"#])
    }

    @Test func aPartlyFilledRequestGoesOutOnceItHasLingered() throws {
        let sink = sink { $0.linger = .milliseconds(50) }
        try write(sink, 0..<1)
        try sink.poll(timeout: .zero)
        #expect(transport.requests.isEmpty)
        clock.advance(by: 50)
        try sink.poll(timeout: .zero)
        #expect(transport.requests.count == 1)
    }

    @Test func anOffsetIsPendingUntilItsDocumentIsAcknowledged() throws {
        let sink = sink()
        try write(sink, 0..<3)
        #expect(sink.firstPendingOffset(of: tp) == 0)
        transport.answer([201, 201, 201])
        try sink.poll(timeout: .zero)
        #expect(sink.firstPendingOffset(of: tp) == nil)
        #expect(sink.stats.documents == 3)
    }

    @Test func onlyTheRejectedItemsAreRetriedAndTheyHoldTheirOffsetsBack() throws {
        let sink = sink()
        try write(sink, 0..<3)
        transport.answer([201, 429, 503])
        try sink.poll(timeout: .zero)
        #expect(sink.firstPendingOffset(of: tp) == 1)
        #expect(transport.requests.count == 1, "not before the backoff is over")
        clock.advance(by: 200)
        try sink.poll(timeout: .zero)
        #expect(transport.requests.count == 2)
        #expect(transport.documents(1) == [#"{"n":1}"#, #"{"n":2}"#])
        transport.answer([200, 200])
        try sink.poll(timeout: .zero)
        #expect(sink.firstPendingOffset(of: tp) == nil)
        #expect(box.letters.isEmpty)
        #expect(sink.stats.retries["item"] == 2)
    }

    /// The value of the series `name{labels}` in the registry's text.
    func exported(_ name: String, _ labels: String = "") -> Int? {
        let prefix = "\(name){application=\"app\",thread=\"0\",sink=\"es\"\(labels)} "
        return metrics.prometheusText().split(separator: "\n").first { $0.hasPrefix(prefix) }
            .flatMap { Int($0.dropFirst(prefix.count)) }
    }

    @Test func requestsRetriesFailuresAndTheInFlightBudgetAreExportedAsTheyHappen() throws {
        let sink = sink()
        #expect(exported("sluice_es_retried_items_total", #",reason="connection""#) == 0, "a series exists before its first retry")
        try write(sink, 0..<3)
        #expect(exported("sluice_es_requests_total") == 1)
        #expect(exported("sluice_es_in_flight_requests") == 1)
        transport.answers.append(.failure(HTTPTransportError(code: 7, message: "Couldn't connect to server")))
        try sink.poll(timeout: .zero)
        #expect(exported("sluice_es_failing") == 1, "backoff shows while requests fail")
        #expect(exported("sluice_es_retried_items_total", #",reason="connection""#) == 3)
        #expect(exported("sluice_es_in_flight_requests") == 0)
        clock.advance(by: 200)
        transport.answer([201, 429, 201])
        try sink.poll(timeout: .zero)
        try sink.poll(timeout: .zero)
        #expect(exported("sluice_es_failing") == 0)
        #expect(exported("sluice_es_documents_total") == 2)
        #expect(exported("sluice_es_retried_items_total", #",reason="item""#) == 1)
        #expect(exported("sluice_es_requests_total") == 2)
        #expect((exported("sluice_es_request_bytes_total") ?? 0) > 0)
        #expect(exported("sluice_es_request_duration_seconds_count") == 2, "the failed request's time counts too")
    }

    @Test func aDocumentThatBreaksTheMappingIsDeadLetteredWithTheErrorTheIndexAndItsSource() throws {
        let sink = sink()
        try write(sink, 0..<3)
        transport.answer([201, 400, 201])
        try sink.poll(timeout: .zero)
        #expect(sink.firstPendingOffset(of: tp) == nil, "a dead-lettered document counts as done")
        let letter = try #require(box.letters.first)
        #expect(box.letters.count == 1)
        #expect(letter.errorType == "mapper_parsing_exception")
        #expect(letter.reason == "failed to parse field [n]: not a number")
        #expect(letter.source == Provenance(topic: "in", partition: 0, offset: 1))
        #expect(letter.value == Array(#"{"n":1}"#.utf8))
        let details = Dictionary(uniqueKeysWithValues: letter.details.map { ($0.key, String(decoding: $0.value ?? [], as: UTF8.self)) })
        #expect(details == [ElasticsearchHeader.index: "logs", ElasticsearchHeader.status: "400",
                            ElasticsearchHeader.operation: "index", ElasticsearchHeader.id: "in+0+1"])
    }

    @Test func anUnreachableHostMeansTheWholeRequestIsRetriedOnTheNextHostAfterABackoff() throws {
        let sink = sink()
        try write(sink, 0..<3)
        transport.answers.append(.failure(HTTPTransportError(code: 7, message: "Couldn't connect to server")))
        try sink.poll(timeout: .zero)
        #expect(sink.firstPendingOffset(of: tp) == 0)
        clock.advance(by: 200)
        try sink.poll(timeout: .zero)
        #expect(transport.requests.count == 2)
        #expect(transport.requests[1].url == "http://es-b:9200/_bulk")
        #expect(transport.documents(1) == transport.documents(0))
        #expect(sink.stats.retries["connection"] == 3)
    }

    @Test func wrongCredentialsAreRetriedNotDropped() throws {
        let sink = sink()
        try write(sink, 0..<3)
        transport.answers.append(.success(HTTPResponse(status: 401, body: Array(#"{"error":{"type":"security_exception","reason":"unable to authenticate user [elastic]"}}"#.utf8))))
        try sink.poll(timeout: .zero)
        #expect(!(try sink.flush(timeout: .zero)))
        #expect(box.letters.isEmpty)
        #expect(sink.stats.retries["http_401"] == 3)
        clock.advance(by: 200)
        transport.answer([201, 201, 201])
        #expect(try sink.flush(timeout: .milliseconds(10)))
    }

    @Test func aVersionConflictIsIgnoredDeadLetteredOrFatalAsConfigured() throws {
        let ignoring = sink { $0.onVersionConflict = .ignore }
        try write(ignoring, 0..<3)
        transport.answer([201, 409, 201], errorType: "version_conflict_engine_exception")
        try ignoring.poll(timeout: .zero)
        #expect(ignoring.firstPendingOffset(of: tp) == nil)
        #expect(box.letters.isEmpty)

        let dlq = sink { $0.onVersionConflict = .dlq }
        try write(dlq, 0..<3)
        transport.answer([201, 409, 201], errorType: "version_conflict_engine_exception")
        try dlq.poll(timeout: .zero)
        #expect(box.letters.map(\.errorType) == ["version_conflict_engine_exception"])

        let failing = sink { $0.onVersionConflict = .fail }
        try write(failing, 0..<3)
        transport.answer([201, 409, 201], errorType: "version_conflict_engine_exception")
        #expect(throws: ElasticsearchSinkError.self) { try failing.poll(timeout: .zero) }
        #expect(failing.firstPendingOffset(of: tp) == 1, "the conflicting document is never committed")
    }

    @Test func aRetryLimitSendsTheDocumentToTheDeadLetterTopicOnceItIsReached() throws {
        let sink = sink { $0.retry.maxAttempts = 2 }
        try write(sink, 0..<3)
        transport.answer([201, 429, 201])
        try sink.poll(timeout: .zero)
        clock.advance(by: 200)
        try sink.poll(timeout: .zero)
        transport.answer([429])
        try sink.poll(timeout: .zero)
        #expect(box.letters.map(\.errorType) == ["retries_exhausted"])
        #expect(sink.firstPendingOffset(of: tp) == nil)
    }

    @Test func withoutALimitRetriesGoOnWithGrowingBackoff() throws {
        let sink = sink { $0.retry.maxBackoff = .seconds(1) }
        try write(sink, 0..<3)
        for _ in 0..<20 {
            transport.answer([429, 429, 429])
            try sink.poll(timeout: .zero)
            clock.advance(by: 1_000)
            try sink.poll(timeout: .zero)
        }
        #expect(transport.requests.count == 21)
        #expect(box.letters.isEmpty)
        #expect(sink.firstPendingOffset(of: tp) == 0)
    }

    @Test func theSinkIsFullWhenItsBufferIsFullAndNoRequestSlotIsFree() throws {
        let sink = sink { $0.maxInFlight = 1 }
        try write(sink, 0..<3)
        #expect(transport.requests.count == 1)
        #expect(!sink.isFull)
        try write(sink, 3..<6)
        #expect(sink.isFull)
        transport.answer([201, 201, 201])
        try sink.poll(timeout: .zero)
        #expect(transport.requests.count == 2, "the full buffer went out as soon as a slot was free")
        #expect(!sink.isFull)
    }

    @Test func syncModeTakesNoInputWhileARequestIsUnderWay() throws {
        let sink = sink { $0.mode = .sync }
        try write(sink, 0..<3)
        #expect(sink.isFull)
        try write(sink, 3..<6)
        try sink.poll(timeout: .zero)
        #expect(transport.requests.count == 1, "the next batch waits for the one before")
        transport.answer([201, 201, 201])
        try sink.poll(timeout: .zero)
        #expect(transport.requests.count == 2)
    }

    @Test func aRequestTooLargeIsSplitInHalves() throws {
        let sink = sink { $0.maxDocuments = 4 }
        try write(sink, 0..<4)
        transport.answers.append(.success(HTTPResponse(status: 413, body: [])))
        try sink.poll(timeout: .zero)
        #expect(transport.requests.count == 3)
        #expect(transport.documents(1).count == 2)
        #expect(transport.documents(2).count == 2)
    }

    @Test func flushSendsWhatIsBufferedAndReportsWhetherItIsDurable() throws {
        let sink = sink()
        try write(sink, 0..<1)
        #expect(!(try sink.flush(timeout: .zero)))
        #expect(transport.requests.count == 1, "flush does not wait for the linger time")
        transport.answer([201])
        #expect(try sink.flush(timeout: .milliseconds(10)))
    }

    @Test func documentsOfForgottenPartitionsNoLongerHoldAnything() throws {
        let sink = sink()
        try write(sink, 0..<3)
        sink.forget([tp])
        #expect(sink.firstPendingOffset(of: tp) == nil)
        try write(sink, 0..<1)
        transport.answer([201, 201, 201])
        try sink.poll(timeout: .zero)
        #expect(sink.firstPendingOffset(of: tp) == 0, "the replayed document is still pending")
    }

    @Test func gzipCompressesTheBodyAndSaysSo() throws {
        let body = Array(String(repeating: #"{"message":"GET /index.html 200"}"#, count: 100).utf8)
        let compressed = try #require(Gzip.compress(body))
        #expect(compressed.count < body.count / 10)
        #expect(compressed.prefix(2) == [0x1f, 0x8b])
    }

    @Test func theCompatibilityHeaderIsSentWhenAsked() throws {
        let sink = sink { $0.compatibleWith = 8 }
        try write(sink, 0..<3)
        #expect(transport.requests[0].headers == ["Content-Type: application/vnd.elasticsearch+x-ndjson; compatible-with=8"])
    }
}
