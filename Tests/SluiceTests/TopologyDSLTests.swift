import Sluice
import SluiceKafka
import Testing

/// The DSL operators, through the test driver.
@Suite struct TopologyDSLTests {
    private func text(_ r: Record<[UInt8]?>) -> String { String(decoding: r.value ?? [], as: UTF8.self) }

    @Test func filterKeepsOnlyRecordsMatchingThePredicateAndFilterNotTheOthers() throws {
        let b = TopologyBuilder()
        let s = b.stream(["in"])
        s.filter { String(decoding: $0.value ?? [], as: UTF8.self).hasPrefix("a") }.to("kept")
        s.filterNot { String(decoding: $0.value ?? [], as: UTF8.self).hasPrefix("a") }.to("rest")
        let driver = TopologyTestDriver(topology: try b.build())
        for v in ["apple", "banana", "avocado"] { try driver.pipe("in", value: v) }
        #expect(driver.outputValues("kept") == ["apple", "avocado"])
        #expect(driver.outputValues("rest") == ["banana"])
    }

    @Test func mapValuesChangesTheValueAndKeepsKeyHeadersAndTimestamp() throws {
        let b = TopologyBuilder()
        b.stream(["in"]).mapValues { Array(String(decoding: $0.value ?? [], as: UTF8.self).uppercased().utf8) }.to("out")
        let driver = TopologyTestDriver(topology: try b.build())
        try driver.pipe("in", key: "k1", value: "hello", headers: [KafkaHeader("h", "v")], timestamp: 1234)
        let out = try #require(driver.output("out").first)
        #expect(out.value == Array("HELLO".utf8))
        #expect(out.key == Array("k1".utf8))
        #expect(out.headers == [KafkaHeader("h", "v")])
        #expect(out.timestamp == 1234)
    }

    @Test func mapReplacesTheWholeRecord() throws {
        let b = TopologyBuilder()
        b.stream(["in"]).map { r -> Record<[UInt8]?> in
            Record(key: Array("new".utf8), value: r.value, headers: [], timestamp: r.timestamp + 1)
        }.to("out")
        let driver = TopologyTestDriver(topology: try b.build())
        try driver.pipe("in", key: "old", value: "v", timestamp: 10)
        #expect(driver.output("out").map(\.key) == [Array("new".utf8)])
        #expect(driver.output("out").map(\.timestamp) == [11])
    }

    @Test func flatMapEmitsZeroOrMoreRecordsPerInput() throws {
        let b = TopologyBuilder()
        b.stream(["in"]).flatMap { r in
            String(decoding: r.value ?? [], as: UTF8.self).split(separator: " ").map { r.withValue(Optional(Array($0.utf8))) }
        }.to("words")
        let driver = TopologyTestDriver(topology: try b.build())
        try driver.pipe("in", value: "a b c")
        try driver.pipe("in", value: "")
        #expect(driver.outputValues("words") == ["a", "b", "c"])
    }

    @Test func selectKeyReplacesTheKeyOnly() throws {
        let b = TopologyBuilder()
        b.stream(["in"]).selectKey { $0.value.map { Array($0.prefix(1)) } }.to("out")
        let driver = TopologyTestDriver(topology: try b.build())
        try driver.pipe("in", key: "x", value: "zeta")
        #expect(driver.output("out").first?.key == Array("z".utf8))
        #expect(driver.outputValues("out") == ["zeta"])
    }

    @Test func peekSeesEveryRecordAndPassesItOnUnchanged() throws {
        let seen = Box()
        let b = TopologyBuilder()
        b.stream(["in"]).peek { seen.append(String(decoding: $0.value ?? [], as: UTF8.self)) }.to("out")
        let driver = TopologyTestDriver(topology: try b.build())
        try driver.pipe("in", value: "one")
        try driver.pipe("in", value: "two")
        #expect(seen.values == ["one", "two"])
        #expect(driver.outputValues("out") == ["one", "two"])
    }

    @Test func mergeCombinesTheRecordsOfBothStreams() throws {
        let b = TopologyBuilder()
        let a = b.stream(["a"])
        let c = b.stream(["c"])
        a.merge(c).to("both")
        let driver = TopologyTestDriver(topology: try b.build())
        try driver.pipe("a", value: "1")
        try driver.pipe("c", value: "2")
        try driver.pipe("a", value: "3")
        #expect(driver.outputValues("both") == ["1", "2", "3"])
    }

