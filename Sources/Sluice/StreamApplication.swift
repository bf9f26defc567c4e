import Dispatch
import Foundation
import Logging
import SluiceKafka
import SluiceState
import Synchronization

/// A running topology: `threads` stream threads in one process, all members
/// of the consumer group `applicationID`, sharing the input partitions with
/// every other instance of the application.
///
/// ```swift
/// let app = try StreamApplication(topology: topology, config: config)
/// try app.runUntilSignalled()   // SIGINT/SIGTERM: drain, commit, leave, return
/// ```
public final class StreamApplication: Sendable {
    /// The topology it runs.
    public let topology: Topology
    /// Its configuration.
    public let config: StreamsConfig
    /// This process's id: kept in the state directory so that transactional
    /// ids stay the same across restarts.
    public let processID: String
    /// The metrics sinks and other components register, served beside the engine's.
    public let metrics: MetricsRegistry
    private let threads: [StreamThread]
    /// Keeps standby copies of other instances' tasks; `nil` without standby replicas or stores.
    private let standby: StandbyThread?
    private let logger: Logger
    private let failure = Mutex<StreamThreadError?>(nil)
    private let started = Atomic<Bool>(false)
    /// Stream threads started and not yet ended.
    private let liveThreads = Atomic<Int>(0)
    private let done = DispatchGroup()
    /// The started threads, joined once ``done`` says they ended.
    private let running = Mutex<[JoinableThread]>([])
    private let stateLock: StateDirectoryLock

    /// Prepares the application; nothing connects until ``start()``.
    public init(topology: Topology, config: StreamsConfig, logger: Logger = Logger(label: "sluice"),
                clientFactory: KafkaClientFactory = LibrdkafkaClientFactory(), clock: WallClock = SystemClock()) throws {
        guard config.threads >= 1 else { throw TopologyError("threads must be at least 1, not \(config.threads)") }
        self.topology = topology
        self.config = config
        self.logger = logger
        let lock = try StateDirectoryLock(directory: "\(config.stateDirectory)/\(config.applicationID)")
        stateLock = lock
        processID = lock.processID
        let metrics = MetricsRegistry()
        self.metrics = metrics
        let state = StateLocation.directory("\(config.stateDirectory)/\(config.applicationID)",
                                            StateBudget(blockCacheBytes: config.stateBlockCacheBytes,
                                                        memtableBytes: config.stateMemtableBytes))
        let processTasks = ProcessTasks()
        threads = (0..<config.threads).map {
            StreamThread(index: $0, topology: topology, config: config, processID: lock.processID,
                         factory: clientFactory, clock: clock, logger: logger, metrics: metrics, state: state,
                         processTasks: processTasks)
        }
        standby = config.standbyReplicas > 0 && !topology.stores.isEmpty
            ? StandbyThread(topology: topology, config: config, processID: lock.processID, factory: clientFactory, clock: clock,
                            logger: logger, metrics: metrics, state: state, processTasks: processTasks)
            : nil
        metrics.registerProcessMetrics()
        metrics.computed("sluice_ready", help: "1 when every task is assigned and restored (see /ready), else 0.",
                         labels: [("application", config.applicationID)]) { [weak self] in
            self?.state.isReady == true ? 1 : 0
        }
    }

    /// Where the application is in its life: `/ready` answers 200 only
    /// when it is ``ApplicationState/running``.
    public var state: ApplicationState {
        if let failure = failure.withLock({ $0 }) { return .failed("\(failure)") }
        guard started.load(ordering: .relaxed) else { return .created }
        if liveThreads.load(ordering: .relaxed) == 0 { return .stopped }
        if threads.contains(where: \.stopRequested) { return .stopping }
        let joining = threads.count { $0.stats.rebalances.current == 0 }
        if joining > 0 { return .joining(threads: joining) }
        let restoring = restoringTaskCount
        return restoring > 0 ? .restoring(tasks: restoring) : .running
    }

