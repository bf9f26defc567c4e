import Logging
import Sluice
import SluiceKafka
import SluiceTransforms

/// Sends documents to Elasticsearch (or OpenSearch) with the bulk API and
/// loses none: every item of every response is read; rejected and
/// overloaded items (429, 5xx, `es_rejected_execution_exception`) are
/// retried alone with backoff, for as long as it takes unless a limit is
/// set; documents Elasticsearch refuses (mapping and parsing errors, and
/// version conflicts when configured so) go to the dead-letter topic with
/// the error, the index and the input position. An input offset counts as
/// done only when every document derived from it is acknowledged or
/// dead-lettered, so nothing is committed past a document that is not.
public final class ElasticsearchSink: Sink {
    public typealias Item = BulkAction

    private let config: ElasticsearchSinkConfig
    private let context: SinkContext
    private let transport: any BulkTransport
    private let clock: any WallClock
    private var hosts: HostPool
    private var pending = PendingOffsets()
    /// Items with no input record (a punctuator's), not yet durable.
    private var untracked = 0
    private var buffer = Batch()
    private var inFlight: [Int: Batch] = [:]
    private var nextTag = 0
    private var retries: [Batch.Item] = []
    private var retryAt: Int64 = 0
    /// At most this many retried items per request; halved by a 413.
    private var retryChunk: Int
    private var failingSince: Int64?
    /// Installs the index templates; no bulk request goes out before it is done.
    private var installer: TemplateInstaller
    /// The tag and host of the installer's request under way.
    private var setupRequest: (tag: Int, host: Int)?
    private var failure: Error?
    /// What the sink has done so far; its counters are exported at `/metrics`.
    public private(set) var stats: ElasticsearchSinkStats

    /// Creates a sink that sends through `transport` (an ``HTTPClient`` in production).
    public init(config: ElasticsearchSinkConfig, context: SinkContext, transport: any BulkTransport,
                clock: any WallClock = SystemClock()) {
        self.config = config
        self.context = context
        self.transport = transport
        self.clock = clock
        hosts = HostPool(config.hosts)
        retryChunk = config.maxDocuments
        installer = TemplateInstaller(config.templates)
        stats = ElasticsearchSinkStats(context)
    }

    /// Creates a sink with its own HTTP client.
    public convenience init(config: ElasticsearchSinkConfig, context: SinkContext) {
        self.init(config: config, context: context, transport: HTTPClient(settings: config.http))
    }

    public func write(_ item: BulkAction, source: Provenance?) throws {
        let ticket = source.map { pending.add($0) }
        if ticket == nil { untracked += 1 }
        if buffer.items.isEmpty { buffer.started = clock.now() }
        buffer.append(item, ticket: ticket, attempts: 0)
        if bufferIsFull { dispatchDue() }
    }

    public func poll(timeout: Duration) throws {
        dispatchDue()
        if inFlight.isEmpty && setupRequest == nil {
            waitForRetry(upTo: timeout)
        } else {
            for (tag, result) in transport.poll(timeout: timeout) { try handle(tag, result) }
        }
        dispatchDue()
        if let failure {
            self.failure = nil
            throw failure
        }
    }

    public func firstPendingOffset(of partition: TopicPartition) -> Int64? { pending.first(of: partition) }

    public var isFull: Bool {
        switch config.mode {
        case .async: bufferIsFull && (inFlight.count >= config.maxInFlight || isHeldBack)
        case .sync: !inFlight.isEmpty || isHeldBack || bufferIsFull
        }
    }

    public func flush(timeout: Duration) throws -> Bool {
        let deadline = clock.now() + timeout.wholeMilliseconds
        while true {
            dispatchDue(force: true)
            if isDrained { return true }
            let left = deadline - clock.now()
            if left <= 0 { return false }
            try poll(timeout: .milliseconds(min(left, 100)))
        }
    }

    public func forget(_ partitions: [TopicPartition]) { pending.forget(partitions) }