    @Test func splitSendsEachRecordToTheFirstMatchingBranchElseTheDefault() throws {
        let b = TopologyBuilder()
        let branches = b.stream(["in"]).mapValues { Int(String(decoding: $0.value ?? [], as: UTF8.self))! }
            .split(named: "size")
            .branch("big") { $0.value >= 100 }
            .branch("even") { $0.value % 2 == 0 }
            .defaultBranch("rest")
        for (name, stream) in branches { stream.to(name) { Array(String($0).utf8) } }
        let driver = TopologyTestDriver(topology: try b.build())
        for v in [200, 4, 7, 102, 9] { try driver.pipe("in", value: String(v)) }
        #expect(driver.outputValues("big") == ["200", "102"])
        #expect(driver.outputValues("even") == ["4"])
        #expect(driver.outputValues("rest") == ["7", "9"])
    }

    @Test func splitWithoutDefaultBranchDropsRecordsMatchingNoBranch() throws {
        let b = TopologyBuilder()
        let branches = b.stream(["in"]).split().branch("x") { $0.value?.first == UInt8(ascii: "x") }.noDefaultBranch()
        branches["x"]!.to("x")
        let driver = TopologyTestDriver(topology: try b.build())
        try driver.pipe("in", value: "xa")
        try driver.pipe("in", value: "ya")
        #expect(driver.outputValues("x") == ["xa"])
        #expect(driver.outputTopics == ["x"])
    }

    @Test func toWithAChooserWritesEachRecordToTheTopicItNames() throws {
        let b = TopologyBuilder()
        b.stream(["in"]).to(topic: { "out-\($0.keyString ?? "none")" })
        let driver = TopologyTestDriver(topology: try b.build())
        try driver.pipe("in", key: "a", value: "1")
        try driver.pipe("in", key: "b", value: "2")
        try driver.pipe("in", value: "3")
        #expect(driver.outputTopics == ["out-a", "out-b", "out-none"])
    }

    @Test func tombstonesFlowThroughAsNilValues() throws {
        let b = TopologyBuilder()
        b.stream(["in"]).to("out")
        let driver = TopologyTestDriver(topology: try b.build())
        try driver.pipe("in", key: Array("k".utf8), value: nil)
        #expect(driver.output("out").count == 1)
        #expect(driver.output("out").first?.value == nil)
    }

    @Test func patternSourcesReadEveryMatchingTopic() throws {
        let b = TopologyBuilder()
        b.stream(["^logs-.*"]).to("all")
        let driver = TopologyTestDriver(topology: try b.build())
        try driver.pipe("logs-a", value: "1")
        try driver.pipe("logs-b", value: "2")
        #expect(driver.outputValues("all") == ["1", "2"])
        #expect(throws: TopologyError.self) { try driver.pipe("metrics", value: "3") }
    }

    @Test func provenanceNamesTheInputTopicPartitionAndOffset() throws {
        let seen = Box()
        let b = TopologyBuilder()
        b.stream(["in"]).mapValues { $0.value }.peek { seen.append("\($0.provenance!)") }.to("out")
        let driver = TopologyTestDriver(topology: try b.build())
        try driver.pipe("in", partition: 3, value: "a")
        try driver.pipe("in", partition: 3, value: "b")
        try driver.pipe("in", partition: 1, value: "c")
        #expect(seen.values == ["in-3@0", "in-3@1", "in-1@0"])
    }

    @Test func buildRejectsATopicReadTwiceDuplicateNamesAndNoSource() {
        let twice = TopologyBuilder()
        twice.stream(["t"]).to("x")
        twice.stream(["t"]).to("y")
        #expect(throws: TopologyError.self) { try twice.build() }

        let dup = TopologyBuilder()
        dup.stream(["t"], named: "n").filter(named: "n") { _ in true }.to("x")
        #expect(throws: TopologyError.self) { try dup.build() }

        #expect(throws: TopologyError.self) { try TopologyBuilder().build() }
    }

    @Test func descriptionListsNodesTopicsAndChildren() throws {
        let b = TopologyBuilder()
        b.stream(["in"], named: "src").filter(named: "keep") { _ in true }.to("out", named: "sink")
        let text = try b.build().description
        #expect(text.contains("source src topics: in --> keep"))
        #expect(text.contains("sink sink -> topic out"))
    }
}

/// Collects strings from closures that run on the test's thread.
final class Box: @unchecked Sendable {
    var values: [String] = []
    func append(_ s: String) { values.append(s) }
}
