@testable import SluiceTransforms
import Testing

@Suite struct AggregateCodecTests {
    private static func timer(exactLimit: Int) -> MetricAggregate {
        var t = MetricAggregate(kind: .timer)
        for v in [3.5, 0, 120, 7, 7, 1e6] { t.add(StatsDSample(key: "t", kind: .timer, value: v, sampleRate: 0.5), exactLimit: exactLimit) }
        return t
    }

    @Test(arguments: [MetricAggregate.counter(12.5), .gauge(-3), .set(["a", "b", "ü"]), .set([]),
                      timer(exactLimit: 100), timer(exactLimit: 2), .timer(TimerSamples())])
    func anAggregateReadsBackAsItWasWritten(_ aggregate: MetricAggregate) throws {
        #expect(try MetricAggregate(encoded: aggregate.encoded) == aggregate)
    }

    @Test func aSketchedTimerReadsBackWithTheSameStatistics() throws {
        let t = Self.timer(exactLimit: 2)
        let back = try MetricAggregate(encoded: t.encoded)
        #expect(back.fields(key: "t", windowSeconds: 10) == t.fields(key: "t", windowSeconds: 10))
    }

    @Test(arguments: [[], [9], [1], [1, 7], [1, 0, 1, 2, 3], [1, 3, 255, 255, 255, 255, 255, 255, 255, 127]])
    func bytesSluiceDidNotWriteAreRefused(_ bytes: [UInt8]) {
        #expect(throws: StateDecodingError.self) { try MetricAggregate(encoded: bytes) }
    }

    @Test func trailingBytesAreRefused() {
        #expect(throws: StateDecodingError.self) { try MetricAggregate(encoded: MetricAggregate.counter(1).encoded + [0]) }
    }
}
