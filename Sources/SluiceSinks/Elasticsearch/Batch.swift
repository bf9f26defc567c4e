import Sluice
import SluiceTransforms

/// One bulk request under construction or under way: its NDJSON body and
/// the items in it, in order. An item's document lives only in the body
/// once encoded; ``restored(_:)`` takes it out again for a retry or the
/// dead-letter topic.
struct Batch {
    struct Item {
        var action: BulkAction
        /// Where the document's JSON sits in the body of the batch that holds the item.
        var document: Range<Int>?
        /// Where the item came from; `nil` for a punctuator's record.
        var ticket: PendingOffsets.Ticket?
        var attempts: Int

        var source: Provenance? { ticket?.source }
    }

    var body = JSONWriter()
    var items: [Item] = []
    /// When the first item arrived (ms).
    var started: Int64 = 0
    /// When the request went out (ms).
    var sentAt: Int64 = 0
    /// The index of the host it went to.
    var host = 0

    mutating func append(_ action: BulkAction, ticket: PendingOffsets.Ticket?, attempts: Int) {
        var action = action
        let range = action.encode(into: &body)
        action.document = nil
        items.append(Item(action: action, document: range, ticket: ticket, attempts: attempts))
    }

    /// Adds an item restored from an earlier batch.
    mutating func append(_ item: Item) {
        append(item.action, ticket: item.ticket, attempts: item.attempts)
    }

    /// The document of `item`, an item of this batch.
    func document(of item: Item) -> [UInt8]? {
        item.document.map { body.bytes(in: $0) } ?? item.action.document
    }

    /// `item` holding its own document again, ready for another batch.
    func restored(_ item: Item) -> Item {
        var copy = item
        copy.action.document = document(of: item)
        copy.document = nil
        return copy
    }
}

/// Round-robin over the hosts that are not marked down; when all are, the
/// one that comes back first.
struct HostPool {
    private var downUntil: [Int64]
    private var next = 0

    init(_ hosts: [String]) {
        precondition(!hosts.isEmpty, "an Elasticsearch sink needs at least one host")
        downUntil = Array(repeating: 0, count: hosts.count)
    }

    mutating func pick(now: Int64) -> Int {
        for step in 0..<downUntil.count {
            let i = (next + step) % downUntil.count
            if downUntil[i] <= now {
                next = (i + 1) % downUntil.count
                return i
            }
        }
        return downUntil.indices.min { downUntil[$0] < downUntil[$1] }!
    }

    mutating func markDown(_ host: Int, now: Int64, for milliseconds: Int64) { downUntil[host] = now + milliseconds }

    mutating func markUp(_ host: Int) { downUntil[host] = 0 }
}
