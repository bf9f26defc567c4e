import Testing
@testable import Sluice

/// A stream thread's labelled series follow what the thread owns.
@Suite struct ThreadStatsTests {
    @Test func aStoreTheThreadNoLongerHasATaskOfShowsZeroBytes() {
        let registry = MetricsRegistry()
        let stats = ThreadStats(registry, applicationID: "app", thread: 0)
        stats.storeSizes(["counts": 4096, "sums": 100])
        stats.storeSizes(["sums": 200])
        let text = registry.prometheusText()
        #expect(text.contains(#"sluice_state_store_bytes{application="app",thread="0",store="counts"} 0"#))
        #expect(text.contains(#"sluice_state_store_bytes{application="app",thread="0",store="sums"} 200"#))
    }

    @Test func deadLettersOfOneCauseAddUpInOneSeriesAndTheTotal() {
        let registry = MetricsRegistry()
        let stats = ThreadStats(registry, applicationID: "app", thread: 1)
        for _ in 0..<3 { stats.deadLettered(processor: "parse", type: "JSONError") }
        stats.deadLettered(processor: "es", type: "mapper_parsing_exception")
        let text = registry.prometheusText()
        #expect(text.contains(#"sluice_dead_letters_total{application="app",thread="1",processor="parse",type="JSONError"} 3"#))
        #expect(text.contains(#"processor="es",type="mapper_parsing_exception"} 1"#))
        #expect(stats.deadLetters.current == 4)
    }
}
