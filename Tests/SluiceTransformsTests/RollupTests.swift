import Sluice
@testable import SluiceTransforms
import Testing

/// Rollup outputs, with the statsd daemon's graphite tests
/// (test/graphite_tests.js, `legacyNamespace: false`) reproduced: the
/// same packets, flush interval and names.
@Suite struct RollupTests {
    /// What statsd's graphite backend would send after one flush of
    /// `flushMilliseconds` in which `packets` arrived.
    private func graphite(_ packets: [String], flushMilliseconds: Int64 = 200,
                          options: TimerOptions = TimerOptions()) -> [String: Double] {
        var aggregates: [String: (MetricKind, String, MetricAggregate)] = [:]
        for packet in packets {
            for sample in StatsDLine.parse(packet).samples {
                let id = "\(sample.kind) \(sample.key)"
                var entry = aggregates[id] ?? (sample.kind, sample.key, MetricAggregate(kind: sample.kind))
                entry.2.add(sample)
                aggregates[id] = entry
            }
        }
        var lines: [String: Double] = [:]
        for (kind, key, aggregate) in aggregates.values {
            let rollup = Rollup(key: key, kind: kind, start: 0, end: flushMilliseconds,
                                fields: aggregate.fields(key: key, windowSeconds: Double(flushMilliseconds) / 1000, options: options))
            for line in rollup.graphiteLines() {
                let parts = line.split(separator: " ")
                lines[String(parts[0])] = Double(parts[1])
            }
        }
        return lines
    }

    @Test func countsAreValid() {
        let lines = graphite(["a_test_value:100|c"])
        #expect(lines["stats.counters.a_test_value.rate"] == 500)
        #expect(lines["stats.counters.a_test_value.count"] == 100)
    }

    @Test func timersAreValid() {
        let options = TimerOptions(percentiles: [90], histograms: [HistogramBins(metric: "a_test_value", bounds: [1000])])
        let lines = graphite(["a_test_value:100|ms"], options: options)
        #expect(lines["stats.timers.a_test_value.mean_90"] == 100)
        #expect(lines["stats.timers.a_test_value.histogram.bin_1000"] == 1)
        #expect(lines["stats.timers.a_test_value.count_ps"] == 5)
        #expect(lines["stats.timers.a_test_value.count"] == 1)
    }

    @Test func sampledTimersAreValid() {
        let lines = graphite(["a_test_value:100|ms|@0.1"])
        #expect(lines["stats.timers.a_test_value.count_ps"] == 50)
        #expect(lines["stats.timers.a_test_value.count"] == 10)
    }

    @Test func gaugesAreValid() {
        #expect(graphite(["a_test_value:70|g"])["stats.gauges.a_test_value"] == 70)
    }

    @Test func gaugeModificationsAreValid() {
        #expect(graphite(["test_value:50|g", "test_value:-3|g"])["stats.gauges.test_value"] == 47)
    }

    @Test func setsCountTheirMembers() {
        #expect(graphite(["u:a|s", "u:b|s", "u:a|s"])["stats.sets.u.count"] == 2)
    }

    @Test func metricNamesAreSanitized() {
        let names = graphite(["fo/o:250|c", "b ar:250|c", "foo+bar:250|c"]).keys
        #expect(names.contains("stats.counters.fo-o.count"))
        #expect(names.contains("stats.counters.b_ar.count"))
        #expect(names.contains("stats.counters.foobar.count"))
    }

    @Test func graphiteTagsAreSupported() {
        let names = graphite(["fo/o;tag1=val1:250|c", "b ar;tag1=val1;tag2=val2:250|c"]).keys
        #expect(names.contains("stats.counters.fo-o.count;tag1=val1"))
        #expect(names.contains("stats.counters.b_ar.count;tag1=val1;tag2=val2"))
    }

    @Test func dogstatsdTagsAreSupported() {
        let names = graphite(["fo/o:250|c|#tag1:val1", "foo+bar:250|c|#tag1:val;1,tag3:val3,tag2:val2"]).keys
        #expect(names.contains("stats.counters.fo-o.count;tag1=val1"))
        #expect(names.contains("stats.counters.foobar.count;tag1=val_1;tag3=val3;tag2=val2"))
    }

    @Test func graphiteLinesCarryTheWindowsEndInSeconds() {
        let rollup = Rollup(key: "a", kind: .gauge, start: 1_700_000_000_000, end: 1_700_000_010_000, fields: [MetricField("value", 0.5)])
        #expect(rollup.graphiteLines(prefix: "") == ["gauges.a 0.5 1700000010"])
    }

    @Test func statsdLinesCarryEachStatisticAsAGaugeWithDogStatsDTags() {
        let rollup = Rollup(key: "req;service=web;canary", kind: .counter, start: 0, end: 10_000,
                            fields: [MetricField("count", 3), MetricField("rate", 0.3)])
        #expect(rollup.statsdLines() == ["stats.counters.req.count:3|g|#service:web,canary",
                                         "stats.counters.req.rate:0.3|g|#service:web,canary"])
    }

    @Test func theDocumentHoldsMetricTagsWindowAndStatistics() {
        let rollup = Rollup(key: "nginx.duration_ms;service=web", kind: .timer, start: 1_700_000_000_000,
                            end: 1_700_000_010_000,
                            fields: [MetricField("count", 2), MetricField("mean", 12.5), MetricField("histogram.bin_10", 1)])
        let json = String(decoding: rollup.event.json(), as: UTF8.self)
        #expect(json == #"{"@timestamp":"2023-11-14T22:13:20.000Z","metric":"nginx.duration_ms","type":"timer","tags":{"service":"web"},"window":{"start":"2023-11-14T22:13:20.000Z","end":"2023-11-14T22:13:30.000Z","seconds":10},"count":2,"mean":12.5,"histogram":{"bin_10":1}}"#)
    }

    @Test func theDocumentIDDependsOnlyOnMetricKindAndWindow() {
        let a = Rollup(key: "m;t=1", kind: .counter, start: 10_000, end: 20_000, fields: [MetricField("count", 1)])
        var replay = a
        replay.fields = [MetricField("count", 7)]
        #expect(a.documentID == replay.documentID)
        #expect(a.documentID.count == 32)
        let others = [Rollup(key: "m;t=2", kind: .counter, start: 10_000, end: 20_000, fields: []),
                      Rollup(key: "m;t=1", kind: .gauge, start: 10_000, end: 20_000, fields: []),
                      Rollup(key: "m;t=1", kind: .counter, start: 20_000, end: 30_000, fields: [])]
        #expect(Set(others.map(\.documentID) + [a.documentID]).count == 4)
    }

    @Test func aKeyWithTagsReadsBackAsStatsdWritesIt() {
        let rollup = Rollup(key: "req;service=web;canary", kind: .counter, start: 0, end: 1, fields: [])
        #expect(rollup.name == "req")
        #expect(rollup.tags == [Rollup.Tag("service", "web"), Rollup.Tag("canary", nil)])
        #expect(rollup.key == "req;service=web;canary")
    }
}