    /// Logs what the sink did, in one line.
    public func close() {
        context.logger.info("elasticsearch sink closed", metadata: [
            "sink": "\(context.name)", "documents": "\(stats.documents)", "requests": "\(stats.requests)",
            "dead_lettered": "\(stats.deadLettered)", "retried_items": "\(stats.retries.values.reduce(0, +))",
            "latency_p50_ms": "\(stats.latencies.percentile(50) ?? 0)", "latency_p99_ms": "\(stats.latencies.percentile(99) ?? 0)"])
    }

    /// Whether nothing is buffered, under way, or waiting for a retry.
    public var isDrained: Bool {
        buffer.items.isEmpty && inFlight.isEmpty && retries.isEmpty && pending.isEmpty && untracked == 0
    }

    // MARK: Sending

    private var bufferIsFull: Bool {
        buffer.items.count >= config.maxDocuments || buffer.body.count >= config.maxBytes
    }

    /// Whether new documents wait: for retries, or for the templates.
    private var isHeldBack: Bool { !retries.isEmpty || !installer.isDone }

    private var canDispatch: Bool {
        config.mode == .sync ? inFlight.isEmpty : inFlight.count < config.maxInFlight
    }

    /// Sends retries once their backoff is over, then the buffer when it is
    /// full, has lingered long enough, or `force` says so. While retries
    /// wait, new documents wait behind them.
    private func dispatchDue(force: Bool = false) {
        let now = clock.now()
        guard installer.isDone else { return startInstalling(now: now) }
        while !retries.isEmpty {
            guard now >= retryAt, canDispatch else { return }
            var batch = Batch()
            for item in retries.prefix(retryChunk) { batch.append(item) }
            retries.removeFirst(min(retryChunk, retries.count))
            send(batch)
        }
        while !buffer.items.isEmpty, canDispatch,
              force || bufferIsFull || now - buffer.started >= config.linger.wholeMilliseconds {
            send(buffer)
            buffer = Batch()
        }
    }

    private func send(_ batch: Batch) {
        var batch = batch
        batch.sentAt = clock.now()
        batch.host = hosts.pick(now: batch.sentAt)
        let tag = nextTag
        nextTag += 1
        var url = "\(config.hosts[batch.host])/_bulk"
        if let pipeline = config.pipeline { url += "?pipeline=\(queryEncoded(pipeline))" }
        transport.start(HTTPRequest(method: "POST", url: url, headers: [contentType], body: batch.body.bytes), tag: tag)
        inFlight[tag] = batch
        stats.inFlight = inFlight.count
        stats.requests += 1
        stats.bytes += batch.body.count
    }

    private var contentType: String {
        guard let version = config.compatibleWith else { return "Content-Type: application/x-ndjson" }
        return "Content-Type: application/vnd.elasticsearch+x-ndjson; compatible-with=\(version)"
    }

    private func waitForRetry(upTo timeout: Duration) {
        guard timeout > .zero else { return }
        let until: Int64
        if !installer.isDone { until = installer.retryAt } else if !retries.isEmpty { until = retryAt } else { return }
        let wait = min(until - clock.now(), timeout.wholeMilliseconds)
        guard wait > 0 else { return }
        blockThread(for: .milliseconds(wait))
    }

    // MARK: Outcomes

    private func handle(_ tag: Int, _ result: Result<HTTPResponse, HTTPTransportError>) throws {
        if let setup = setupRequest, setup.tag == tag { return try installed(result, host: setup.host) }
        guard let batch = inFlight.removeValue(forKey: tag) else { return }
        stats.inFlight = inFlight.count
        let now = clock.now()
        stats.requestEnded(after: now - batch.sentAt)
        switch result {
        case .failure(let error):
            hosts.markDown(batch.host, now: now, for: config.retry.delay(after: 1))
            retry(batch, reason: "connection", "\(config.hosts[batch.host]) unreachable: \(error.message)")
        case .success(let response):
            hosts.markUp(batch.host)
            try handle(response, of: batch)
        }
    }

