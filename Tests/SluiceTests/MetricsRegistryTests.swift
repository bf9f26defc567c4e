import Testing
@testable import Sluice

/// What components register is served in Prometheus' text format.
@Suite struct MetricsRegistryTests {
    @Test func theSameNameAndLabelsGiveTheSameSeriesAndEachFamilyIsDescribedOnce() {
        let registry = MetricsRegistry()
        registry.counter("sluice_x_total", help: "Things.", labels: [("sink", "a")]).add(2)
        registry.counter("sluice_x_total", help: "Things.", labels: [("sink", "a")]).add(3)
        registry.counter("sluice_x_total", help: "Things.", labels: [("sink", "b")]).add(1)
        registry.gauge("sluice_y", help: "Level.", labels: [("sink", "a")]).set(7)
        #expect(registry.prometheusText() == """
            # HELP sluice_x_total Things.
            # TYPE sluice_x_total counter
            sluice_x_total{sink="a"} 5
            sluice_x_total{sink="b"} 1
            # HELP sluice_y Level.
            # TYPE sluice_y gauge
            sluice_y{sink="a"} 7

            """)
    }

    @Test func aRemovedSeriesIsNoLongerServedAndItsSiblingsStay() {
        let registry = MetricsRegistry()
        registry.gauge("sluice_lag", help: "Lag.", labels: [("partition", "0")]).set(4)
        registry.gauge("sluice_lag", help: "Lag.", labels: [("partition", "1")]).set(9)
        registry.remove("sluice_lag", labels: [("partition", "0")])
        let text = registry.prometheusText()
        #expect(!text.contains(#"partition="0""#))
        #expect(text.contains(#"sluice_lag{partition="1"} 9"#))
        #expect(registry.gauge("sluice_lag", help: "Lag.", labels: [("partition", "0")]).current == 0, "made anew on next use")
    }

    @Test func labelValuesAreEscapedAsTheFormatRequires() {
        let registry = MetricsRegistry()
        registry.counter("sluice_z_total", help: "Z.", labels: [("reason", "a \"quoted\\path\"\nline")]).add(1)
        #expect(registry.prometheusText().contains(#"sluice_z_total{reason="a \"quoted\\path\"\nline"} 1"#))
    }

    @Test func aComputedSeriesIsReadEachTimeTheMetricsAreServed() {
        let registry = MetricsRegistry()
        let level = Metric()
        registry.computed("process_cpu_seconds_total", type: "counter", help: "CPU.") { Double(level.current) / 4 }
        registry.computed("sluice_ready", help: "Ready.", labels: [("application", "a")]) { 1 }
        level.set(6)
        #expect(registry.prometheusText() == """
            # HELP process_cpu_seconds_total CPU.
            # TYPE process_cpu_seconds_total counter
            process_cpu_seconds_total 1.5
            # HELP sluice_ready Ready.
            # TYPE sluice_ready gauge
            sluice_ready{application="a"} 1

            """)
        level.set(8)
        #expect(registry.prometheusText().contains("process_cpu_seconds_total 2\n"), "whole numbers are written without a fraction")
    }

    @Test func aHistogramServesCumulativeBucketsItsSumAndItsCount() {
        let registry = MetricsRegistry()
        let latency = registry.histogram("sluice_commit_duration_seconds", help: "Commits.", labels: [("thread", "0")],
                                         bounds: [0.01, 0.5])
        for value in [0.003, 0.2, 0.5, 100] { latency.observe(value) }
        #expect(registry.histogram("sluice_commit_duration_seconds", help: "Commits.", labels: [("thread", "0")]) === latency)
        #expect(registry.prometheusText() == """
            # HELP sluice_commit_duration_seconds Commits.
            # TYPE sluice_commit_duration_seconds histogram
            sluice_commit_duration_seconds_bucket{thread="0",le="0.01"} 1
            sluice_commit_duration_seconds_bucket{thread="0",le="0.5"} 3
            sluice_commit_duration_seconds_bucket{thread="0",le="+Inf"} 4
            sluice_commit_duration_seconds_sum{thread="0"} 100.703
            sluice_commit_duration_seconds_count{thread="0"} 4

            """)
    }
}
