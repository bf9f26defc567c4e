import Sluice
import SluiceTransforms

/// How records become bulk actions: the target index (a template with
/// fields and the record's time), the write operation, the document id,
/// routing, ingest pipeline, and what a tombstone means.
public struct ElasticsearchDocuments: Sendable {
    /// The index, data stream or alias, e.g. `logs-%{[service][name]}-%{+yyyy.MM.dd}`
    /// (the date is the record's timestamp, in UTC).
    public var index: Template
    /// How documents are written.
    public var operation = BulkOperation.index
    /// Where document ids come from.
    public var id = DocumentID.auto
    /// The shard routing value, if any.
    public var routing: Template?
    /// The ingest pipeline per document, if any (overrides the sink's).
    public var pipeline: Template?
    /// What a tombstone (a record without a value) does.
    public var onTombstone = TombstonePolicy.ignore

    /// Documents for `index` with the defaults: `index` operation, ids chosen
    /// by Elasticsearch, tombstones ignored.
    public init(index: Template) { self.index = index }

    /// The action for `record`, or `nil` when nothing is to be written (an
    /// ignored tombstone). Throws when the record lacks what its id needs;
    /// the record then goes to the dead-letter topic.
    public func action(for record: Record<Event?>) throws -> BulkAction? {
        guard let event = record.value else { return try tombstone(record) }
        return BulkAction(operation: operation, index: index.render(event, timestamp: record.timestamp),
                          id: try id.value(for: record, event: event),
                          routing: routing.map { $0.render(event, timestamp: record.timestamp) },
                          pipeline: pipeline.map { $0.render(event, timestamp: record.timestamp) },
                          document: event.json(), key: record.key, headers: record.headers, timestamp: record.timestamp)
    }

    private func tombstone(_ record: Record<Event?>) throws -> BulkAction? {
        switch onTombstone {
        case .ignore: return nil
        case .fail: throw DocumentError.tombstone(record.provenance)
        case .delete:
            guard let docID = try id.value(for: record, event: nil) else { throw DocumentError.noIDToDelete }
            return BulkAction(operation: .delete, index: index.render(Event(), timestamp: record.timestamp),
                              id: docID, document: nil, key: record.key, headers: record.headers,
                              timestamp: record.timestamp)
        }
    }
}

/// Where a document's id comes from.
public enum DocumentID: Sendable {
    /// Elasticsearch chooses: a replay after a crash duplicates documents.
    case auto
    /// `topic+partition+offset` of the input record (Kafka Connect's form):
    /// a replay overwrites.
    case topicPartitionOffset
    /// The record's key as UTF-8 text.
    case key
    /// A field's text.
    case field(FieldPath)
    /// A ``Fingerprint`` of fields.
    case fingerprint(Fingerprint)

    func value(for record: Record<Event?>, event: Event?) throws -> String? {
        switch self {
        case .auto: return nil
        case .topicPartitionOffset:
            guard let p = record.provenance else { throw DocumentError.noInputPosition }
            return "\(p.topic)+\(p.partition)+\(p.offset)"
        case .key:
            guard let key = record.keyString, !key.isEmpty else { throw DocumentError.noKey }
            return key
        case .field(let path):
            guard let value = event?[path], value != .null else { throw DocumentError.missingField(path) }
            return value.text
        case .fingerprint(let fingerprint):
            guard let event, let digest = fingerprint(event) else { throw DocumentError.nothingToFingerprint }
            return digest
        }
    }
}

/// What a tombstone does.
public enum TombstonePolicy: String, Sendable, CaseIterable {
    /// Deletes the document with the record's id (needs an id from the key or the input position).
    case delete
    /// Writes nothing.
    case ignore
    /// Stops the stream thread: the topic was not supposed to carry tombstones.
    case fail
}

/// Why a record cannot become a document.
public enum DocumentError: Error, CustomStringConvertible {
    case noInputPosition, noKey, nothingToFingerprint, noIDToDelete
    case missingField(FieldPath)
    case tombstone(Provenance?)

    public var description: String {
        switch self {
        case .noInputPosition: "the record has no input position for a topic_partition_offset id"
        case .noKey: "the record has no key for a key id"
        case .nothingToFingerprint: "the record has none of the fields of its fingerprint id"
        case .noIDToDelete: "a tombstone cannot delete a document whose id Elasticsearch chose"
        case .missingField(let path): "the record has no field \(path) for its id"
        case .tombstone(let at): "a tombstone at \(at.map(\.description) ?? "-") and on_tombstone is fail"
        }
    }
}

/// A tombstone under `on_tombstone: fail` stops the thread rather than
/// going to the dead-letter topic.
struct TombstoneHalt: HaltingError, CustomStringConvertible {
    let error: DocumentError
    var description: String { error.description }
}

extension Stream {
    /// Writes each record to Elasticsearch through `sink` as `documents`
    /// says; `event` gives the record's event, `nil` for a tombstone.
    public func to(_ sink: SinkDefinition<BulkAction>, named name: String? = nil, documents: ElasticsearchDocuments,
                   event: @escaping @Sendable (Record<Value>) -> Event?) {
        to(sink, named: name) { record in
            do {
                return try documents.action(for: record.withValue(event(record)))
            } catch DocumentError.tombstone(let at) {
                throw TombstoneHalt(error: .tombstone(at))
            }
        }
    }
}

extension SinkDefinition where Item == BulkAction {
    /// An Elasticsearch sink called `name`: each stream thread gets its own
    /// with its own connections.
    public static func elasticsearch(_ name: String, _ config: ElasticsearchSinkConfig) -> SinkDefinition {
        SinkDefinition(name: name) { context in ElasticsearchSink(config: config, context: context) }
    }
}
