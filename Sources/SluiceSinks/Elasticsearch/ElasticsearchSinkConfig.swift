import SluiceKafka

/// How an ``ElasticsearchSink`` talks to the cluster and when it gives up.
public struct ElasticsearchSinkConfig: Sendable {
    /// Base URLs of the nodes (`http://es-1:9200`); requests go round-robin
    /// to the healthy ones.
    public var hosts: [String]
    /// Timeouts, TLS, credentials and compression.
    public var http = HTTPSettings()
    /// A bulk request is sent once it holds this many documents…
    public var maxDocuments = 5000
    /// …or this many bytes…
    public var maxBytes = 5 * 1024 * 1024
    /// …or its first document has waited this long.
    public var linger = Duration.milliseconds(200)
    /// How many bulk requests may be under way at once (async mode).
    public var maxInFlight = 2
    /// Whether requests overlap (async) or each waits for the one before (sync).
    public var mode = BulkMode.async
    /// Backoff between attempts, and when to stop trying.
    public var retry = RetryPolicy()
    /// What a 409 version conflict means.
    public var onVersionConflict = ConflictPolicy.ignore
    /// Sends Elasticsearch 8's compatibility media type for this major
    /// version (7 or 8); `nil` sends plain `application/x-ndjson`.
    public var compatibleWith: Int?
    /// The ingest pipeline for every document, unless an action names its own.
    public var pipeline: String?
    /// Index templates installed before the first bulk request.
    public var templates: [IndexTemplate] = []

    /// A configuration for `hosts` with the defaults above.
    public init(hosts: [String]) {
        self.hosts = hosts.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }
}

/// Whether bulk requests overlap.
public enum BulkMode: String, Sendable, CaseIterable {
    /// Up to `maxInFlight` requests at once; a retried item may land after
    /// a later write of the same id.
    case async
    /// One request at a time, and input waits while it is under way: the
    /// documents of a partition are written in order.
    case sync
}

/// What a 409 version conflict does.
public enum ConflictPolicy: String, Sendable, CaseIterable {
    /// Counts as written: with `create` it means the document is already there.
    case ignore
    /// Sends the document to the dead-letter topic.
    case dlq
    /// Stops the stream thread; offsets stay before the document.
    case fail
}

/// Exponential backoff with jitter, and an optional limit.
public struct RetryPolicy: Sendable {
    /// The first delay.
    public var initialBackoff = Duration.milliseconds(100)
    /// The longest delay.
    public var maxBackoff = Duration.seconds(30)
    /// After this many attempts a document goes to the dead-letter topic;
    /// `nil` (the default) retries for as long as it takes.
    public var maxAttempts: Int?

    /// The default policy: 100 ms doubling up to 30 s, without limit.
    public init() {}

    /// The delay before attempt `attempt + 1` (`attempt` ≥ 1): the
    /// exponential delay, halved and topped up with a random half.
    func delay(after attempt: Int) -> Int64 {
        let initial = initialBackoff.wholeMilliseconds, maximum = maxBackoff.wholeMilliseconds
        let exponential = attempt > 30 ? maximum : min(maximum, initial << Int64(attempt - 1))
        let half = max(1, exponential / 2)
        return half + Int64.random(in: 0...half)
    }
}
