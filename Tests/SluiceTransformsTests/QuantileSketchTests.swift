import Glibc
@testable import SluiceTransforms
import Testing

@Suite struct QuantileSketchTests {
    /// Durations spread over six decades, from a fixed seed.
    private func durations(_ n: Int, seed: UInt64) -> [Double] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let u = Double(state >> 11) / Double(1 << 53)
            return pow(10, u * 6 - 2)
        }
    }

    private func relativeError(_ a: Double, _ b: Double) -> Double { b == 0 ? abs(a) : abs(a - b) / abs(b) }

    @Test func aSketchedTimerReportsEveryStatisticWithinItsDocumentedBound() {
        let values = durations(50_000, seed: 7)
        var exact = TimerSamples(), sketched = TimerSamples()
        for v in values {
            exact.add(v, exactLimit: .max)
            sketched.add(v, exactLimit: 1_000)
        }
        #expect(exact.isExact && !sketched.isExact)
        let options = TimerOptions(percentiles: [50, 90, 99, 99.9, -10])
        let want = Dictionary(uniqueKeysWithValues: exact.statistics(key: "t", windowSeconds: 10, options: options)
            .map { ($0.name, $0.value) })
        let got = sketched.statistics(key: "t", windowSeconds: 10, options: options)
        #expect(got.map(\.name) == exact.statistics(key: "t", windowSeconds: 10, options: options).map(\.name))
        for field in got {
            let bound: Double = switch field.name {
            case let n where n.hasPrefix("count") || n == "lower" || n == "upper": 0
            case "sum", "sum_squares", "mean", "std": 1e-9
            case let n where n.hasPrefix("sum_squares_"): 0.0081
            default: QuantileSketch.relativeAccuracy
            }
            #expect(relativeError(field.value, want[field.name]!) <= bound, "\(field.name): \(field.value) vs \(want[field.name]!)")
        }
    }

    @Test func mergingTwoSketchesEqualsSketchingBothInputs() {
        let a = durations(5_000, seed: 1), b = durations(5_000, seed: 2)
        var left = QuantileSketch(), right = QuantileSketch(), both = QuantileSketch()
        for v in a { left.add(v); both.add(v) }
        for v in b { right.add(v); both.add(v) }
        left.merge(right)
        #expect(left.positive == both.positive && left.count == both.count)
        #expect(left.min == both.min && left.max == both.max)
        #expect(relativeError(left.sum, both.sum) < 1e-12)
    }

    @Test func zeroAndNegativeValuesKeepTheirOrder() {
        var samples = TimerSamples()
        for v in [-5.0, 0, 0, 3, -1, 8] { samples.add(v, exactLimit: 2) }
        let s = Dictionary(uniqueKeysWithValues: samples.statistics(key: "t", windowSeconds: 1, options: TimerOptions(percentiles: [50]))
            .map { ($0.name, $0.value) })
        #expect(s["lower"] == -5 && s["upper"] == 8 && s["count"] == 6)
        #expect(s["upper_50"] == 0 && s["median"] == 0)
    }
}
