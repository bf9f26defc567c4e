import SluiceKafka

/// The input offsets a sink has accepted items for and not yet made
/// durable, per partition, for sinks whose acknowledgements arrive out of
/// order (retries, concurrent requests). ``first(of:)`` is what
/// ``Sink/firstPendingOffset(of:)`` reports.
///
/// Items of a partition usually arrive in offset order (as its task
/// produces them), which costs nothing extra; one offset may carry several
/// items. After ``forget(_:)`` the tickets handed out before are ignored
/// when they complete.
public struct PendingOffsets {
    private var partitions: [TopicPartition: Queue] = [:]
    private var generations: [TopicPartition: Int] = [:]

    /// An empty set.
    public init() {}

    /// Whether no item is pending.
    public var isEmpty: Bool { partitions.values.allSatisfy(\.isEmpty) }

    /// Records an item of the input record at `source`.
    public mutating func add(_ source: Provenance) -> Ticket {
        let tp = TopicPartition(source.topic, source.partition)
        partitions[tp, default: Queue()].add(source.offset)
        return Ticket(partition: tp, offset: source.offset, generation: generations[tp, default: 0])
    }

    /// Marks the item of `ticket` durable (acknowledged or dead-lettered).
    public mutating func complete(_ ticket: Ticket) {
        guard generations[ticket.partition, default: 0] == ticket.generation else { return }
        partitions[ticket.partition]?.complete(ticket.offset)
    }

    /// The smallest offset of `partition` with an item pending.
    public func first(of partition: TopicPartition) -> Int64? { partitions[partition]?.first }

    /// Drops what is pending for `partitions`; their outstanding tickets
    /// become stale.
    public mutating func forget(_ partitions: [TopicPartition]) {
        for tp in partitions {
            self.partitions[tp] = nil
            generations[tp, default: 0] += 1
        }
    }

    /// One pending item: where it came from.
    public struct Ticket: Sendable, Hashable {
        /// The input partition.
        public let partition: TopicPartition
        /// The input offset.
        public let offset: Int64
        let generation: Int

        /// The input record the item came from.
        public var source: Provenance { Provenance(topic: partition.topic, partition: partition.partition, offset: offset) }
    }

    /// Offsets in increasing order with a count of items each; completed
    /// entries leave from the front.
    private struct Queue {
        private var offsets: [Int64] = []
        private var counts: [Int] = []
        private var head = 0

        var isEmpty: Bool { head == offsets.count }
        var first: Int64? { isEmpty ? nil : offsets[head] }

        mutating func add(_ offset: Int64) {
            if !isEmpty, offsets[offsets.count - 1] == offset {
                counts[counts.count - 1] += 1
                return
            }
            if isEmpty || offsets[offsets.count - 1] < offset {
                offsets.append(offset)
                counts.append(1)
                return
            }
            // A processor forwarded an older record late: keep the order.
            let i = position(of: offset)
            if offsets[i] == offset {
                counts[i] += 1
            } else {
                offsets.insert(offset, at: i)
                counts.insert(1, at: i)
            }
        }

        mutating func complete(_ offset: Int64) {
            guard let i = index(of: offset), counts[i] > 0 else { return }
            counts[i] -= 1
            while head < offsets.count, counts[head] == 0 { head += 1 }
            if head == offsets.count {
                offsets.removeAll(keepingCapacity: true)
                counts.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 1024, head * 2 > offsets.count {
                offsets.removeFirst(head)
                counts.removeFirst(head)
                head = 0
            }
        }

        private func index(of offset: Int64) -> Int? {
            let i = position(of: offset)
            return i < offsets.count && offsets[i] == offset ? i : nil
        }

        /// The first index at or after the head whose offset is not below `offset`.
        private func position(of offset: Int64) -> Int {
            var low = head, high = offsets.count
            while low < high {
                let mid = (low + high) / 2
                if offsets[mid] < offset { low = mid + 1 } else { high = mid }
            }
            return low
        }
    }
}
