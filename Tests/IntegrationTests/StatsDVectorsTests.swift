import Foundation
import Testing

/// The statsd daemon's own test vectors (test/process_metrics_tests.js and
/// the line handling of stats.js) fed as StatsD lines through `sluice run
/// --dry-run` on a topology that rolls them up in 100 ms windows (statsd's
/// test flush interval), as a user would check them. No services needed.
@Suite struct StatsDVectorsTests {
    static let topology = """
        application: statsd-vectors
        sources: [{ topics: [statsd], format: statsd }]
        destinations: { out: { topic: rollups } }
        steps:
          - if: '[metric] =~ /^top\\./'
            then:
              - { name: top, aggregate: { window: 100ms, percentiles: [-10, -20], to: out } }
            else:
              - if: '[metric] =~ /^hist\\./'
                then:
                  - name: histograms
                    aggregate:
                      window: 100ms
                      percentiles: []
                      histograms:
                        - { metric: foo, bins: [] }
                        - { metric: abcd, bins: [1, 5, inf] }
                        - { metric: abc, bins: [1, 2.21, inf] }
                        - { metric: a, bins: [1, 2] }
                      to: out
                else:
                  - if: '[metric] =~ /^calc\\./'
                    then:
                      - name: calculated
                        aggregate:
                          window: 100ms
                          percentiles: [90, 80]
                          timer_statistics: [count_percent, sum_percent, sum_squares_percent]
                          to: out
                    else:
                      - { name: flush, aggregate: { window: 100ms, percentiles: [90, 80], to: out } }
        """

    static let lines = """
        counter:2|c
        sampled:3|c|@0.1
        single:100|ms
        three:100|ms:200|ms
        three:300|ms
        even:300|ms\neven:200|ms\neven:400|ms\neven:100|ms
        sampled_timer:100|ms|@0.1\nsampled_timer:200|ms|@0.1\nsampled_timer:300|ms|@0.1
        top.single:100|ms
        top.many:10|ms\ntop.many:10|ms\ntop.many:10|ms\ntop.many:10|ms\ntop.many:10|ms\ntop.many:10|ms\ntop.many:10|ms\ntop.many:10|ms\ntop.many:100|ms\ntop.many:200|ms
        hist.a:1|ms\nhist.a:2|ms\nhist.a:3|ms\nhist.a:4|ms\nhist.a:5|ms\nhist.a:6|ms\nhist.a:7|ms\nhist.a:8|ms\nhist.a:9|ms\nhist.a:10|ms
        hist.abc:0.1234|ms\nhist.abc:2.89|ms\nhist.abc:4|ms\nhist.abc:6|ms\nhist.abc:8|ms
        hist.barbazfoobar:0|ms\nhist.barbazfoobar:2|ms
        calc.t:100|ms\ncalc.t:200|ms\ncalc.t:300|ms
        gauge:70|g\ngauge:+2|g\ngauge:-80|g
        fresh_gauge:-3|g
        uniques:a|s\nuniques:b|s\nuniques:a|s\nuniques:c|s\nuniques:b|s
        tagged:1|c|#env:prod,canary
        a b/c$%:1|c
        no_value
        bad_type:1|zz
        zero_rate:1|c|@0
        negative_time:-5|ms
        """

