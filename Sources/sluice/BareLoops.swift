import ArgumentParser
import Logging
import Sluice
import SluiceKafka
import Synchronization

/// The benchmarks' ceilings: bare loops over `SluiceKafka`, one per thread,
/// each a consumer that reads batches and, given an output topic, a
/// producer that moves every record read there. As many loops as the phase
/// measured against them has stream threads: the ratio then compares the
/// engine with the same parallelism without it. The loops share the
/// partitions out once (assigned, not subscribed): an upper bound has no
/// rebalance, in which a partition's new owner would read again what the
/// old one had read.
struct BareLoops {
    /// Records to move in all; the input holds exactly these.
    let records: Int
    /// Where the records go; `nil`: they are only read.
    let output: String?
    /// Settings of each loop's producer.
    let producerConfig: KafkaConfig
    let logger: Logger

    /// Seconds from the first record any loop reads to the last one
    /// acknowledged (without an output: read) by all of them.
    func run(threads: Int, reading partitions: [TopicPartition], consumer makeConsumer: () throws -> KafkaConsumer) throws -> Double {
        let loops = try (0..<threads).map { n in
            let consumer = try makeConsumer()
            try consumer.assign(partitions.enumerated().filter { $0.offset % threads == n }
                .map { TopicPartitionOffset($0.element, TopicPartitionOffset.beginning) })
            return Loop(consumer: consumer,
                        producer: try output.map { _ in try KafkaProducer(config: producerConfig, logger: logger) })
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
    /// waits until what it sent is acknowledged.
    private func move(_ loop: Loop, _ progress: Progress) {
        var batch: [KafkaMessage] = []
        var started = false
        do {
            while !progress.stopped.load(ordering: .relaxed) {
                try loop.consumer.poll(maxMessages: 1000, timeout: .milliseconds(100), into: &batch)
                guard !batch.isEmpty else { continue }
                if !started {
                    progress.start.withLock { $0 = $0 ?? .now }
                    started = true
                }
                if let producer = loop.producer, let output {
                    for m in batch { try producer.send(topic: output, key: m.key, value: m.value, timestamp: m.timestamp) }
                    producer.poll()
                }
                if progress.moved.add(batch.count, ordering: .relaxed).newValue >= records { progress.stop() }
            }
            try loop.producer?.flushUntilAcknowledged(attempt: .seconds(30), logger: logger)
            let now = ContinuousClock.now
            progress.end.withLock { $0 = max($0 ?? now, now) }
        } catch {
            progress.failure.withLock { $0 = $0 ?? error }
            progress.stop()
        }
    }
}
