@testable import SluiceTransforms
import Testing

/// The statsd daemon's `process_metrics` test vectors (test/process_metrics_tests.js),
/// with its flush interval as the window.
@Suite struct StatsDAggregateTests {
    private func timer(_ values: [Double], count: Double? = nil) -> TimerSamples {
        TimerSamples(count: count ?? Double(values.count), values: values, sketch: nil)
    }

    private func stats(_ samples: TimerSamples, key: String = "a", seconds: Double = 0.1,
                       _ options: TimerOptions = TimerOptions(percentiles: [])) -> [String: Double] {
        Dictionary(uniqueKeysWithValues: samples.statistics(key: key, windowSeconds: seconds, options: options)
            .map { ($0.name, $0.value) })
    }

    /// The fields of `s` that `want` names.
    private func pick(_ s: [String: Double], _ want: [String: Double]) -> [String: Double] {
        s.filter { want[$0.key] != nil }
    }

    @Test func aCounterReportsItsCountAndItsRatePerSecondOfTheWindow() {
        var counter = MetricAggregate(kind: .counter)
        counter.add(StatsDSample(key: "a", kind: .counter, value: 2))
        #expect(counter.fields(key: "a", windowSeconds: 1) == [MetricField("count", 2), MetricField("rate", 2)])
        #expect(counter.fields(key: "a", windowSeconds: 0.1)[1] == MetricField("rate", 20))
    }

    @Test func aSampledCounterCountsEachSampleAsOneOverItsRate() {
        var counter = MetricAggregate(kind: .counter)
        counter.add(StatsDSample(key: "a", kind: .counter, value: 3, sampleRate: 0.1))
        #expect(counter.fields(key: "a", windowSeconds: 2) == [MetricField("count", 30), MetricField("rate", 15)])
    }

