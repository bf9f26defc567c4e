import SluiceTransforms

/// A composable index template (`PUT _index_template/<name>`, Elasticsearch
/// 7.8+ and OpenSearch) that the sink installs before its first bulk
/// request, so that the indices it creates get these settings and mappings.
///
/// Installing is idempotent and version-aware: a template already installed
/// with the same or a higher `version` is left as it is (another deployment
/// may be newer), an older or unversioned one is replaced.
public struct IndexTemplate: Sendable, Equatable {
    /// The template's name.
    public var name: String
    /// The index name patterns it applies to (`logs-*`).
    public var patterns: [String]
    /// Its version; only a lower installed version is replaced.
    public var version: Int
    /// Its priority among templates whose patterns overlap.
    public var priority: Int?
    /// Index settings (`number_of_shards`, `refresh_interval`, …).
    public var settings: FieldMap?
    /// The mappings (`properties`, `dynamic_templates`, …).
    public var mappings: FieldMap?
    /// Whether matching names are data streams (write with `create`).
    public var dataStream = false

    /// Creates a template.
    public init(name: String, patterns: [String], version: Int, priority: Int? = nil,
                settings: FieldMap? = nil, mappings: FieldMap? = nil, dataStream: Bool = false) {
        self.name = name
        self.patterns = patterns
        self.version = version
        self.priority = priority
        self.settings = settings
        self.mappings = mappings
        self.dataStream = dataStream
    }

    /// The request body, marked as Sluice's in `_meta`.
    public var body: [UInt8] {
        var inner: [(String, FieldValue)] = []
        if let settings { inner.append(("settings", .object(settings))) }
        if let mappings { inner.append(("mappings", .object(mappings))) }
        var fields: [(String, FieldValue)] = [
            ("index_patterns", .array(patterns.map(FieldValue.string))),
            ("version", .int(version)),
            ("_meta", .object(FieldMap([("managed_by", .string("sluice"))]))),
        ]
        if let priority { fields.append(("priority", .int(priority))) }
        if !inner.isEmpty { fields.append(("template", .object(FieldMap(inner)))) }
        if dataStream { fields.append(("data_stream", .object(FieldMap([])))) }
        return JSONWriter.encode(.object(FieldMap(fields)))
    }

    /// The version of the template a `GET _index_template/<name>` answer
    /// holds; `nil` when it holds one without a version.
    static func installedVersion(_ body: [UInt8]) -> Int?? {
        guard case .object(let root)? = try? JSONParser.parse(body), case .array(let list)? = root["index_templates"],
              case .object(let entry)? = list.first, case .object(let template)? = entry["index_template"] else { return nil }
        if case .int(let version)? = template["version"] { return .some(version) }
        return .some(nil)
    }
}

/// Installs a sink's templates one request at a time, before any bulk
/// request: check what is there, replace it if older, retry with backoff
/// while the cluster cannot answer.
struct TemplateInstaller {
    enum Step { case check, put }

    private(set) var remaining: [IndexTemplate]
    private(set) var step = Step.check
    /// When the next attempt may start (ms); 0 for now.
    private(set) var retryAt: Int64 = 0
    private var attempts = 0

    init(_ templates: [IndexTemplate]) { remaining = templates }

    /// Whether every template is in place.
    var isDone: Bool { remaining.isEmpty }

    /// The next request against `host` (a base URL).
    func request(host: String) -> HTTPRequest {
        let template = remaining[0]
        let url = "\(host)/_index_template/\(queryEncoded(template.name))"
        switch step {
        case .check: return HTTPRequest(method: "GET", url: url)
        case .put: return HTTPRequest(method: "PUT", url: url, headers: ["Content-Type: application/json"], body: template.body)
        }
    }

    /// What an answer means for the sink.
    enum Outcome: Equatable {
        /// The template is installed, at `version`.
        case installed(String, version: Int)
        /// A template of the same or a higher version is there already.
        case kept(String, installed: Int)
        /// Not yet known: ask again (the next step is chosen).
        case proceed
        /// The cluster could not answer; try again after `delay` ms.
        case retry(delay: Int64, reason: String)
        /// The cluster refused the template itself: a configuration mistake.
        case refused(String)
    }

    /// Moves on after the answer to ``request(host:)``.
    mutating func handle(_ result: Result<HTTPResponse, HTTPTransportError>, now: Int64, policy: RetryPolicy) -> Outcome {
        let template = remaining[0]
        let response: HTTPResponse
        switch result {
        case .failure(let error): return backOff(now: now, policy: policy, reason: error.message)
        case .success(let r): response = r
        }
        switch (step, response.status) {
        case (.check, 404):
            step = .put
        case (.check, 200):
            guard let installed = IndexTemplate.installedVersion(response.body) else {
                return backOff(now: now, policy: policy, reason: "an index template answer without the template")
            }
            if let installed, installed >= template.version {
                advance()
                return .kept(template.name, installed: installed)
            }
            step = .put
        case (.put, 200..<300):
            advance()
            return .installed(template.name, version: template.version)
        case (.put, 400):
            return .refused("index template \(template.name): " + BulkResponse.describe(status: 400, body: response.body))
        default:
            return backOff(now: now, policy: policy, reason: BulkResponse.describe(status: response.status, body: response.body))
        }
        attempts = 0
        return .proceed
    }

    private mutating func advance() {
        remaining.removeFirst()
        step = .check
        attempts = 0
    }

    private mutating func backOff(now: Int64, policy: RetryPolicy, reason: String) -> Outcome {
        attempts += 1
        let delay = policy.delay(after: attempts)
        retryAt = now + delay
        return .retry(delay: delay, reason: reason)
    }
}
