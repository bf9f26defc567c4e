import CRdKafka

/// librdkafka configuration: any property passes through by its librdkafka
/// name (see librdkafka's CONFIGURATION.md), with typed accessors for the
/// ones Sluice's users set most often.
///
/// ```swift
/// var config = KafkaConfig(["bootstrap.servers": "127.0.0.1:9092"])
/// config.compression = .zstd
/// config["security.protocol"] = "SASL_SSL"
/// ```
public struct KafkaConfig: Sendable, Hashable {
    /// Every property by librdkafka name.
    public private(set) var properties: [String: String]

    /// Creates a configuration from librdkafka properties.
    public init(_ properties: [String: String] = [:]) {
        self.properties = properties
    }

    /// Parses `name=value` assignments, as given on a command line.
    public init(assignments: [String]) throws(KafkaError) {
        var properties: [String: String] = [:]
        for assignment in assignments {
            guard let eq = assignment.firstIndex(of: "="), eq != assignment.startIndex else {
                throw KafkaError(code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue,
                                 message: "expected name=value, got \(assignment.prefix { $0 != "=" })=…")
            }
            properties[String(assignment[..<eq])] = String(assignment[assignment.index(after: eq)...])
        }
        self.init(properties)
    }

    /// A property by its librdkafka name; `nil` removes it.
    public subscript(name: String) -> String? {
        get { properties[name] }
        set { properties[name] = newValue }
    }

    /// This configuration with `other`'s properties added; `other` wins.
    public func merging(_ other: KafkaConfig) -> KafkaConfig {
        KafkaConfig(properties.merging(other.properties) { _, new in new })
    }

    /// This configuration with `defaults` filled in where a property is unset.
    public func withDefaults(_ defaults: [String: String]) -> KafkaConfig {
        KafkaConfig(properties.merging(defaults) { current, _ in current })
    }

    /// `bootstrap.servers`.
    public var bootstrapServers: String? {
        get { self["bootstrap.servers"] }
        set { self["bootstrap.servers"] = newValue }
    }

    /// `client.id`, shown in broker logs and metrics.
    public var clientID: String? {
        get { self["client.id"] }
        set { self["client.id"] = newValue }
    }

    /// `client.rack`: with a broker that supports follower fetching, the
    /// consumer reads from a replica in the same rack (availability zone).
    public var clientRack: String? {
        get { self["client.rack"] }
        set { self["client.rack"] = newValue }
    }

    /// Producer `linger.ms`: how long a batch waits to fill.
    public var lingerMilliseconds: Int? {
        get { self["linger.ms"].flatMap { Int($0) } }
        set { self["linger.ms"] = newValue.map(String.init) }
    }

    /// Producer `batch.size` in bytes.
    public var batchSizeBytes: Int? {
        get { self["batch.size"].flatMap { Int($0) } }
        set { self["batch.size"] = newValue.map(String.init) }
    }

    /// Producer `compression.type`.
    public var compression: Compression? {
        get { self["compression.type"].flatMap(Compression.init(rawValue:)) }
        set { self["compression.type"] = newValue?.rawValue }
    }

    /// Codecs for produced batches.
    public enum Compression: String, Sendable, CaseIterable {
        case none, gzip, snappy, lz4, zstd
    }

    /// Properties whose values are secrets: never logged or printed.
    public static func isSecret(_ name: String) -> Bool {
        let name = name.lowercased()
        return ["password", "secret", "jaas", "token", "key.pem", "keystore.pem", "credentials"]
            .contains { name.contains($0) }
    }

    /// The properties with secret values replaced, for logs and errors.
    public var redacted: [String: String] {
        properties.reduce(into: [:]) { out, pair in
            out[pair.key] = Self.isSecret(pair.key) ? "[redacted]" : pair.value
        }
    }

    /// A new `rd_kafka_conf_t`; the caller owns it. An unknown property or a
    /// bad value fails here, before any client starts.
    func makeNative() throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, name, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let shown = Self.isSecret(name) ? "[redacted]" : value
                throw KafkaError(code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue,
                                 message: "\(name)=\(shown): \(String(nulTerminated: errstr))")
            }
        }
        return conf
    }
}