    /// The JSON objects `sluice run --dry-run` writes for `topology` fed `lines`.
    private func dryRun(_ topology: String, _ lines: String) throws -> [[String: Any]] {
        let directory = Services.temporaryDirectory()
        let file = directory + "/vectors.yaml", input = directory + "/vectors.txt", output = directory + "/out.jsonl"
        try topology.write(toFile: file, atomically: true, encoding: .utf8)
        try lines.write(toFile: input, atomically: true, encoding: .utf8)
        let child = try ChildProcess(binaryPath("sluice"), arguments: ["run", file, "--dry-run", "--input", input],
                                     environment: ProcessInfo.processInfo.environment, outputPath: output)
        #expect(child.waitUntilExit() == 0)
        return try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    /// Runs the vectors once; the rollups by metric name (with tags, as
    /// statsd keys them) and the dead letters' reasons.
    private func run() throws -> (rollups: [String: [String: Any]], reasons: [String]) {
        var rollups: [String: [String: Any]] = [:], reasons: [String] = []
        for object in try dryRun(Self.topology, Self.lines) {
            if let error = object["error"] as? [String: Any] {
                reasons.append(error["reason"] as! String)
                continue
            }
            let value = object["value"] as! [String: Any]
            let tags = (value["tags"] as? [String: Any])?.keys.sorted().joined(separator: ",") ?? ""
            rollups[(value["metric"] as! String) + (tags.isEmpty ? "" : "[\(tags)]")] = value
        }
        return (rollups, reasons)
    }

    /// The numeric fields of `rollup` that `want` names.
    private func pick(_ rollup: [String: Any]?, _ want: [String: Double]) -> [String: Double] {
        var out: [String: Double] = [:]
        for key in want.keys {
            if let n = rollup?[key] as? NSNumber { out[key] = n.doubleValue }
        }
        return out
    }

    @Test func countersTimersGaugesAndSetsMatchStatsdsFlush() throws {
        let (r, _) = try run()
        let cases: [(String, [String: Double])] = [
            ("counter", ["count": 2, "rate": 20]),
            ("sampled", ["count": 30, "rate": 300]),
            ("single", ["std": 0, "upper": 100, "lower": 100, "count": 1, "count_ps": 10, "sum": 100, "sum_squares": 10_000,
                        "mean": 100, "median": 100, "count_90": 1, "mean_90": 100, "upper_90": 100, "sum_90": 100,
                        "sum_squares_90": 10_000]),
            ("three", ["std": 81.64965809277261, "upper": 300, "lower": 100, "count": 3, "count_ps": 30, "sum": 600,
                       "sum_squares": 140_000, "mean": 200, "median": 200, "count_90": 3, "mean_90": 200, "upper_90": 300,
                       "sum_90": 600, "sum_squares_90": 140_000, "count_80": 2, "mean_80": 150, "upper_80": 200,
                       "sum_80": 300, "sum_squares_80": 50_000]),
            ("even", ["median": 250]),
            ("sampled_timer", ["count": 30, "count_ps": 300, "mean_90": 200, "upper_90": 300, "mean_80": 150, "upper_80": 200]),
            ("gauge", ["value": -8]),
            ("fresh_gauge", ["value": -3]),
            ("uniques", ["count": 3]),
        ]
        for (metric, want) in cases {
            #expect(pick(r[metric], want) == want, "\(metric): \(r[metric] ?? [:])")
        }
    }

    @Test func topPercentilesHistogramsAndCalculatedTimerMetricsMatchStatsd() throws {
        let (r, _) = try run()
        #expect(pick(r["top.single"], ["mean_top10": 100, "lower_top10": 100, "sum_top10": 100])
                == ["mean_top10": 100, "lower_top10": 100, "sum_top10": 100])
        let top20: [String: Double] = ["mean_top20": 150, "lower_top20": 100, "sum_top20": 300, "count_top20": 2]
        #expect(pick(r["top.many"], top20) == top20, "\(r["top.many"] ?? [:])")
        #expect(r["top.many"]?["upper_top20"] == nil)
        #expect(r["hist.a"]?["histogram"] as? [String: Int] == ["bin_1": 0, "bin_2": 1])
        #expect(r["hist.abc"]?["histogram"] as? [String: Int] == ["bin_1": 1, "bin_2_21": 0, "bin_inf": 4])
        #expect(r["hist.barbazfoobar"] != nil && r["hist.barbazfoobar"]?["histogram"] == nil,
                "a key containing foo (empty bins) before any other match gets no histogram")
        let calc = Set((r["calc.t"] ?? [:]).keys.filter { !["@timestamp", "metric", "type", "window"].contains($0) })
        #expect(calc == ["count_90", "sum_90", "sum_squares_90", "count_80", "sum_80", "sum_squares_80"])
    }

    /// statsd's graphite tests (test/graphite_tests.js, `legacyNamespace:
    /// false`, a 200 ms flush): the same packets, through a `graphite`
    /// destination, give the same lines.
    @Test func aGraphiteDestinationGetsTheLinesStatsdsGraphiteBackendSends() throws {
        let topology = """
            application: graphite-vectors
            sources: [{ topics: [statsd], format: statsd }]
            destinations: { carbon: { graphite: { address: '127.0.0.1:2003' } } }
            steps:
              - name: flush
                aggregate:
                  window: 200ms
                  percentiles: [90]
                  histograms: [{ metric: timer_value, bins: [1000] }]
                  to: carbon
            """
        let packets = """
            counter_value:100|c
            timer_value:100|ms
            sampled_timer:100|ms|@0.1
            gauge_value:70|g
            modified:50|g\nmodified:-3|g
            u:a|s\nu:b|s\nu:a|s
            fo/o:250|c\nb ar:250|c\nfoo+bar:250|c
            fo/o;tag1=val1:250|c\nb ar;tag1=val1;tag2=val2:250|c
            foo+bar:250|c|#tag1:val;1,tag3:val3,tag2:val2
            """
        var lines: [String: String] = [:]
        for object in try dryRun(topology, packets) {
            #expect(object["destination"] as? String == "carbon")
            for line in object["value"] as? [String] ?? [] {
                let parts = line.split(separator: " ")
                #expect(parts.count == 3 && parts[2] == "0", "name value seconds, stamped with the window's end: \(line)")
                lines[String(parts[0])] = String(parts[1])
            }
        }
        let expected = [
            "stats.counters.counter_value.rate": "500", "stats.counters.counter_value.count": "100",
            "stats.timers.timer_value.mean_90": "100", "stats.timers.timer_value.histogram.bin_1000": "1",
            "stats.timers.timer_value.count_ps": "5", "stats.timers.timer_value.count": "1",
            "stats.timers.sampled_timer.count_ps": "50", "stats.timers.sampled_timer.count": "10",
            "stats.gauges.gauge_value": "70", "stats.gauges.modified": "47", "stats.sets.u.count": "2",
            "stats.counters.fo-o.count": "250", "stats.counters.b_ar.count": "250",
            "stats.counters.fo-o.count;tag1=val1": "250", "stats.counters.b_ar.count;tag1=val1;tag2=val2": "250",
            "stats.counters.foobar.count;tag1=val_1;tag3=val3;tag2=val2": "250",
        ]
        for (name, value) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(lines[name] == value, "\(name) in \(lines.keys.sorted())")
        }
        #expect(lines["stats.counters.foobar.count"] == "250", "foo+bar sanitizes to foobar")
    }

    @Test func tagsAndSanitizingKeyMetricsAsStatsdDoesAndBadLinesAreDeadLetteredWithTheReason() throws {
        let (r, reasons) = try run()
        let tags = r["tagged[canary,env]"]?["tags"] as? [String: Any]
        #expect(tags?["env"] as? String == "prod" && tags?["canary"] as? Bool == true, "\(tags ?? [:])")
        #expect(pick(r["a_b-c"], ["count": 1]) == ["count": 1], "whitespace → _, / → -, other symbols removed: \(r.keys.sorted())")
        #expect(reasons.count == 4, "\(reasons)")
        for expected in ["no ':' between name and value", #"unknown metric type "zz""#, #"sample rate "@0""#,
                         #"timer value "-5" is not a number at or above 0"#] {
            #expect(reasons.contains { $0.contains(expected) }, "\(expected) in \(reasons)")
        }
    }
}
