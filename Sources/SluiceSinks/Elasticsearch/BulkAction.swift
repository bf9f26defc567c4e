import Glibc
import SluiceKafka
import SluiceTransforms

/// How a document is written (the bulk API's action).
public enum BulkOperation: String, Sendable, CaseIterable {
    /// Creates or replaces the document.
    case index
    /// Creates the document; an existing id is a version conflict (data streams need this).
    case create
    /// Merges the fields into an existing document; a missing one is an error.
    case update
    /// Merges the fields into the document, creating it if missing.
    case upsert
    /// Deletes the document (what a tombstone becomes).
    case delete
}

/// One document for the bulk API: where it goes, how it is written, and
/// the input record it came from (for the dead-letter topic).
public struct BulkAction: Sendable {
    /// How it is written.
    public var operation: BulkOperation
    /// The target index, data stream or alias.
    public var index: String
    /// The document id; `nil` lets Elasticsearch choose one.
    public var id: String?
    /// The shard routing value.
    public var routing: String?
    /// The ingest pipeline.
    public var pipeline: String?
    /// The document as JSON; `nil` for a delete.
    public var document: [UInt8]?
    /// The input record's key, kept for the dead-letter topic.
    public var key: [UInt8]?
    /// The input record's headers, kept for the dead-letter topic.
    public var headers: [KafkaHeader]
    /// The input record's timestamp.
    public var timestamp: Int64

    /// Creates an action.
    public init(operation: BulkOperation = .index, index: String, id: String? = nil, routing: String? = nil,
                pipeline: String? = nil, document: [UInt8]?, key: [UInt8]? = nil, headers: [KafkaHeader] = [],
                timestamp: Int64 = 0) {
        self.operation = operation
        self.index = index
        self.id = id
        self.routing = routing
        self.pipeline = pipeline
        self.document = document
        self.key = key
        self.headers = headers
        self.timestamp = timestamp
    }

    /// Appends the action's NDJSON lines to `body`; returns the range of
    /// the document line's JSON, if it has one.
    func encode(into body: inout JSONWriter) -> Range<Int>? {
        let verb = switch operation {
        case .index: "index"
        case .create: "create"
        case .update, .upsert: "update"
        case .delete: "delete"
        }
        body.append(#"{""#)
        body.append(utf8: verb)
        body.append(#"":{"_index":"#)
        body.write(string: index)
        if let id { field("_id", id, &body) }
        if let routing { field("routing", routing, &body) }
        if let pipeline, operation != .delete, operation != .update, operation != .upsert { field("pipeline", pipeline, &body) }
        body.append("}}\n")
        guard operation != .delete else { return nil }
        let document = self.document ?? Array("{}".utf8)
        let start: Int
        switch operation {
        case .update, .upsert:
            body.append(#"{"doc":"#)
            start = body.count
            body.append(document)
            flattenLines(&body, from: start)
            let end = body.count
            body.append(operation == .upsert ? #","doc_as_upsert":true}"# : "}")
            body.append(UInt8(ascii: "\n"))
            return start..<end
        default:
            start = body.count
            body.append(document)
            flattenLines(&body, from: start)
            body.append(UInt8(ascii: "\n"))
            return start..<(body.count - 1)
        }
    }

    /// Makes the document from `start` one line, as the bulk format needs:
    /// in valid JSON a line break can only be whitespace between tokens
    /// (inside strings it is escaped), so a space takes its place. A
    /// pretty-printed record would otherwise split into lines that shift
    /// every action after it.
    private func flattenLines(_ body: inout JSONWriter, from start: Int) {
        // memchr: most documents have no line break, and this runs for each.
        body.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), start < buffer.count else { return }
            let end = base + buffer.count
            for lineBreak in [Int32(0x0A), 0x0D] {
                var at = base + start
                while at < end, let found = memchr(at, lineBreak, end - at) {
                    let byte = found.assumingMemoryBound(to: UInt8.self)
                    byte.pointee = 0x20
                    at = byte + 1
                }
            }
        }
    }

    private func field(_ name: String, _ value: String, _ body: inout JSONWriter) {
        body.append(#",""#)
        body.append(utf8: name)
        body.append(#"":"#)
        body.write(string: value)
    }
}
