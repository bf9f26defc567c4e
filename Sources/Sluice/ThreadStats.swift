import SluiceKafka

/// The series of one stream thread at `/metrics`, labelled with the
/// application and the thread. The stream thread writes them; the metrics
/// endpoint (and ``StreamApplication``) read them from other threads.
///
/// Series with a further label (a topic, a processor, a store, a partition)
/// are registered the first time the thread meets the label value and kept
/// in lookup tables confined to the stream thread.
final class ThreadStats: @unchecked Sendable {
    /// Records processed, dead-lettered included (served by topic).
    let processed = Metric()
    /// Records sent to the dead-letter topic (served by processor and type).
    let deadLetters = Metric()
    /// Records that came after every window they belong to had closed.
    let late: Metric
    /// Changelog records read by state store restores.
    let restored: Metric
    /// Changelog records restores still have to read, as far as their
    /// changelogs' reported ends tell.
    let restoreRemaining: Metric
    /// Input positions committed (transactions under exactly-once).
    let commits: Metric
    /// Tasks (input partitions) the thread owns now.
    let tasks: Metric
    /// Tasks whose stores are restoring, not processing yet.
    let restoring: Metric
    /// Input partitions paused because a sink is full.
    let paused: Metric
    /// Assignments received: rebalances the thread took part in.
    let rebalances: Metric
    /// Seconds from a commit point to its commit.
    let commitDuration: Histogram
    private let registry: MetricsRegistry
    private let labels: [(String, String)]
    private var processedByTopic: [String: Metric] = [:]
    private var producedByTopic: [String: Metric] = [:]
    private var byProcessor: [String: Metric] = [:]
    private var storeBytes: [String: Metric] = [:]
    private var lags: [TopicPartition: Metric] = [:]
    private var deadLettersByCause: [String: Metric] = [:]

    init(_ registry: MetricsRegistry, applicationID: String, thread: Int) {
        let labels = [("application", applicationID), ("thread", String(thread))]
        self.registry = registry
        self.labels = labels
        late = registry.counter("sluice_late_records_total",
                                help: "Records that arrived after every window they belong to had closed.", labels: labels)
        restored = registry.counter("sluice_state_restore_records_total",
                                    help: "Changelog records read by state store restores.", labels: labels)
        restoreRemaining = registry.gauge("sluice_state_restore_remaining_records",
                                          help: "Changelog records state store restores still have to read.", labels: labels)
        commits = registry.counter("sluice_commits_total",
                                   help: "Commits of input positions (transactions under exactly_once).", labels: labels)
        tasks = registry.gauge("sluice_assigned_tasks", help: "Tasks (input partitions) a stream thread owns.", labels: labels)
        restoring = registry.gauge("sluice_restoring_tasks",
                                   help: "Tasks whose state stores are restoring from their changelogs.", labels: labels)
        paused = registry.gauge("sluice_paused_partitions",
                                help: "Input partitions paused because a sink's in-flight budget is full.", labels: labels)
        rebalances = registry.counter("sluice_rebalances_total",
                                      help: "Rebalances a stream thread took part in (assignments received).", labels: labels)
        commitDuration = registry.histogram(
            "sluice_commit_duration_seconds",
            help: "From a commit point to its commit: the transaction under exactly_once, the wait for acknowledgements and the offset commit under at_least_once.",
            labels: labels)
    }

    /// Counts `count` input records of `topic` processed.
    func processed(_ count: Int, of topic: String) {
        processed.add(count)
        series(&processedByTopic, topic, "sluice_records_processed_total",
               "Input records processed, dead-lettered included, by source topic.", label: "topic").add(count)
    }

    /// Counts `count` records enqueued for `topic` (outputs, changelogs, dead letters).
    func produced(_ count: Int, to topic: String) {
        series(&producedByTopic, topic, "sluice_records_produced_total",
               "Records sent to Kafka, by topic: outputs, changelogs and dead letters.", label: "topic").add(count)
    }

    /// Counts `count` records that reached processor node `name`.
    func reached(_ count: Int, processor name: String) {
        series(&byProcessor, name, "sluice_processor_records_total",
               "Records that reached a processor node (source, step or sink) of the topology.", label: "processor").add(count)
    }

    /// Sets the size of each state store over the thread's tasks, by
    /// name; a store the thread no longer has a task of is set to 0.
    func storeSizes(_ sizes: [String: Int]) {
        for name in Set(storeBytes.keys).union(sizes.keys) {
            series(&storeBytes, name, "sluice_state_store_bytes",
                   "Approximate size of a state store over a thread's tasks: files and memtables.", label: "store")
                .set(sizes[name] ?? 0)
        }
    }

    /// Sets how many records of `partition` are past the thread's position.
    func lag(_ records: Int64, of partition: TopicPartition) {
        cached(&lags, partition) {
            registry.gauge("sluice_consumer_lag_records", help: "Records of an input partition past the position processed.",
                           labels: lagLabels(partition))
        }.set(Int(records))
    }

    /// Drops the lag series of a partition the thread no longer owns.
    func forgetLag(of partition: TopicPartition) {
        guard lags.removeValue(forKey: partition) != nil else { return }
        registry.remove("sluice_consumer_lag_records", labels: lagLabels(partition))
    }

    private func lagLabels(_ partition: TopicPartition) -> [(String, String)] {
        labels + [("topic", partition.topic), ("partition", String(partition.partition))]
    }

    /// Counts a record sent to the dead-letter topic by `processor` (a
    /// node or a sink) for an error of `type` (a Swift error type, or the
    /// destination's error type): a few series per topology.
    func deadLettered(processor: String, type: String) {
        deadLetters.add(1)
        cached(&deadLettersByCause, processor + "\u{0}" + type) {
            registry.counter("sluice_dead_letters_total", help: "Records sent to the dead-letter topic, by processor and error type.",
                             labels: labels + [("processor", processor), ("type", type)])
        }.add(1)
    }

    /// Counts a commit of what was reached at `marked` (ms), done at `now`.
    func observeCommit(since marked: Int64, now: Int64) {
        commitDuration.observe(Double(max(0, now - marked)) / 1000)
    }

    /// The series of family `name` for `value` of `label`, from `table` or registered.
    private func series(_ table: inout [String: Metric], _ value: String, _ name: String, _ help: String,
                        label: String) -> Metric {
        cached(&table, value) {
            name.hasSuffix("_total")
                ? registry.counter(name, help: help, labels: labels + [(label, value)])
                : registry.gauge(name, help: help, labels: labels + [(label, value)])
        }
    }

    /// The metric `table` holds for `key`, registered by `register` the first time.
    private func cached<Key: Hashable>(_ table: inout [Key: Metric], _ key: Key, register: () -> Metric) -> Metric {
        if let metric = table[key] { return metric }
        let metric = register()
        table[key] = metric
        return metric
    }
}