    private func handle(_ response: HTTPResponse, of batch: Batch) throws {
        switch response.status {
        case 200:
            guard let results = BulkResponse.items(response.body, count: batch.items.count) else {
                return retry(batch, reason: "unreadable_response", "a bulk response without one result per item")
            }
            recovered()
            if retryChunk < config.maxDocuments { retryChunk = min(config.maxDocuments, retryChunk * 2) }
            var retried: [Batch.Item] = []
            for (item, result) in zip(batch.items, results) {
                if try settle(item, of: batch, result) { retried.append(item) }
            }
            if !retried.isEmpty { scheduleRetry(retried, of: batch, reason: "item") }
        case 413 where batch.items.count > 1:
            // Too large for the cluster: the same documents, in smaller requests.
            retryChunk = max(1, batch.items.count / 2)
            retries.insert(contentsOf: batch.items.map { batch.restored($0) }, at: 0)
        case 400, 413:
            let (type, reason) = BulkResponse.requestError(response.body)
            for item in batch.items {
                try deadLetter(item, of: batch, status: response.status, type: type ?? "bulk_request_rejected",
                               reason: reason ?? "the bulk request was refused as a whole")
            }
        default:
            retry(batch, reason: "http_\(response.status)", BulkResponse.describe(status: response.status, body: response.body))
        }
    }

    /// Settles one item; returns whether it must be retried.
    private func settle(_ item: Batch.Item, of batch: Batch, _ result: BulkItemResult) throws -> Bool {
        switch result.status {
        case 200..<300:
            complete(item)
            stats.documents += 1
        case 404 where item.action.operation == .delete:
            complete(item)
        case 409:
            switch config.onVersionConflict {
            case .ignore:
                complete(item)
                stats.conflicts += 1
            case .dlq:
                try deadLetter(item, of: batch, status: 409, type: result.errorType ?? "version_conflict_engine_exception",
                               reason: result.reason ?? "version conflict")
            case .fail:
                failure = failure ?? ElasticsearchSinkError(
                    "version conflict on \(item.action.index)/\(item.action.id ?? "-") from \(item.source.map(\.description) ?? "-"): \(result.reason ?? "")")
                // Kept pending: its offset is never committed.
            }
        case 429, 500...:
            return true
        default:
            if result.errorType == "es_rejected_execution_exception" { return true }
            try deadLetter(item, of: batch, status: result.status, type: result.errorType ?? "http_\(result.status)",
                           reason: result.reason ?? "refused without a reason")
        }
        return false
    }

    private func complete(_ item: Batch.Item) {
        if let ticket = item.ticket { pending.complete(ticket) } else { untracked -= 1 }
    }

    private func deadLetter(_ item: Batch.Item, of batch: Batch, status: Int, type: String, reason: String) throws {
        var details = [KafkaHeader(ElasticsearchHeader.index, item.action.index),
                       KafkaHeader(ElasticsearchHeader.status, String(status)),
                       KafkaHeader(ElasticsearchHeader.operation, item.action.operation.rawValue)]
        if let id = item.action.id { details.append(KafkaHeader(ElasticsearchHeader.id, id)) }
        try context.deadLetter(DeadLetter(key: item.action.key, value: batch.document(of: item),
                                          headers: item.action.headers, timestamp: item.action.timestamp,
                                          source: item.source, reason: reason, errorType: type, details: details))
        stats.deadLettered += 1
        complete(item)
    }

    /// Retries the whole of `batch` after a failure of the request itself.
    private func retry(_ batch: Batch, reason: String, _ message: String) {
        if failingSince == nil {
            failingSince = clock.now()
            stats.failing = true
        }
        scheduleRetry(batch.items, of: batch, reason: reason, message: message)
    }

