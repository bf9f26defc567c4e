import Foundation
import Sluice
import SluiceTransforms
import Testing

/// statsd's aggregation in windows of event time, run by the test driver.
@Suite struct StatsDWindowTests {
    private func topology(_ options: WindowedAggregateOptions) throws -> Topology {
        let builder = TopologyBuilder()
        builder.stream(["metrics"])
            .windowedAggregate(named: "rollup", store: "rollups", options: options, StatsDAggregator { record in
                StatsDLine.parse(String(decoding: record.value ?? [], as: UTF8.self)).samples
            })
            .to("rollups") { result in
                let metric = StatsDAggregator<[UInt8]?>.metric(of: result.key)
                let fields = result.aggregate.fields(key: metric.key, windowSeconds: Double(result.end - result.start) / 1000)
                    .filter { ["count", "value", "sum", "rate"].contains($0.name) }
                    .map { "\($0.name)=\($0.value)" }.joined(separator: ",")
                return Array("\(metric.key) \(metric.kind) \(result.start) \(fields)\(result.isFinal ? "" : " (update)")".utf8)
            }
        return try builder.build()
    }

    private func tumbling(_ seconds: Int64, grace: Int64 = 0) throws -> WindowedAggregateOptions {
        WindowedAggregateOptions(windows: try .tumbling(.seconds(seconds), grace: .seconds(grace)))
    }

    @Test func aWindowsResultsAreForwardedOnceWhenStreamTimeReachesItsEnd() throws {
        let driver = TopologyTestDriver(topology: try topology(tumbling(10)))
        try driver.pipe("metrics", value: "a:1|c\nt:5|ms", timestamp: 1_000)
        try driver.pipe("metrics", value: "a:2|c", timestamp: 9_999)
        #expect(driver.outputValues("rollups").isEmpty)
        try driver.pipe("metrics", value: "b:1|c", timestamp: 10_000)
        #expect(Set(driver.outputValues("rollups")) == ["a counter 0 count=3.0,rate=0.3", "t timer 0 count=1.0,sum=5.0"])
        try driver.pipe("metrics", value: "b:1|c", timestamp: 25_000)
        #expect(driver.outputValues("rollups").last == "b counter 10000 count=1.0,rate=0.1")
    }

    @Test func aWindowTakesRecordsUntilItsEndPlusGrace() throws {
        let driver = TopologyTestDriver(topology: try topology(tumbling(10, grace: 2)))
        try driver.pipe("metrics", value: "a:1|c", timestamp: 1_000)
        try driver.pipe("metrics", value: "a:1|c", timestamp: 11_000)
        try driver.pipe("metrics", value: "a:1|c", timestamp: 9_000)
        #expect(driver.outputValues("rollups").isEmpty)
        try driver.pipe("metrics", value: "a:1|c", timestamp: 12_000)
        #expect(driver.outputValues("rollups") == ["a counter 0 count=2.0,rate=0.2"])
    }

    @Test func aLateRecordIsCountedAndDeadLetteredWithTheReason() throws {
        let driver = TopologyTestDriver(topology: try topology(tumbling(10)))
        try driver.pipe("metrics", value: "a:1|c", timestamp: 1_000)
        try driver.pipe("metrics", value: "a:1|c", timestamp: 15_000)
        try driver.pipe("metrics", value: "a:5|c", timestamp: 3_000)
        #expect(driver.task(for: "metrics")?.lateCount == 1)
        let letter = try #require(driver.deadLetters.first)
        #expect(letter.value == Array("a:5|c".utf8))
        let reason = letter.headers.first { $0.key.contains("reason") }?.value.map { String(decoding: $0, as: UTF8.self) }
        #expect(reason?.contains("late record") == true, "\(letter.headers)")
        #expect(driver.outputValues("rollups") == ["a counter 0 count=1.0,rate=0.1"])
    }

    @Test func aLateRecordCanBeCountedWithoutDeadLettering() throws {
        var options = try tumbling(10)
        options.lateToDeadLetter = false
        let driver = TopologyTestDriver(topology: try topology(options))
        try driver.pipe("metrics", value: "a:1|c", timestamp: 15_000)
        try driver.pipe("metrics", value: "a:1|c", timestamp: 3_000)
        #expect(driver.task(for: "metrics")?.lateCount == 1)
        #expect(driver.deadLetters.isEmpty)
    }

    @Test func aRecordCountsInEveryHoppingWindowThatCoversIt() throws {
        let options = WindowedAggregateOptions(windows: try .hopping(.seconds(10), advance: .seconds(5)))
        let driver = TopologyTestDriver(topology: try topology(options))
        try driver.pipe("metrics", value: "a:1|c", timestamp: 7_000)
        try driver.pipe("metrics", value: "x:1|c", timestamp: 30_000)
        let a = driver.outputValues("rollups").filter { $0.hasPrefix("a ") }
        #expect(a == ["a counter 0 count=1.0,rate=0.1", "a counter 5000 count=1.0,rate=0.1"])
    }

