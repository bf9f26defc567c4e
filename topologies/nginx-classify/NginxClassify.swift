import Sluice
import SluiceTransforms

/// The classify example: splits a mixed topic of nginx-like JSON access
/// records into dedicated topics. Rules, first match wins:
///
/// | destination | rule |
/// |---|---|
/// | `<prefix>errors` | `status >= 500` |
/// | `<prefix>api` | `path` starts with `/api` |
/// | `<prefix>other` | everything else |
///
/// A record that is not a JSON object with an integer `status` and a string
/// `path` goes to the dead-letter topic. Each record is parsed once.
public enum NginxClassify {
    /// The destinations in rule order.
    public enum Destination: String, CaseIterable, Sendable {
        case errors, api, other
    }

    /// The fields the rules read, taken from one parse.
    public struct Access: Sendable {
        /// The original bytes, written out unchanged.
        public var bytes: [UInt8]
        /// HTTP status.
        public var status: Int
        /// Whether the path starts with `/api`.
        public var isAPI: Bool
    }

    /// A record lacks what the rules need.
    public struct InvalidRecord: Error, CustomStringConvertible {
        public var description: String
    }

    /// The rules on plain values: the reference the tests and the demo compare against.
    public static func destination(status: Int, path: String) -> Destination {
        if status >= 500 { return .errors }
        if path.hasPrefix("/api") { return .api }
        return .other
    }

    /// The topic of a destination.
    public static func topic(_ destination: Destination, prefix: String) -> String {
        prefix + destination.rawValue
    }

    /// The fields the rules read: status and path.
    private static let fieldReader = JSONFieldReader(["status", "path"])

    /// Parses the fields the rules read.
    public static func parse(_ value: [UInt8]?) throws -> Access {
        guard let value else { throw InvalidRecord(description: "tombstone: no value to classify") }
        let fields = try fieldReader.read(value)
        guard let status = fields.int(0) else { throw InvalidRecord(description: "no integer field status") }
        if let kind = fields.kind(1), kind != .string {
            throw InvalidRecord(description: "field path is a \(kind), not a string")
        }
        return Access(bytes: value, status: status, isAPI: fields.hasPrefix(1, "/api"))
    }

    /// The topology: `input` → parse → split → one topic per destination.
    public static func topology(input: String, outputPrefix: String) throws -> Topology {
        let builder = TopologyBuilder()
        let branches = builder.stream([input], named: "nginx-source")
            .mapValues(named: "parse") { try parse($0.value) }
            .split(named: "classify")
            .branch(Destination.errors.rawValue) { $0.value.status >= 500 }
            .branch(Destination.api.rawValue) { $0.value.isAPI }
            .defaultBranch(Destination.other.rawValue)
        for destination in Destination.allCases {
            branches[destination.rawValue]!.to(topic(destination, prefix: outputPrefix), named: "to-\(destination.rawValue)") {
                $0.bytes
            }
        }
        return try builder.build()
    }
}
