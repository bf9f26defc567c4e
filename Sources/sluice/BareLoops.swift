import ArgumentParser
import Logging
import Sluice
import SluiceKafka
import Synchronization

/// The benchmarks' ceilings: bare loops over `SluiceKafka`, one per thread,
/// each a consumer that reads batches and, given output topics, a producer
/// that moves every record read to one of them. As many loops as the phase
/// measured against them has stream threads: the ratio then compares the
/// engine with the same parallelism without it. The loops share the
/// partitions out once (assigned, not subscribed): an upper bound has no
/// rebalance, in which a partition's new owner would read again what the
/// old one had read.
struct BareLoops {
    /// Records to move in all; the input holds exactly these.
    let records: Int
    /// Where the records go, record `offset` to topic `offset mod count`
    /// (as a topology spreads them over its destinations, without reading
    /// them); none: they are only read.
    let outputs: [String]
    /// Settings of each loop's producer.
    let producerConfig: KafkaConfig
    /// Whether the loops move records in transactions; `nil`: they only
    /// flush at the end.
    var transactions: Transactions? = nil
    let logger: Logger

    /// How long a loop waits for the broker in one call.
    private static let timeout = Duration.seconds(30)

    /// Transactions as a stream thread under exactly-once runs them: each
    /// loop's producer has transactional id `<id>-<loop>`, and its outputs
    /// commit together with the input positions they derive from every
    /// `interval`.
    struct Transactions {
        let id: String
        let interval: Duration
    }

    /// Seconds from the first record any loop reads to the last one
    /// acknowledged (in transactions: committed; without outputs: read) by
    /// all of them.
    func run(threads: Int, reading partitions: [TopicPartition], consumer makeConsumer: () throws -> KafkaConsumer) throws -> Double {
        let loops = try (0..<threads).map { n in
            let consumer = try makeConsumer()
            try consumer.assign(partitions.enumerated().filter { $0.offset % threads == n }
                .map { TopicPartitionOffset($0.element, TopicPartitionOffset.beginning) })
            var config = producerConfig
            if let transactions { config["transactional.id"] = "\(transactions.id)-\(n)" }
            return Loop(consumer: consumer, producer: outputs.isEmpty ? nil : try KafkaProducer(config: config, logger: logger))
        }
        let progress = Progress(loops: loops)
        let running = loops.enumerated().map { n, loop in
            JoinableThread(name: "bare-loop-\(n)") { [self] in move(loop, progress) }
        }
        running.forEach { $0.join() }
        loops.forEach { $0.consumer.close() }
        if let failure = progress.failure.withLock({ $0 }) { throw failure }
        guard let start = progress.start.withLock({ $0 }), let end = progress.end.withLock({ $0 }) else {
            throw ValidationError("the bare loops read nothing")
        }
        return (end - start).seconds
    }

    /// One loop's clients, used by its thread only; the other loops may
    /// only wake its consumer's poll, which is safe from any thread.
    private struct Loop: @unchecked Sendable {
        let consumer: KafkaConsumer
        let producer: KafkaProducer?
    }

    /// What the loops share: the count moved and when they started and ended.
    private final class Progress: Sendable {
        let moved = Atomic<Int>(0)
        let start = Mutex<ContinuousClock.Instant?>(nil)
        let end = Mutex<ContinuousClock.Instant?>(nil)
        let failure = Mutex<(any Error)?>(nil)
        let stopped = Atomic<Bool>(false)
        private let loops: [Loop]

        init(loops: [Loop]) { self.loops = loops }

        /// Ends every loop: the records are all moved, or one loop failed.
        func stop() {
            stopped.store(true, ordering: .relaxed)
            // A loop waiting in its poll would otherwise end up to a poll timeout late.
            loops.forEach { $0.consumer.wakeup() }
        }
    }

    /// One loop: reads and moves batches until every loop is to stop, then
    /// waits until what it sent is acknowledged (in transactions: commits
    /// it).
    private func move(_ loop: Loop, _ progress: Progress) {
        var batch: [KafkaMessage] = []
        var started = false
        do {
            var transaction = try transactions.flatMap { t in try loop.producer.map { try Transaction($0, loop.consumer, t) } }
            while !progress.stopped.load(ordering: .relaxed) {
                try loop.consumer.poll(maxMessages: 1000, timeout: .milliseconds(100), into: &batch)
                guard !batch.isEmpty else { continue }
                if !started {
                    progress.start.withLock { $0 = $0 ?? .now }
                    started = true
                }
                if let producer = loop.producer {
                    try transaction?.begin()
                    for m in batch {
                        let topic = outputs.count == 1 ? outputs[0] : outputs[Int(m.offset % Int64(outputs.count))]
                        try producer.send(topic: topic, key: m.key, value: m.value, timestamp: m.timestamp)
                    }
                    producer.poll()
                    transaction?.moved(batch)
                    try transaction?.commitIfDue()
                }
                if progress.moved.add(batch.count, ordering: .relaxed).newValue >= records { progress.stop() }
            }
            // A commit flushes too, and waits for the acknowledgements.
            if transaction == nil {
                try loop.producer?.flushUntilAcknowledged(attempt: Self.timeout, logger: logger)
            } else {
                try transaction?.commit()
            }
            let now = ContinuousClock.now
            progress.end.withLock { $0 = max($0 ?? now, now) }
        } catch {
            progress.failure.withLock { $0 = $0 ?? error }
            progress.stop()
        }
    }

    /// A loop's transactions: begun with a batch, committed with the
    /// positions of the input partitions that moved in them.
    private struct Transaction {
        let producer: KafkaProducer
        let consumer: KafkaConsumer
        let interval: Duration
        var positions: [TopicPartition: Int64] = [:]
        var open = false
        var due: ContinuousClock.Instant

        init(_ producer: KafkaProducer, _ consumer: KafkaConsumer, _ transactions: Transactions) throws {
            self.producer = producer
            self.consumer = consumer
            interval = transactions.interval
            due = .now + interval
            try producer.initTransactions(timeout: BareLoops.timeout)
        }

        mutating func begin() throws {
            guard !open else { return }
            try producer.beginTransaction()
            open = true
        }

        /// Notes the positions after `batch`, whose records were all sent.
        mutating func moved(_ batch: [KafkaMessage]) {
            // A batch runs partition by partition: the last record of each run sets its position.
            for i in batch.indices where i == batch.count - 1 || batch[i + 1].partition != batch[i].partition
                || batch[i + 1].topic != batch[i].topic {
                positions[TopicPartition(batch[i].topic, batch[i].partition)] = batch[i].offset + 1
            }
        }

        /// Commits once `interval` has passed since the last commit began.
        mutating func commitIfDue() throws {
            let now = ContinuousClock.now
            guard now >= due else { return }
            due = now + interval
            try commit()
        }

        /// Commits the open transaction with the positions its records
        /// derive from, once the broker has acknowledged them all.
        mutating func commit() throws {
            guard open else { return }
            try producer.sendOffsetsToTransaction(positions.map { TopicPartitionOffset($0.key, $0.value) },
                                                  groupMetadata: consumer.groupMetadata(), timeout: BareLoops.timeout)
            try producer.commitTransaction(timeout: BareLoops.timeout)
            positions.removeAll(keepingCapacity: true)
            open = false
        }
    }
}
