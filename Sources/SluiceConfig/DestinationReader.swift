import Sluice
import SluiceSinks
import SluiceTransforms
import Yams

/// Reads the `destinations` mapping: per name, a Kafka `topic`, an
/// `elasticsearch` block, or a `statsd` or `graphite` server for rollups.
struct DestinationReader {
    let reader: YAMLReader

    static let elasticsearchKeys = [
        "hosts", "index", "operation", "id", "routing", "pipeline", "on_version_conflict", "on_tombstone",
        "max_documents", "max_bytes", "linger_ms", "max_in_flight", "mode", "retry", "connect_timeout_ms",
        "request_timeout_ms", "tls", "user", "password", "api_key", "bearer_token", "gzip", "compatible_with",
        "template",
    ]

    func destinations(_ node: Node) -> [DestinationSpec]? {
        guard case .mapping(let mapping) = node else {
            reader.report(node, "expected destinations as a mapping of names to {topic: …}, {elasticsearch: …}, {statsd: …} or {graphite: …}")
            return nil
        }
        let kinds = ["topic", "elasticsearch"] + MetricLineDestination.Format.allCases.map(\.rawValue)
        return mapping.compactMap { key, value in
            guard let name = reader.string(key, "a destination name"),
                  let fields = reader.mapping(value, "destination '\(name)' (a topic, or an elasticsearch, statsd or graphite block)",
                                              allowed: kinds) else { return nil }
            let given = kinds.filter { fields[$0] != nil }
            guard given.count == 1, let kind = given.first, let block = fields[kind] else {
                reader.report(value, "expected destination '\(name)' to have exactly one of `topic`, `elasticsearch`, `statsd` or `graphite`")
                return nil
            }
            switch kind {
            case "topic": return reader.string(block, "a topic").map { DestinationSpec(name: name, target: .topic($0)) }
            case "elasticsearch":
                return elasticsearch(block, name: name).map { DestinationSpec(name: name, target: .elasticsearch($0)) }
            default:
                return metricLines(block, format: MetricLineDestination.Format(rawValue: kind)!)
                    .map { DestinationSpec(name: name, target: .metricLines($0)) }
            }
        }
    }

    /// A `statsd` block (`address`, `protocol` udp or tcp, `prefix`,
    /// `max_datagram`) or a `graphite` block (`address`, `prefix`; TCP).
    private func metricLines(_ node: Node, format: MetricLineDestination.Format) -> MetricLineDestination? {
        let allowed = format == .statsd ? ["address", "protocol", "prefix", "max_datagram"] : ["address", "prefix"]
        guard let fields = reader.mapping(node, "a \(format.rawValue) destination", allowed: allowed, required: ["address"]),
              let addressNode = fields["address"], let address = reader.string(addressNode, "an address") else { return nil }
        guard let (host, port) = Self.hostAndPort(address) else {
            reader.report(addressNode, "expected an address as host:port (port 1 to 65535), found '\(address)'")
            return nil
        }
        var destination = MetricLineDestination(format: format,
                                                config: MetricLineSinkConfig(host: host, port: port, transport: format == .statsd ? .udp : .tcp),
                                                prefix: "stats")
        var ok = true
        func read<T>(_ key: String, _ parse: (Node) -> T?, into apply: (T) -> Void) {
            ok = fields.read(key, parse, into: apply) && ok
        }
        read("protocol", { reader.choice($0, "protocol", as: MetricLineSinkConfig.Transport.self) }) { destination.config.transport = $0 }
        read("prefix", { reader.string($0, "a name prefix") }) { destination.prefix = $0 }
        read("max_datagram", { reader.int($0, "max_datagram", atLeast: 64) }) { destination.config.maxDatagram = $0 }
        return ok ? destination : nil
    }