    private func scheduleRetry(_ items: [Batch.Item], of batch: Batch, reason: String, message: String? = nil) {
        var attempts = 0
        for var item in items {
            item.attempts += 1
            if let limit = config.retry.maxAttempts, item.attempts >= limit {
                do {
                    try deadLetter(item, of: batch, status: 0, type: "retries_exhausted",
                                   reason: "gave up after \(item.attempts) attempts (\(reason)\(message.map { ": \($0)" } ?? ""))")
                } catch {
                    failure = failure ?? error
                }
                continue
            }
            attempts = max(attempts, item.attempts)
            retries.append(batch.restored(item))
        }
        stats.retried(items.count, reason: reason)
        guard attempts > 0 else { return }
        let delay = config.retry.delay(after: attempts)
        retryAt = max(retryAt, clock.now() + delay)
        context.logger.warning("elasticsearch bulk items will be retried", metadata: [
            "sink": "\(context.name)", "reason": "\(reason)", "items": "\(items.count)",
            "attempt": "\(attempts)", "retry_in_ms": "\(delay)", "error": "\(message ?? "per-item rejection")"])
    }

    // MARK: Index templates

    private func startInstalling(now: Int64) {
        guard setupRequest == nil, now >= installer.retryAt else { return }
        let host = hosts.pick(now: now)
        setupRequest = (nextTag, host)
        transport.start(installer.request(host: config.hosts[host]), tag: nextTag)
        nextTag += 1
    }

    private func installed(_ result: Result<HTTPResponse, HTTPTransportError>, host: Int) throws {
        setupRequest = nil
        let now = clock.now()
        let metadata: Logger.Metadata = ["sink": "\(context.name)", "host": "\(config.hosts[host])"]
        switch installer.handle(result, now: now, policy: config.retry) {
        case .installed(let name, let version):
            context.logger.info("index template installed", metadata: metadata.merging(["template": "\(name)", "version": "\(version)"]) { $1 })
        case .kept(let name, let installed):
            context.logger.info("index template kept: the installed version is the same or newer",
                                metadata: metadata.merging(["template": "\(name)", "installed_version": "\(installed)"]) { $1 })
        case .proceed:
            break
        case .retry(let delay, let reason):
            if case .failure = result { hosts.markDown(host, now: now, for: delay) }
            context.logger.warning("index template not installed yet; retrying",
                                   metadata: metadata.merging(["error": "\(reason)", "retry_in_ms": "\(delay)"]) { $1 })
        case .refused(let message):
            throw ElasticsearchSinkError(message)
        }
        dispatchDue()
    }

    private func recovered() {
        guard let since = failingSince else { return }
        failingSince = nil
        stats.failing = false
        context.logger.info("elasticsearch requests succeed again",
                            metadata: ["sink": "\(context.name)", "failing_ms": "\(clock.now() - since)"])
    }
}

/// The headers a document refused by Elasticsearch carries to the
/// dead-letter topic, besides the engine's (reason, type, source position).
public enum ElasticsearchHeader {
    /// The target index.
    public static let index = "sluice.es.index"
    /// The item's HTTP status (0 when retries ran out).
    public static let status = "sluice.es.status"
    /// The bulk operation.
    public static let operation = "sluice.es.operation"
    /// The document id, when it has one.
    public static let id = "sluice.es.id"
}

/// The sink cannot go on (a version conflict under `on_version_conflict: fail`).
public struct ElasticsearchSinkError: Error, CustomStringConvertible {
    /// What happened.
    public var description: String
    init(_ description: String) { self.description = description }
}

/// `text` with everything but unreserved URL characters percent-encoded.
func queryEncoded(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = Array("0123456789ABCDEF".utf8)
            out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
        }
    }
    return out
}

/// What the sink needs of an HTTP client; ``HTTPClient`` is the real one.
public protocol BulkTransport: AnyObject {
    /// Queues a request; its outcome comes back from ``poll(timeout:)`` with `tag`.
    func start(_ request: HTTPRequest, tag: Int)
    /// Moves requests along, waiting up to `timeout`, and returns those that finished.
    func poll(timeout: Duration) -> [(tag: Int, result: Result<HTTPResponse, HTTPTransportError>)]
}

extension HTTPClient: BulkTransport {}
