import Foundation
import SluiceKafka
import Testing
@testable import Sluice

/// What an application reports of itself, and what its probes answer.
@Suite struct ApplicationStateTests {
    let factory = FakeFactory()

    private func application(_ factory: KafkaClientFactory) throws -> (StreamApplication, directory: String) {
        let b = TopologyBuilder()
        b.stream(["in"]).to("out")
        var config = StreamsConfig(applicationID: "app", kafka: KafkaConfig())
        config.stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID())").path
        config.threads = 1
        return (try StreamApplication(topology: try b.build(), config: config, clientFactory: factory), config.stateDirectory)
    }

    /// Looks at the state every millisecond until `done` holds of it (30 s at most); returns every state seen.
    private func watch(_ app: StreamApplication, until done: (ApplicationState) -> Bool) -> [ApplicationState] {
        var seen = [app.state]
        var looks = 0
        while !done(seen.last!), looks < 30_000 {
            blockThread(for: .milliseconds(1))
            looks += 1
            let state = app.state
            if state != seen.last { seen.append(state) }
        }
        return seen
    }

    @Test func anApplicationIsReadyOnlyFromItsFirstAssignmentUntilItIsAskedToStop() throws {
        factory.consumer.append("in", 0, "a")
        let (app, directory) = try application(factory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(app.state == .created)
        #expect(MetricsEndpoint.answer("/ready", app) == ("503 Service Unavailable", "created: not started\n"))
        app.start()
        let seen = watch(app) { $0 == .running }
        #expect(seen.last == .running)
        #expect(seen.allSatisfy { $0 == .created || $0 == .joining(threads: 1) || $0 == .running }, "\(seen)")
        #expect(MetricsEndpoint.answer("/ready", app) == ("200 OK", "running\n"))
        #expect(app.prometheusText().contains("sluice_ready{application=\"app\"} 1\n"))
        app.stop()
        #expect(!app.state.isReady)
        #expect(try app.wait(timeout: .seconds(30)))
        #expect(app.state == .stopped)
        #expect(MetricsEndpoint.answer("/ready", app) == ("503 Service Unavailable", "stopped\n"))
        #expect(MetricsEndpoint.answer("/health", app) == ("200 OK", "stopped\n"), "a clean stop is healthy")
        #expect(app.prometheusText().contains("sluice_ready{application=\"app\"} 0\n"))
    }

    @Test func aFailedStreamThreadMakesTheApplicationUnhealthyWithItsError() throws {
        factory.consumer.append("in", 0, "a")
        let (app, directory) = try application(FailingFactory(inner: factory))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        app.start()
        #expect(throws: StreamThreadError.self) { try app.wait() }
        #expect(!app.state.isHealthy && !app.state.isReady)
        let (status, body) = MetricsEndpoint.answer("/health", app)
        #expect(status == "503 Service Unavailable")
        #expect(body.hasPrefix("failed: stream thread 0: "), "\(body)")
        #expect(MetricsEndpoint.answer("/ready", app).0 == "503 Service Unavailable")
    }

    @Test func everyOtherPathIsNotFound() throws {
        let (app, directory) = try application(factory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(MetricsEndpoint.answer("/metric", app).0 == "404 Not Found")
        #expect(MetricsEndpoint.answer("/metrics", app).0 == "200 OK")
    }
}
