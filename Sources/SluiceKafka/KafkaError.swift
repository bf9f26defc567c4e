import CRdKafka

/// An error reported by librdkafka or by Sluice's Kafka layer.
///
/// `code` is librdkafka's `rd_kafka_resp_err_t` (negative values are local
/// errors, positive ones come from the broker). The flags say what the caller
/// may do next; they mirror librdkafka's `rd_kafka_error_t` classification.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// librdkafka's error code.
    public var code: Int32
    /// Human-readable reason.
    public var message: String
    /// The client instance is unusable and must be closed.
    public var isFatal: Bool
    /// The same operation may succeed if tried again.
    public var isRetriable: Bool
    /// The current transaction must be aborted before anything else.
    public var transactionRequiresAbort: Bool

    /// Creates an error from its parts.
    public init(code: Int32, message: String, isFatal: Bool = false,
                isRetriable: Bool = false, transactionRequiresAbort: Bool = false) {
        self.code = code
        self.message = message
        self.isFatal = isFatal
        self.isRetriable = isRetriable
        self.transactionRequiresAbort = transactionRequiresAbort
    }

    init(_ err: rd_kafka_resp_err_t, _ context: String? = nil) {
        let reason = String(cString: rd_kafka_err2str(err))
        self.init(code: err.rawValue, message: context.map { "\($0): \(reason)" } ?? reason)
    }

    /// Takes ownership of an `rd_kafka_error_t` and destroys it.
    init(consuming error: OpaquePointer, _ context: String) {
        self.init(code: rd_kafka_error_code(error).rawValue,
                  message: "\(context): \(String(cString: rd_kafka_error_string(error)))",
                  isFatal: rd_kafka_error_is_fatal(error) != 0,
                  isRetriable: rd_kafka_error_is_retriable(error) != 0,
                  transactionRequiresAbort: rd_kafka_error_txn_requires_abort(error) != 0)
        rd_kafka_error_destroy(error)
    }

    /// The producer was fenced by a newer instance with the same
    /// `transactional.id`: it must never produce again.
    public var isFenced: Bool {
        isFatal || code == RD_KAFKA_RESP_ERR__FENCED.rawValue
            || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED.rawValue
            || code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH.rawValue
    }

    /// The operation did not finish within its timeout.
    public var isTimeout: Bool { code == RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue }

    /// librdkafka's symbolic name of the code, e.g. `_MSG_TIMED_OUT`.
    public var name: String { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: code))) }

    public var description: String { "\(name) (\(code)): \(message)" }

    static func check(_ err: rd_kafka_resp_err_t, _ context: String) throws(KafkaError) {
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context) }
    }

    static func check(_ error: OpaquePointer?, _ context: String) throws(KafkaError) {
        if let error { throw KafkaError(consuming: error, context) }
    }
}

extension String {
    /// The text of a C buffer up to its first NUL.
    init(nulTerminated buffer: [CChar]) {
        self.init(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The librdkafka the process runs with (which may be newer than the one it was built against).
public enum Librdkafka {
    /// Its version, e.g. `2.16.0`.
    public static var version: String { String(cString: rd_kafka_version_str()) }

    /// Whether it parses KIP-482 tagged fields correctly (2.1.1 and later):
    /// older ones fail the ApiVersions handshake with brokers that send them.
    public static var parsesTaggedFields: Bool { rd_kafka_version() >= 0x0201_01ff }

    /// Whether this librdkafka knows the configuration property `name`.
    public static func supports(property name: String) -> Bool {
        let conf = rd_kafka_conf_new()
        defer { rd_kafka_conf_destroy(conf) }
        var size = 0
        return rd_kafka_conf_get(conf, name, nil, &size) == RD_KAFKA_CONF_OK
    }
}
