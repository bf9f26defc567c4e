import Sluice
import SluiceKafka
import Testing

/// Custom processors, punctuation and dead-lettering, through the test driver.
@Suite struct ProcessorAPITests {
    /// Counts records and emits the count on each punctuation.
    final class Counter: Processor {
        let type: PunctuationType
        var context: ProcessorContext<[UInt8]?>!
        var count = 0
        var handle: Cancellable?
        init(_ type: PunctuationType) { self.type = type }

        func initialize(context: ProcessorContext<[UInt8]?>) throws {
            self.context = context
            handle = context.schedule(every: .seconds(10), type: type) { [unowned self] time in
                try self.context.forward(Record(key: nil, value: Array("\(time):\(self.count)".utf8), timestamp: time))
            }
        }

        func process(_ record: Record<[UInt8]?>) throws {
            count += 1
            if record.value == Array("stop".utf8) { handle?.cancel() }
        }
    }

    private func driver(_ type: PunctuationType) throws -> TopologyTestDriver {
        let b = TopologyBuilder()
        b.stream(["in"]).process { Counter(type) }.to("ticks")
        return TopologyTestDriver(topology: try b.build(), wallClockStart: 1_000_000)
    }

    @Test func streamTimePunctuationFiresWhenRecordTimestampsPassTheInterval() throws {
        let d = try driver(.streamTime)
        try d.pipe("in", value: "a", timestamp: 0)
        try d.pipe("in", value: "b", timestamp: 9_999)
        #expect(d.outputValues("ticks").isEmpty)
        try d.pipe("in", value: "c", timestamp: 10_000)
        #expect(d.outputValues("ticks") == ["10000:3"])
    }

    @Test func streamTimePunctuationFiresOnceWhenTimeJumpsSeveralIntervals() throws {
        let d = try driver(.streamTime)
        try d.pipe("in", value: "a", timestamp: 0)
        try d.pipe("in", value: "b", timestamp: 55_000)
        #expect(d.outputValues("ticks") == ["55000:2"])
        try d.pipe("in", value: "c", timestamp: 64_999)
        try d.pipe("in", value: "d", timestamp: 65_000)
        #expect(d.outputValues("ticks") == ["55000:2", "65000:4"])
    }

    @Test func streamTimeNeverMovesBackwardsOnOutOfOrderRecords() throws {
        let d = try driver(.streamTime)
        try d.pipe("in", value: "a", timestamp: 20_000)
        try d.pipe("in", value: "late", timestamp: 5_000)
        #expect(d.task(for: "in")?.streamTime == 20_000)
    }

    @Test func wallClockPunctuationFiresWhenTheClockAdvancesWithoutRecords() throws {
        let d = try driver(.wallClockTime)
        try d.pipe("in", value: "a", timestamp: 0)
        try d.advanceWallClock(by: .seconds(9))
        #expect(d.outputValues("ticks").isEmpty)
        try d.advanceWallClock(by: .seconds(1))
        #expect(d.outputValues("ticks") == ["1010000:1"])
        try d.advanceWallClock(by: .seconds(10))
        #expect(d.outputValues("ticks") == ["1010000:1", "1020000:1"])
    }

    @Test func aCancelledPunctuationNeverFiresAgain() throws {
        let d = try driver(.wallClockTime)
        try d.pipe("in", value: "stop", timestamp: 0)
        try d.advanceWallClock(by: .seconds(60))
        #expect(d.outputValues("ticks").isEmpty)
    }

    /// Routes records to a named child.
    final class Router: Processor {
        var context: ProcessorContext<[UInt8]?>!
        func initialize(context: ProcessorContext<[UInt8]?>) throws { self.context = context }
        func process(_ record: Record<[UInt8]?>) throws {
            try context.forward(record, to: record.value?.first == UInt8(ascii: "a") ? "to-a" : "to-b")
        }
    }

    @Test func aProcessorCanForwardToOneNamedChild() throws {
        let b = TopologyBuilder()
        let routed = b.stream(["in"]).process(named: "router") { Router() }
        routed.to("a", named: "to-a")
        routed.to("b", named: "to-b")
        let d = TopologyTestDriver(topology: try b.build())
        try d.pipe("in", value: "apple")
        try d.pipe("in", value: "berry")
        #expect(d.outputValues("a") == ["apple"])
        #expect(d.outputValues("b") == ["berry"])
    }

    struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }

    @Test func aRecordWhoseProcessingThrowsGoesToTheDeadLetterTopicWithItsProvenanceAndProcessingContinues() throws {
        let b = TopologyBuilder()
        b.stream(["in"]).mapValues(named: "explode") { r -> [UInt8]? in
            if r.value == Array("bad".utf8) { throw Boom() }
            return r.value
        }.to("out")
        let d = TopologyTestDriver(topology: try b.build(), applicationID: "app")
        try d.pipe("in", partition: 2, key: "k", value: "good", headers: [KafkaHeader("trace", "t1")])
        try d.pipe("in", partition: 2, key: "k", value: "bad", headers: [KafkaHeader("trace", "t2")], timestamp: 77)
        try d.pipe("in", partition: 2, key: "k", value: "fine")
        #expect(d.outputValues("out") == ["good", "fine"])
        let dead = try #require(d.output("app-dlq").first)
        #expect(d.output("app-dlq").count == 1)
        #expect(dead.value == Array("bad".utf8))
        #expect(dead.key == Array("k".utf8))
        #expect(dead.timestamp == 77)
        #expect(dead.headers.string("trace") == "t2")
        #expect(dead.headers.string(DeadLetterHeader.reason) == "boom")
        #expect(dead.headers.string(DeadLetterHeader.errorType) == "Boom")
        #expect(dead.headers.string(DeadLetterHeader.processor) == "explode")
        #expect(dead.headers.string(DeadLetterHeader.sourceTopic) == "in")
        #expect(dead.headers.string(DeadLetterHeader.sourcePartition) == "2")
        #expect(dead.headers.string(DeadLetterHeader.sourceOffset) == "1")
        #expect(d.task(for: "in", partition: 2)?.nextOffset == 3)
        #expect(d.task(for: "in", partition: 2)?.deadLetterCount == 1)
    }

    @Test func theDeadLetterHeaderNamesTheNodeThatThrewNotItsAncestors() throws {
        let b = TopologyBuilder()
        b.stream(["in"]).filter(named: "first") { _ in true }.filter(named: "second") { _ in throw Boom() }.to("out")
        let d = TopologyTestDriver(topology: try b.build())
        try d.pipe("in", value: "x")
        #expect(d.deadLetters.first?.headers.string(DeadLetterHeader.processor) == "second")
    }

    /// A value the stream builds per record; a probe asks whether its record holds it alone.
    final class Payload: Sendable {
        let text: String
        init(_ text: String) { self.text = text }
    }

    /// Records, for each record it takes, whether no one else holds its
    /// value. (Unchecked: the test driver runs it on the test's thread.)
    final class UniquenessProbe: Processor, @unchecked Sendable {
        var unshared: [Bool] = []
        var context: ProcessorContext<String>!

        func initialize(context: ProcessorContext<String>) throws { self.context = context }

        func process(_ record: consuming Record<Payload>) throws {
            unshared.append(isKnownUniquelyReferenced(&record.value))
            try context.forward(record.withValue(record.value.text))
        }
    }

    @Test func aProcessorDownstreamOfAMapTakesItsRecordOverUnshared() throws {
        // A chain moves each record on: a processor that changes the value a
        // parent built changes it in place, with no copy left upstream.
        let probe = UniquenessProbe()
        let b = TopologyBuilder()
        let branches = b.stream(["in"])
            .mapValues { Payload(String(decoding: $0.value ?? [], as: UTF8.self)) }
            .filter { !$0.value.text.isEmpty }
            .peek { _ in }
            .split()
            .branch("short") { $0.value.text.count < 4 }
            .defaultBranch("long")
        for name in ["short", "long"] {
            branches[name]!.process(named: "probe-\(name)") { probe }.to("out") { Array($0.utf8) }
        }
        let d = TopologyTestDriver(topology: try b.build())
        for value in ["a", "bbbbbb", "cc"] { try d.pipe("in", value: value) }
        #expect(probe.unshared == [true, true, true])
        #expect(d.outputValues("out") == ["a", "bbbbbb", "cc"])
    }

    @Test func aStreamWithTwoChildrenGivesEachTheRecordAndTheLastTakesItOver() throws {
        let first = UniquenessProbe(), last = UniquenessProbe()
        let b = TopologyBuilder()
        let payloads = b.stream(["in"]).mapValues { Payload(String(decoding: $0.value ?? [], as: UTF8.self)) }
        payloads.process(named: "first") { first }.to("first") { Array($0.utf8) }
        payloads.process(named: "last") { last }.to("last") { Array($0.utf8) }
        let d = TopologyTestDriver(topology: try b.build())
        try d.pipe("in", value: "x")
        #expect(d.outputValues("first") == ["x"])
        #expect(d.outputValues("last") == ["x"])
        #expect(first.unshared == [false])
        #expect(last.unshared == [true])
    }

    @Test func replacingARecordsValueKeepsItsKeyHeadersTimestampAndProvenance() {
        let source = Provenance(topic: "in", partition: 3, offset: 42)
        let record = Record(key: Array("k".utf8), value: 7, headers: [KafkaHeader("h", "v")], timestamp: 99, provenance: source)
        let replaced = record.replacingValue(with: "seven")
        #expect(replaced.value == "seven")
        #expect(replaced.key == Array("k".utf8))
        #expect(replaced.headers == [KafkaHeader("h", "v")])
        #expect(replaced.timestamp == 99)
        #expect(replaced.provenance == source)
    }
}
