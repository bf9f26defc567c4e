import Foundation
import Logging
import SluiceKafka
import Synchronization
import Testing
@testable import Sluice

/// A thread is over only when its exit destructors have run (OpenSSL frees
/// its per-thread state in one): whoever waits for a thread, and the
/// process's exit after that, must come after them.
@Suite struct ThreadExitTests {
    @Test func joinReturnsOnlyAfterTheThreadsExitDestructorsHaveRun() {
        let mark = ExitMark()
        let thread = JoinableThread(name: "exit-test") { mark.arm() }
        thread.join()
        #expect(mark.destructorRan)
        thread.join()   // a second join returns at once
    }

    @Test func whenAnApplicationsWaitReturnsItsStreamThreadsHaveFinishedExiting() throws {
        let factory = FakeFactory()
        factory.consumer.append("in", 0, "a")
        let marks = MarkingFactory(inner: factory)
        let b = TopologyBuilder()
        b.stream(["in"]).to("out")
        var config = StreamsConfig(applicationID: "app", kafka: KafkaConfig())
        config.stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID())").path
        config.threads = 1
        defer { try? FileManager.default.removeItem(atPath: config.stateDirectory) }
        let app = try StreamApplication(topology: try b.build(), config: config, clientFactory: marks)
        app.start()
        #expect(app.waitUntilProcessed(1, timeout: .seconds(30)))
        app.stop()
        #expect(try app.wait(timeout: .seconds(30)))
        let made = marks.marks.withLock { $0 }
        #expect(made.count == 1, "the stream thread made its consumer")
        #expect(made.allSatisfy { $0.destructorRan })
    }
}

/// Arms a thread-exit destructor on the calling thread that is slow to
/// finish, and says when it has.
final class ExitMark: Sendable {
    private let ran = Atomic<Bool>(false)

    var destructorRan: Bool { ran.load(ordering: .acquiring) }

    /// Registers the destructor on the current thread.
    func arm() {
        pthread_setspecific(Self.key, Unmanaged.passRetained(self).toOpaque())
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            let mark = Unmanaged<ExitMark>.fromOpaque(pointer!).takeRetainedValue()
            // Slow, as OpenSSL's cleanup can be: a waiter that does not wait
            // for the thread's exit reads the mark before this ends.
            usleep(100_000)
            mark.ran.store(true, ordering: .releasing)
        }
        return key
    }()
}

/// Arms an ``ExitMark`` on each thread that makes a consumer: the stream threads.
final class MarkingFactory: KafkaClientFactory, @unchecked Sendable {
    let inner: FakeFactory
    let marks = Mutex<[ExitMark]>([])
    init(inner: FakeFactory) { self.inner = inner }

    func makeConsumer(config: KafkaConfig, logger: Logger) throws -> ConsumerClient {
        let mark = ExitMark()
        mark.arm()
        marks.withLock { $0.append(mark) }
        return try inner.makeConsumer(config: config, logger: logger)
    }

    func makeProducer(config: KafkaConfig, logger: Logger) throws -> ProducerClient {
        try inner.makeProducer(config: config, logger: logger)
    }

    func makeChangelogs(config: KafkaConfig, logger: Logger) throws -> ChangelogClient {
        try inner.makeChangelogs(config: config, logger: logger)
    }
}
