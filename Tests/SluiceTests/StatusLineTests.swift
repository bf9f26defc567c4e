import Testing
@testable import Sluice

/// The live status line of `sluice run` and the metric readings it rests on.
@Suite struct StatusLineTests {
    static func reading(processed: Int, documents: Int? = nil, restoring: Int = 0, late: Int = 0) -> StatusLine.Reading {
        var text = """
            # TYPE sluice_records_processed_total counter
            sluice_records_processed_total{application="a",thread="0",topic="in"} \(processed / 2)
            sluice_records_processed_total{application="a",thread="1",topic="in"} \(processed - processed / 2)
            # TYPE sluice_consumer_lag_records gauge
            sluice_consumer_lag_records{application="a",topic="in",partition="0"} 40
            sluice_consumer_lag_records{application="a",topic="in",partition="1"} 2
            sluice_dead_letters_total{application="a",processor="parse",type="JSONError"} 3
            sluice_late_records_total{application="a"} \(late)
            sluice_restoring_tasks{application="a"} \(restoring)
            sluice_state_restore_remaining_records{application="a"} \(restoring * 500)

            """
        if let documents {
            text += "# TYPE sluice_es_documents_total counter\nsluice_es_documents_total{application=\"a\",sink=\"es\"} \(documents)\n"
        }
        return StatusLine.Reading(MetricSamples(text: text))
    }

    @Test func metricSamplesSumAFamilyOverItsLabelsAndKnowTheTypedFamilies() {
        let samples = MetricSamples(text: """
            # HELP x_total help
            # TYPE x_total counter
            x_total{topic="a"} 2
            x_total{topic="b"} 3.5
            x_total_other 100
            y_seconds_count 4
            """)
        #expect(samples.sum("x_total") == 5.5)
        #expect(samples.sum("x_total", where: #"topic="b""#) == 3.5)
        #expect(samples.families == ["x_total"])
        #expect(samples.hasSamples(of: "y_seconds"), "a histogram's count is a sample of it")
        #expect(!samples.hasSamples(of: "z"))
    }

    @Test func theLineShowsRatesOverTheIntervalAndTotalsAndLeavesOutWhatDoesNotApply() {
        let line = StatusLine.line(from: Self.reading(processed: 100), to: Self.reading(processed: 2_100), seconds: 2)
        #expect(line == "1,000 records/s · lag 42 · 3 dead letters")
    }

    @Test func theLineShowsElasticsearchDocumentsLateRecordsAndRestoresWhenThereAreAny() {
        let line = StatusLine.line(from: Self.reading(processed: 0, documents: 0),
                                   to: Self.reading(processed: 10, documents: 3_000, restoring: 2, late: 7), seconds: 1)
        #expect(line == "10 records/s · lag 42 · 3 dead letters · 7 late · 3,000 documents/s to Elasticsearch"
                + " · restoring 2 tasks, 1,000 changelog records left")
    }

    @Test func theSummaryGivesTheTotalsAndTheAverageRate() {
        let summary = StatusLine.summary(Self.reading(processed: 120_000, documents: 119_000), seconds: 60)
        #expect(summary == "processed 120,000 records in 60 s (2,000/s) · 3 dead letters · 0 late · 119,000 documents to Elasticsearch")
    }
}