    @Test func aSingleTimeIsItsOwnEveryStatistic() {
        let s = stats(timer([100], count: 1))
        #expect(s == ["std": 0, "upper": 100, "lower": 100, "count": 1, "count_ps": 10, "sum": 100,
                      "sum_squares": 10_000, "mean": 100, "median": 100])
    }

    @Test func multipleTimesGiveStatsdsPopulationDeviationMeanAndMedian() {
        let s = stats(timer([100, 200, 300]))
        #expect(s["std"] == 81.64965809277261)
        let want: [String: Double] = ["upper": 300, "lower": 100, "count": 3, "count_ps": 30, "sum": 600,
                                      "sum_squares": 140_000, "mean": 200, "median": 200]
        #expect(pick(s, want) == want)
    }

    @Test func anEvenNumberOfTimesHasTheMeanOfTheMiddleTwoAsMedian() {
        #expect(stats(timer([300, 200, 400, 100]))["median"] == 250)
    }

    @Test func aSingleTimeFillsEachPercentileWithItself() {
        let s = stats(timer([100]), TimerOptions(percentiles: [90, 80]))
        for p in ["90", "80"] {
            let want: [String: Double] = ["count_\(p)": 1, "mean_\(p)": 100, "upper_\(p)": 100, "sum_\(p)": 100,
                                          "sum_squares_\(p)": 10_000]
            #expect(pick(s, want) == want)
        }
    }

    @Test func percentilesTakeTheNearestRankOfTheSortedTimes() {
        let s = stats(timer([100, 200, 300]), TimerOptions(percentiles: [90, 80]))
        let want: [String: Double] = [
            "count": 3, "count_90": 3, "mean_90": 200, "upper_90": 300, "sum_90": 600, "sum_squares_90": 140_000,
            "count_80": 2, "mean_80": 150, "upper_80": 200, "sum_80": 300, "sum_squares_80": 50_000]
        #expect(pick(s, want) == want)
    }

    @Test func sampledTimesCorrectTheCountButNotThePercentiles() {
        let s = stats(timer([100, 200, 300], count: 50), TimerOptions(percentiles: [90, 80]))
        let want: [String: Double] = ["count": 50, "count_ps": 500, "mean_90": 200, "upper_90": 300, "sum_90": 600,
                                      "mean_80": 150, "upper_80": 200, "sum_80": 300]
        #expect(pick(s, want) == want)
    }

    @Test func aTopPercentileReportsTheLargestValuesWithTheirLowerBound() {
        let single = stats(timer([100]), TimerOptions(percentiles: [-10]))
        let one: [String: Double] = ["mean_top10": 100, "lower_top10": 100, "sum_top10": 100]
        #expect(pick(single, one) == one)
        let many = stats(timer([10, 10, 10, 10, 10, 10, 10, 10, 100, 200]), TimerOptions(percentiles: [-20]))
        let top: [String: Double] = ["mean_top20": 150, "lower_top20": 100, "sum_top20": 300, "count_top20": 2]
        #expect(pick(many, top) == top)
        #expect(many["upper_top20"] == nil)
    }

    @Test func aPercentileBelowOneRankIsLeftOut() {
        let s = stats(timer([1, 2, 3]), TimerOptions(percentiles: [10]))
        #expect(s["count_10"] == nil && s["upper_10"] == nil && s["mean"] == 2)
    }

    @Test func aFractionalPercentileIsNamedWithAnUnderscore() {
        let s = stats(timer(Array(stride(from: 1.0, through: 1000, by: 1))), TimerOptions(percentiles: [99.9]))
        #expect(s["upper_99_9"] == 999 && s["count_99_9"] == 999)
    }

    @Test func histogramsApplyTheFirstBinsWhoseMetricIsPartOfTheKey() {
        let bins = [HistogramBins(metric: "foo", bounds: []), HistogramBins(metric: "abcd", bounds: [1, 5, .infinity]),
                    HistogramBins(metric: "abc", bounds: [1, 2.21, .infinity]), HistogramBins(metric: "a", bounds: [1, 2])]
        let options = TimerOptions(percentiles: [], histograms: bins)
        let a = stats(timer([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), key: "a", options)
        #expect(a["histogram.bin_1"] == 0 && a["histogram.bin_2"] == 1)
        #expect(a["histogram.bin_5"] == nil && a["histogram.bin_inf"] == nil)
        let abc = stats(timer([0.1234, 2.89, 4, 6, 8]), key: "abc", options)
        #expect(abc.filter { $0.key.hasPrefix("histogram.") } == ["histogram.bin_1": 1, "histogram.bin_2_21": 0,
                                                                  "histogram.bin_inf": 4])
        // Each of these contains "foo" (whose bins are empty) before any other match, or matches nothing.
        for key in ["foo", "barbazfoobar", "bar.bazfoobar.abc", "xyz"] {
            #expect(!stats(timer([0, 2, 4, 6, 8]), key: key, options).keys.contains { $0.hasPrefix("histogram") })
        }
    }

    @Test(arguments: [
        (["upper", "lower", "count", "count_ps", "sum", "sum_squares", "mean", "median"], 8),
        (["upper", "lower", "count_ps", "sum_squares"], 4),
    ])
    func calculatedTimerMetricsKeepOnlyTheNamedStatistics(_ only: [String], _ kept: Int) {
        let s = stats(timer([100], count: 1), TimerOptions(percentiles: [], only: Set(only)))
        #expect(s.count == kept && s["std"] == nil && Set(s.keys) == Set(only))
    }

    @Test func calculatedTimerMetricsNamePercentileStatisticsWithPercent() {
        let options = TimerOptions(percentiles: [90, 80], only: ["count_percent", "sum_percent", "sum_squares_percent"])
        let s = stats(timer([100, 200, 300]), options)
        #expect(Set(s.keys) == ["count_90", "sum_90", "sum_squares_90", "count_80", "sum_80", "sum_squares_80"])
        let top = stats(timer([10, 10, 10, 10, 10, 10, 10, 10, 100, 200]),
                        TimerOptions(percentiles: [-20], only: ["mean_percent", "sum_percent"]))
        #expect(top == ["mean_top20": 150, "sum_top20": 300])
        let histogram = stats(timer([1, 2, 3]), TimerOptions(percentiles: [], histograms: [HistogramBins(metric: "a", bounds: [2])],
                                                              only: ["histogram", "median"]))
        #expect(histogram == ["histogram.bin_2": 1, "median": 2])
    }

    @Test func aGaugeTakesTheLastValueAndDeltasChangeTheValueCarriedIn() {
        var gauge = MetricAggregate(kind: .gauge, carriedGauge: 70)
        gauge.add(StatsDSample(key: "g", kind: .gauge, value: 2, isDelta: true))
        #expect(gauge == .gauge(72))
        gauge.add(StatsDSample(key: "g", kind: .gauge, value: -80, isDelta: true))
        #expect(gauge.fields(key: "g", windowSeconds: 10) == [MetricField("value", -8)])
        gauge.add(StatsDSample(key: "g", kind: .gauge, value: 5))
        #expect(gauge == .gauge(5))
        var fresh = MetricAggregate(kind: .gauge)
        fresh.add(StatsDSample(key: "g", kind: .gauge, value: -3, isDelta: true))
        #expect(fresh == .gauge(-3))
    }

    @Test func aSetCountsUniqueMembers() {
        var set = MetricAggregate(kind: .set)
        for member in ["a", "b", "a", "c", "b"] { set.add(StatsDSample(key: "s", kind: .set, value: 0, member: member)) }
        #expect(set.fields(key: "s", windowSeconds: 10) == [MetricField("count", 3)])
    }
}