    /// `host:port`, `[v6 address]:port`.
    static func hostAndPort(_ address: String) -> (String, Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    private func elasticsearch(_ node: Node, name: String) -> ElasticsearchDestination? {
        guard let fields = reader.mapping(node, "an elasticsearch destination", allowed: Self.elasticsearchKeys,
                                          required: ["hosts", "index"]),
              let hosts = fields["hosts"].flatMap({ reader.strings($0, "Elasticsearch URLs") }),
              let index = fields["index"].flatMap({ reader.template($0, "an index name") }) else { return nil }
        var config = ElasticsearchSinkConfig(hosts: hosts)
        var documents = ElasticsearchDocuments(index: index)
        var ok = true
        func read<T>(_ key: String, _ parse: (Node) -> T?, into apply: (T) -> Void) {
            ok = fields.read(key, parse, into: apply) && ok
        }
        for host in hosts where !host.hasPrefix("http://") && !host.hasPrefix("https://") {
            reader.report(fields["hosts"]!, "expected an Elasticsearch URL starting with http:// or https://, found '\(host)'")
            ok = false
        }
        read("operation", { reader.choice($0, "operation", as: WriteOperation.self) }) { documents.operation = $0.bulk }
        read("id", documentID) { documents.id = $0 }
        read("routing", { reader.template($0, "a routing value") }) { documents.routing = $0 }
        read("pipeline", { reader.template($0, "an ingest pipeline") }) { documents.pipeline = $0 }
        read("on_version_conflict", { reader.choice($0, "on_version_conflict", as: ConflictPolicy.self) }) { config.onVersionConflict = $0 }
        read("on_tombstone", { reader.choice($0, "on_tombstone", as: TombstonePolicy.self) }) { documents.onTombstone = $0 }
        read("max_documents", { reader.int($0, "max_documents", atLeast: 1) }) { config.maxDocuments = $0 }
        read("max_bytes", { reader.int($0, "max_bytes", atLeast: 1024) }) { config.maxBytes = $0 }
        read("linger_ms", { reader.int($0, "linger_ms", atLeast: 0) }) { config.linger = .milliseconds($0) }
        read("max_in_flight", { reader.int($0, "max_in_flight", atLeast: 1) }) { config.maxInFlight = $0 }
        read("mode", { reader.choice($0, "mode", as: BulkMode.self) }) { config.mode = $0 }
        read("retry", retryPolicy) { config.retry = $0 }
        read("connect_timeout_ms", { reader.int($0, "connect_timeout_ms", atLeast: 1) }) { config.http.connectTimeout = .milliseconds($0) }
        read("request_timeout_ms", { reader.int($0, "request_timeout_ms", atLeast: 1) }) { config.http.requestTimeout = .milliseconds($0) }
        read("tls", tls) { tls in tls(&config.http) }
        read("gzip", { reader.bool($0, "gzip") }) { config.http.gzip = $0 }
        read("compatible_with", { reader.int($0, "compatible_with", atLeast: 7) }) { config.compatibleWith = $0 }
        read("template", { indexTemplate($0, destination: name, index: index, operation: documents.operation) }) {
            config.templates = [$0]
        }
        if let authentication = authentication(fields) { config.http.authentication = authentication } else { ok = false }
        ok = checkNeeds(documents, fields, node) && ok
        return ok ? ElasticsearchDestination(config: config, documents: documents) : nil
    }

    /// `auto`, `topic_partition_offset`, `key`, `{field: path}` or `{fingerprint: [paths]}`.
    private func documentID(_ node: Node) -> DocumentID? {
        if case .scalar = node {
            switch reader.string(node, "a document id") {
            case "auto": return .auto
            case "topic_partition_offset": return .topicPartitionOffset
            case "key": return .key
            case let text?:
                reader.report(node, "unknown document id '\(text)'\(didYouMean(text, among: ["auto", "topic_partition_offset", "key"])) (expected auto, topic_partition_offset, key, {field: …} or {fingerprint: […]})")
                return nil
            case nil: return nil
            }
        }
        guard let fields = reader.mapping(node, "a document id", allowed: ["field", "fingerprint"]) else { return nil }
        let steps = StepReader(reader: reader)
        if let field = fields["field"] { return steps.field(field).map(DocumentID.field) }
        if let list = fields["fingerprint"], let names = reader.strings(list, "fields to fingerprint") {
            let paths = names.compactMap { steps.field(list, $0) }
            return paths.count == names.count ? .fingerprint(Fingerprint(paths)) : nil
        }
        reader.report(node, "expected a document id {field: …} or {fingerprint: […]}")
        return nil
    }

    /// What the operation and the tombstone policy need: ids, and for a
    /// delete an index that names no field (a tombstone has none).
    private func checkNeeds(_ documents: ElasticsearchDocuments, _ fields: YAMLReader.Fields, _ node: Node) -> Bool {
        if documents.onTombstone == .delete {
            for (what, template) in [("an index", documents.index), ("a routing", documents.routing)] where template?.refersToFields == true {
                reader.report(fields["on_tombstone"] ?? node,
                              "expected \(what) without %{field} references for on_tombstone: delete: a tombstone has no fields")
                return false
            }
        }
        guard case .auto = documents.id else { return true }
        if documents.operation == .update || documents.operation == .upsert {
            reader.report(fields["operation"] ?? node, "expected an `id` for operation \(documents.operation.rawValue): an update needs the document's id")
            return false
        }
        if documents.onTombstone == .delete {
            reader.report(fields["on_tombstone"] ?? node, "expected an `id` from the key or the input position for on_tombstone: delete")
            return false
        }
        return true
    }

    /// `{version, mappings, settings, …}`: installed before the first document.
    private func indexTemplate(_ node: Node, destination: String, index: Template, operation: BulkOperation) -> IndexTemplate? {
        guard let fields = reader.mapping(node, "an index template", allowed: [
            "name", "index_patterns", "version", "priority", "settings", "mappings", "data_stream"], required: ["version"]),
            let version = fields["version"].flatMap({ reader.int($0, "a template version", atLeast: 1) }) else { return nil }
        var template = IndexTemplate(name: "sluice-\(destination)", patterns: [index.wildcardPattern], version: version)
        var ok = fields.read("name", { reader.string($0, "a template name") }) { template.name = $0 }
        ok = fields.read("index_patterns", { reader.strings($0, "index patterns") }) { template.patterns = $0 } && ok
        ok = fields.read("priority", { reader.int($0, "a priority", atLeast: 0) }) { template.priority = $0 } && ok
        ok = fields.read("settings", { object($0, "settings") }) { template.settings = $0 } && ok
        ok = fields.read("mappings", { object($0, "mappings") }) { template.mappings = $0 } && ok
        if let n = fields["data_stream"] {
            guard let dataStream = reader.bool(n, "data_stream") else { return nil }
            if dataStream && operation != .create {
                reader.report(n, "expected `operation: create` with a data stream: a data stream only takes creates")
                ok = false
            }
            template.dataStream = dataStream
        }
        return ok ? template : nil
    }

    /// A mapping node as a JSON object.
    private func object(_ node: Node, _ what: String) -> FieldMap? {
        guard case .mapping = node else {
            reader.report(node, "expected \(what) as a mapping")
            return nil
        }
        guard case .object(let map)? = reader.value(node, what) else { return nil }
        return map
    }

    private func retryPolicy(_ node: Node) -> RetryPolicy? {
        guard let fields = reader.mapping(node, "a retry policy", allowed: ["initial_backoff_ms", "max_backoff_ms", "max_attempts"]) else { return nil }
        var policy = RetryPolicy()
        let ok = [
            fields.read("initial_backoff_ms", { reader.int($0, "initial_backoff_ms", atLeast: 1) }) { policy.initialBackoff = .milliseconds($0) },
            fields.read("max_backoff_ms", { reader.int($0, "max_backoff_ms", atLeast: 1) }) { policy.maxBackoff = .milliseconds($0) },
            fields.read("max_attempts", { reader.int($0, "max_attempts", atLeast: 1) }) { policy.maxAttempts = $0 },
        ].allSatisfy { $0 }
        guard ok else { return nil }
        return policy
    }

    private func tls(_ node: Node) -> ((inout HTTPSettings) -> Void)? {
        guard let fields = reader.mapping(node, "TLS settings", allowed: ["ca_file", "certificate", "key", "verify"]) else { return nil }
        let ca = fields["ca_file"].flatMap { reader.string($0, "a CA file") }
        let certificate = fields["certificate"].flatMap { reader.string($0, "a client certificate file") }
        let key = fields["key"].flatMap { reader.string($0, "a client key file") }
        let verify = fields["verify"].flatMap { reader.bool($0, "verify") }
        if (certificate == nil) != (key == nil) {
            reader.report(node, "expected both `certificate` and `key` for a client certificate")
            return nil
        }
        return { http in
            http.caFile = ca
            http.clientCertificate = certificate
            http.clientKey = key
            if let verify { http.verifyTLS = verify }
        }
    }

    /// Basic (`user`, `password`), `api_key` or `bearer_token`: one at most.
    private func authentication(_ fields: YAMLReader.Fields) -> HTTPAuthentication? {
        let given = ["user", "api_key", "bearer_token"].filter { fields[$0] != nil }
        if given.count > 1 {
            reader.report(fields[given[1]]!, "expected one way to authenticate, found \(given.joined(separator: " and "))")
            return nil
        }
        if let user = fields["user"] {
            guard let password = fields["password"] else {
                reader.report(user, "expected a `password` with `user`")
                return nil
            }
            guard let u = reader.string(user, "a user"), let p = reader.string(password, "a password") else { return nil }
            return .basic(user: u, password: p)
        }
        if let password = fields["password"] {
            reader.report(password, "expected a `user` with `password`")
            return nil
        }
        if let key = fields["api_key"] { return reader.string(key, "an API key").map(HTTPAuthentication.apiKey) }
        if let token = fields["bearer_token"] { return reader.string(token, "a bearer token").map(HTTPAuthentication.bearer) }
        return HTTPAuthentication.none
    }

}

/// The operations a topology may choose (a delete comes only from a tombstone).
enum WriteOperation: String, CaseIterable {
    case index, create, update, upsert

    var bulk: BulkOperation { BulkOperation(rawValue: rawValue)! }
}
