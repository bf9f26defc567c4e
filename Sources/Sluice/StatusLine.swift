import Foundation
import Synchronization

/// What `sluice run` shows on a terminal: one line, redrawn every second,
/// with records per second, lag, dead letters, Elasticsearch documents per
/// second and restore progress, read from the application's metrics; and
/// a summary when it ends. Log lines written meanwhile clear it first
/// (``LogLineHandler`` on a terminal), and the next second redraws it.
public final class StatusLine: Sendable {
    /// The totals the line is made of, from one reading of the metrics.
    public struct Reading: Sendable, Equatable {
        public var processed = 0.0, lag = 0.0, deadLetters = 0.0, late = 0.0
        public var documents = 0.0, restoring = 0.0, restoreRemaining = 0.0
        /// Whether a sink writes to Elasticsearch (its series exist).
        public var indexes = false

        /// The totals in `samples`.
        public init(_ samples: MetricSamples) {
            processed = samples.sum("sluice_records_processed_total")
            lag = samples.sum("sluice_consumer_lag_records")
            deadLetters = samples.sum("sluice_dead_letters_total")
            late = samples.sum("sluice_late_records_total")
            documents = samples.sum("sluice_es_documents_total")
            restoring = samples.sum("sluice_restoring_tasks")
            restoreRemaining = samples.sum("sluice_state_restore_remaining_records")
            indexes = samples.families.contains("sluice_es_documents_total")
        }
    }

    /// The line for the interval between readings `from` and `to`, `seconds` apart.
    public static func line(from: Reading, to: Reading, seconds: Double) -> String {
        let rate = { (a: Double, b: Double) in Int(max(0, b - a) / max(seconds, 0.001)).formatted() }
        var parts = ["\(rate(from.processed, to.processed)) records/s", "lag \(Int(to.lag).formatted())",
                     "\(Int(to.deadLetters).formatted()) dead letters"]
        if to.late > 0 { parts.append("\(Int(to.late).formatted()) late") }
        if to.indexes { parts.append("\(rate(from.documents, to.documents)) documents/s to Elasticsearch") }
        if to.restoring > 0 {
            parts.append("restoring \(Int(to.restoring)) tasks, \(Int(to.restoreRemaining).formatted()) changelog records left")
        }
        return parts.joined(separator: " · ")
    }

    /// The summary of a run of `seconds` that ended with `reading`.
    public static func summary(_ reading: Reading, seconds: Double) -> String {
        var parts = ["processed \(Int(reading.processed).formatted()) records in \(Int(seconds)) s "
                     + "(\(Int(reading.processed / max(seconds, 0.001)).formatted())/s)",
                     "\(Int(reading.deadLetters).formatted()) dead letters", "\(Int(reading.late).formatted()) late"]
        if reading.indexes { parts.append("\(Int(reading.documents).formatted()) documents to Elasticsearch") }
        return parts.joined(separator: " · ")
    }

    private let registry: MetricsRegistry
    private let stopped = Atomic<Bool>(false)
    private let ended = DispatchSemaphore(value: 0)
    private let started = ContinuousClock.now

    /// A status line over `registry` (an application's ``StreamApplication/metrics``).
    public init(registry: MetricsRegistry) { self.registry = registry }

    /// Starts redrawing the line every second, on a thread of its own.
    public func start() {
        Thread.detachNewThread { [self] in
            var last = (reading: reading(), at: ContinuousClock.now)
            while !stopped.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: 0.1)
                guard ContinuousClock.now - last.at >= .seconds(1) else { continue }
                let now = (reading: reading(), at: ContinuousClock.now)
                Self.draw(Self.line(from: last.reading, to: now.reading, seconds: (now.at - last.at).seconds), ending: "")
                last = now
            }
            ended.signal()
        }
    }

    /// Stops redrawing and replaces the line with the run's summary.
    public func finish() {
        stopped.store(true, ordering: .relaxed)
        ended.wait()
        Self.draw("sluice run: " + Self.summary(reading(), seconds: (ContinuousClock.now - started).seconds), ending: "\n")
    }

    private func reading() -> Reading { Reading(MetricSamples(text: registry.prometheusText())) }

    /// Writes `text` over the current terminal line.
    private static func draw(_ text: String, ending: String) {
        LogLineHandler.writeToStandardError(LogLineHandler.clearLine + text + ending)
    }
}