    @Test func aGaugeCarriesItsValueIntoTheNextWindow() throws {
        let driver = TopologyTestDriver(topology: try topology(tumbling(10)))
        try driver.pipe("metrics", value: "g:10|g", timestamp: 1_000)
        try driver.pipe("metrics", value: "g:+5|g", timestamp: 11_000)
        try driver.pipe("metrics", value: "g:-1|g\ng:-1|g", timestamp: 31_000)
        try driver.pipe("metrics", value: "x:1|c", timestamp: 50_000)
        #expect(driver.outputValues("rollups").filter { $0.hasPrefix("g ") }
                == ["g gauge 0 value=10.0", "g gauge 10000 value=15.0", "g gauge 30000 value=13.0"])
    }

    @Test func aQuietPartitionsWindowsCloseAfterTheIdleTime() throws {
        var options = try tumbling(10)
        options.idleClose = .seconds(30)
        let driver = TopologyTestDriver(topology: try topology(options))
        try driver.pipe("metrics", value: "a:1|c", timestamp: 1_000)
        try driver.advanceWallClock(by: .seconds(29))
        #expect(driver.outputValues("rollups").isEmpty)
        try driver.advanceWallClock(by: .seconds(1))
        #expect(driver.outputValues("rollups") == ["a counter 0 count=1.0,rate=0.1"])
        try driver.pipe("metrics", value: "a:1|c", timestamp: 2_000)
        #expect(driver.task(for: "metrics")?.lateCount == 1, "the idle-closed window stays closed")
    }

    @Test func updateModeForwardsChangedWindowsAtMostOncePerIntervalAndTheFinalResult() throws {
        var options = try tumbling(10)
        options.emit = .update(every: .seconds(1))
        let driver = TopologyTestDriver(topology: try topology(options))
        try driver.pipe("metrics", value: "a:1|c", timestamp: 1_000)
        try driver.pipe("metrics", value: "a:1|c", timestamp: 2_000)
        try driver.advanceWallClock(by: .seconds(1))
        try driver.advanceWallClock(by: .seconds(1))
        try driver.pipe("metrics", value: "a:1|c", timestamp: 3_000)
        try driver.advanceWallClock(by: .seconds(1))
        try driver.pipe("metrics", value: "x:1|c", timestamp: 10_000)
        #expect(driver.outputValues("rollups").filter { $0.hasPrefix("a ") } == [
            "a counter 0 count=2.0,rate=0.2 (update)", "a counter 0 count=3.0,rate=0.3 (update)",
            "a counter 0 count=3.0,rate=0.3"])
    }

    @Test func aRestartedInstanceResumesItsOpenWindowsFromTheLocalStore() throws {
        let dir = NSTemporaryDirectory() + "sluice-windows-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = TopologyTestDriver(topology: try topology(tumbling(10)), stateDirectory: dir)
        try first.pipe("metrics", value: "a:1|c\ng:7|g", timestamp: 1_000)
        try first.pipe("metrics", value: "a:2|c", timestamp: 12_000)
        try first.pipe("metrics", value: "a:4|c", timestamp: 13_000)
        #expect(first.outputValues("rollups").count == 2)
        first.close()

        let second = TopologyTestDriver(topology: try topology(tumbling(10)), stateDirectory: dir)
        try second.pipe("metrics", value: "a:8|c\ng:+1|g", timestamp: 14_000)
        try second.pipe("metrics", value: "x:1|c", timestamp: 20_000)
        #expect(second.outputValues("rollups").sorted() == ["a counter 10000 count=14.0,rate=1.4", "g gauge 10000 value=8.0"])
        #expect(second.task(for: "metrics")?.statePosition == 5, "the second driver resumed at offset 3")
    }

    @Test func twoStepsCannotShareAStore() {
        let builder = TopologyBuilder()
        let stream = builder.stream(["metrics"])
        for name in ["one", "two"] {
            _ = try? stream.windowedAggregate(named: name, store: "rollups", options: tumbling(10),
                                              StatsDAggregator<[UInt8]?> { _ in [] })
        }
        #expect { try builder.build() } throws: { "\($0)".contains("state store rollups is used by both one and two") }
    }
}

extension StatsDWindowTests {
    @Test func aGaugeWindowOpenedDuringTheGraceOfThePreviousOneStartsFromItsValue() throws {
        let driver = TopologyTestDriver(topology: try topology(tumbling(10, grace: 5)))
        try driver.pipe("metrics", value: "g:10|g", timestamp: 1_000)
        try driver.pipe("metrics", value: "g:+5|g", timestamp: 11_000)
        try driver.pipe("metrics", value: "x:1|c", timestamp: 40_000)
        #expect(driver.outputValues("rollups").filter { $0.hasPrefix("g ") } == ["g gauge 0 value=10.0", "g gauge 10000 value=15.0"])
    }
}
