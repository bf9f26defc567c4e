import Testing
@testable import SluiceKafka

@Suite struct DeliveryEpochsTests {
    @Test func anEpochIsAcknowledgedOnlyWhenItAndEveryEarlierOneIsFullyDelivered() {
        var epochs = DeliveryEpochs()
        let first = epochs.current
        epochs.sent(); epochs.sent()
        #expect(epochs.close() == first)
        let second = epochs.current
        epochs.sent()
        #expect(epochs.close() == second)
        #expect(epochs.acknowledged() == first - 1)
        epochs.delivered(epoch: second)
        #expect(epochs.acknowledged() == first - 1, "the second epoch waits for the first")
        epochs.delivered(epoch: first)
        #expect(epochs.acknowledged() == first - 1, "one record of the first is still out")
        epochs.delivered(epoch: first)
        #expect(epochs.acknowledged() == second)
    }

    @Test func theOpenEpochIsNeverAcknowledged() {
        var epochs = DeliveryEpochs()
        let open = epochs.current
        #expect(epochs.acknowledged() < open)
        #expect(epochs.close() == open)
        #expect(epochs.acknowledged() == open, "an empty closed epoch is acknowledged at once")
    }

    @Test func anUndeliveredRecordHoldsEveryLaterEpochBack() {
        var epochs = DeliveryEpochs()
        let first = epochs.current
        epochs.sent()
        _ = epochs.close()
        for _ in 0..<5 { _ = epochs.close() }
        #expect(epochs.acknowledged() == first - 1)
    }

    @Test func deliveriesInterleavedAcrossEpochsAndBeforeTheirEpochClosesAreEachCountedOnce() {
        var epochs = DeliveryEpochs()
        let first = epochs.current
        for _ in 0..<3 { epochs.sent() }
        epochs.delivered(epoch: first) // before its epoch closes
        #expect(epochs.close() == first)
        let second = epochs.current
        for _ in 0..<2 { epochs.sent() }
        epochs.delivered(epoch: second)
        epochs.delivered(epoch: first)
        epochs.delivered(epoch: second)
        #expect(epochs.close() == second)
        #expect(epochs.acknowledged() == first - 1, "one record of the first is still out")
        epochs.delivered(epoch: first)
        #expect(epochs.acknowledged() == second)
        #expect(epochs.acknowledged() == second, "asking again changes nothing")
    }
}
