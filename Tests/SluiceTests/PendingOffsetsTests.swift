import SluiceKafka
import Testing
@testable import Sluice

@Suite struct PendingOffsetsTests {
    let tp = TopicPartition("in", 0)
    func at(_ offset: Int64, partition: Int32 = 0) -> Provenance { Provenance(topic: "in", partition: partition, offset: offset) }

    @Test func theFirstPendingOffsetStaysUntilItsItemCompletesWhateverCompletesAfterIt() {
        var pending = PendingOffsets()
        let tickets = (0..<4).map { pending.add(at($0)) }
        pending.complete(tickets[2])
        pending.complete(tickets[1])
        #expect(pending.first(of: tp) == 0)
        pending.complete(tickets[0])
        #expect(pending.first(of: tp) == 3, "0, 1 and 2 are all done")
        pending.complete(tickets[3])
        #expect(pending.first(of: tp) == nil)
        #expect(pending.isEmpty)
    }

    @Test func anOffsetWithSeveralItemsIsPendingUntilTheLastOneCompletes() {
        var pending = PendingOffsets()
        let first = pending.add(at(5))
        let second = pending.add(at(5))
        pending.complete(first)
        #expect(pending.first(of: tp) == 5)
        pending.complete(second)
        #expect(pending.first(of: tp) == nil)
    }

    @Test func partitionsAreTrackedApart() {
        var pending = PendingOffsets()
        let a = pending.add(at(9, partition: 0))
        _ = pending.add(at(2, partition: 1))
        pending.complete(a)
        #expect(pending.first(of: tp) == nil)
        #expect(pending.first(of: TopicPartition("in", 1)) == 2)
    }

    @Test func ticketsFromBeforeForgetAreIgnoredWhenTheyComplete() {
        var pending = PendingOffsets()
        let old = pending.add(at(3))
        pending.forget([tp])
        #expect(pending.first(of: tp) == nil)
        let replayed = pending.add(at(3))
        pending.complete(old)
        #expect(pending.first(of: tp) == 3, "the replayed item is still pending")
        pending.complete(replayed)
        #expect(pending.isEmpty)
    }

    @Test func anOlderOffsetAddedLateStillHoldsThePartitionBack() {
        var pending = PendingOffsets()
        let late = pending.add(at(8))
        _ = pending.add(at(4))
        #expect(pending.first(of: tp) == 4)
        pending.complete(late)
        #expect(pending.first(of: tp) == 4)
    }

    @Test func manyCompletionsInOrderKeepTheQueueSmall() {
        var pending = PendingOffsets()
        var tickets: [PendingOffsets.Ticket] = []
        for i in 0..<5000 { tickets.append(pending.add(at(Int64(i)))) }
        for t in tickets.prefix(4000) { pending.complete(t) }
        #expect(pending.first(of: tp) == 4000)
        for t in tickets.suffix(1000).reversed() { pending.complete(t) }
        #expect(pending.isEmpty)
    }
}