    /// Starts the stream threads.
    public func start() {
        logger.info("starting", metadata: ["application": "\(config.applicationID)", "process": "\(processID)",
                                           "threads": "\(threads.count)", "guarantee": "\(config.guarantee.rawValue)",
                                           "kafka": "\(config.kafka.redacted)", "librdkafka": "\(Librdkafka.version)"])
        if !Librdkafka.parsesTaggedFields {
            logger.warning("librdkafka before 2.1.1 mis-parses tagged fields and cannot talk to brokers that send them; use a newer one",
                           metadata: ["librdkafka": "\(Librdkafka.version)"])
        }
        liveThreads.store(threads.count, ordering: .relaxed)
        started.store(true, ordering: .relaxed)
        for thread in threads {
            done.enter()
            startThread(named: "sluice-stream-\(thread.index)") { [self] in
                do {
                    try thread.run()
                } catch {
                    failure.withLock { $0 = $0 ?? StreamThreadError(thread: thread.index, underlying: error) }
                    // One failed thread stops the instance: its partitions go to healthy members.
                    stop()
                }
                liveThreads.subtract(1, ordering: .relaxed)
            }
        }
        if let standby {
            done.enter()
            startThread(named: "sluice-standby") { standby.run() }
        }
    }

    private func startThread(named name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = JoinableThread(name: name) { [done] in
            body()
            done.leave()
        }
        running.withLock { $0.append(thread) }
    }

    /// Asks every thread to finish: stop polling, commit, leave the group.
    /// Returns at once; ``wait()`` returns when they have.
    public func stop() {
        for thread in threads { thread.requestStop() }
        standby?.requestStop()
    }

    /// Blocks until every thread has ended; throws the first thread's
    /// ``StreamThreadError`` if one failed.
    public func wait() throws {
        done.wait()
        joinThreads()
        try rethrowFailure()
    }

    /// Blocks until every thread has ended or `timeout` passes; returns
    /// whether they ended. A drain waits for every destination to
    /// acknowledge, so with one down it can outlast any timeout.
    public func wait(timeout: Duration) throws -> Bool {
        guard done.wait(timeout: .now() + .milliseconds(Int(timeout.wholeMilliseconds))) == .success else { return false }
        joinThreads()
        try rethrowFailure()
        return true
    }

    /// Their bodies have returned; this waits out the rest of their exit
    /// (see ``JoinableThread``), so that the process can end after it.
    private func joinThreads() {
        for thread in running.withLock({ $0 }) { thread.join() }
    }

    private func rethrowFailure() throws {
        if let failure = failure.withLock({ $0 }) { throw failure }
    }

    /// Records processed by all threads so far (dead-lettered included).
    public var processedCount: Int { threads.reduce(0) { $0 + $1.stats.processed.current } }

    /// Changelog records read by state store restores so far.
    public var restoredCount: Int { threads.reduce(0) { $0 + $1.stats.restored.current } }

    /// Tasks whose state stores are restoring now.
    public var restoringTaskCount: Int { threads.reduce(0) { $0 + $1.stats.restoring.current } }

    /// Records sent to the dead-letter topic so far.
    public var deadLetterCount: Int { threads.reduce(0) { $0 + $1.stats.deadLetters.current } }

    /// Blocks until at least `count` records are processed or `timeout`
    /// passes, looking every `interval`; returns whether they were.
    @discardableResult
    public func waitUntilProcessed(_ count: Int, timeout: Duration = .seconds(3600),
                                   interval: Duration = .milliseconds(5)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while processedCount < count {
            guard ContinuousClock.now < deadline else { return false }
            blockThread(for: interval)
        }
        return true
    }

    /// Starts, then runs until SIGINT or SIGTERM; a second signal exits the
    /// process at once. Throws if a thread failed.
    public func runUntilSignalled() throws {
        let signals = SignalHandler { [self] count in
            if count == 1 {
                logger.info("signal received; draining, committing and leaving the group (signal again to exit at once)")
                stop()
            } else {
                logger.warning("second signal; exiting at once")
                // _exit: exit handlers would free what librdkafka's threads still use.
                fflush(nil)
                _exit(130)
            }
        }
        start()
        defer { withExtendedLifetime(signals) {} }
        try wait()
    }
}

/// A stream thread stopped on an error (a delivery that failed for good, a
/// fatal client error): the instance stopped with it, without committing
/// past what was acknowledged.
public struct StreamThreadError: Error, CustomStringConvertible {
    /// The thread's index.
    public var thread: Int
    /// What stopped it.
    public var underlying: any Error

    public var description: String { "stream thread \(thread): \(underlying)" }
}

/// Holds SIGINT and SIGTERM while it lives and calls `handler` with the
/// number of signals received so far.
final class SignalHandler {
    private let sources: [DispatchSourceSignal]

    init(handler: @escaping @Sendable (Int) -> Void) {
        let count = Atomic<Int>(0)
        let queue = DispatchQueue(label: "sluice.signals")
        sources = [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { handler(count.add(1, ordering: .relaxed).newValue) }
            source.resume()
            return source
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
