import Foundation
import Logging
import Sluice
import SluiceExamples
import SluiceKafka
import SluiceSinks
import Testing

/// The local services the test script started, and helpers to drive
/// topology processes against them.
enum Services {
    /// Integration tests run when the test script has started the services.
    static let enabled = ProcessInfo.processInfo.environment["SLUICE_INTEGRATION"] == "1"

    static var bootstrap: String { ProcessInfo.processInfo.environment["SLUICE_KAFKA_BOOTSTRAP"] ?? "127.0.0.1:19092" }

    static var kafka: KafkaConfig { KafkaConfig(["bootstrap.servers": bootstrap]) }

    /// librdkafka's mock cluster, started in this process on first use: a
    /// second broker implementation, with exact offsets.
    static let mock = try! KafkaMockCluster(brokers: 3, logger: logger)

    /// A broker the tests can run against.
    enum Broker: Sendable, CustomTestStringConvertible {
        /// The broker the test script started.
        case local
        /// A librdkafka mock cluster in this process.
        case mock(KafkaMockCluster)
        /// Any other broker, by bootstrap servers.
        case named(String)

        /// The brokers every broker-parametrized test runs against.
        static var all: [Broker] { [.local, .mock(Services.mock)] }

        /// A broker for the exactly-once crash test, when one that hides
        /// aborted transactions is at hand (`SLUICE_EOS_BROKER=host:port`).
        static var eos: [Broker] {
            ProcessInfo.processInfo.environment["SLUICE_EOS_BROKER"].map { [.named($0)] } ?? all
        }

        var bootstrap: String {
            switch self {
            case .local: Services.bootstrap
            case .mock(let cluster): cluster.bootstrapServers
            case .named(let servers): servers
            }
        }

        var kafka: KafkaConfig { KafkaConfig(["bootstrap.servers": bootstrap]) }

        var testDescription: String {
            switch self {
            case .local: "the local broker"
            case .mock: "librdkafka's mock cluster"
            case .named(let servers): servers
            }
        }

        /// Creates topics (the mock cluster has no admin API).
        func createTopics(_ topics: [NewTopic]) throws {
            if case .mock(let cluster) = self {
                for t in topics { try cluster.createTopic(t.name, partitions: t.partitions) }
            } else {
                try KafkaAdmin(config: kafka, logger: Services.logger).createTopics(topics)
            }
        }
    }

    /// Group timings the local broker needs for joins of seconds, not tens of seconds.
    static let groupTimings = ["max.poll.interval.ms": "7000", "session.timeout.ms": "6000"]

    static let logger: Logger = {
        var l = Logger(label: "integration")
        l.logLevel = .warning
        return l
    }()

    /// The checkout these tests belong to.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

    /// Runs `scripts/services.sh <command> es`, keeping Elasticsearch's data
    /// across a stop (for outage tests); `settings` are extra
    /// elasticsearch.yml lines for a start.
    static func elasticsearch(_ command: String, settings: [String] = []) throws {
        // Through system(3): Foundation's Process does not always see this
        // script end once it has started a daemon.
        let extra = settings.joined(separator: "\n")
        let status = system("SLUICE_ES_KEEP_DATA=1 SLUICE_ES_SETTINGS='\(extra)' bash '\(root)/scripts/services.sh' \(command) es")
        guard status == 0 else { throw TopologyError("services.sh \(command) es failed: \(status)") }
    }

    /// Runs `scripts/es-proxy.sh` with `arguments` (a TLS proxy with basic
    /// auth in front of Elasticsearch).
    static func elasticsearchProxy(_ arguments: [String]) throws {
        let status = system("bash '\(root)/scripts/es-proxy.sh' " + arguments.map { "'\($0)'" }.joined(separator: " "))
        guard status == 0 else { throw TopologyError("es-proxy.sh \(arguments[0]) failed: \(status)") }
    }

    /// A name no other test or run uses.
    static func unique(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    /// A fresh temporary directory.
    static func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(unique("sluice-it")).path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A stream application's configuration against the local broker: its
    /// own state directory, join timings for the local broker.
    static func streamsConfig(_ applicationID: String, threads: Int = 1) -> StreamsConfig {
        var config = StreamsConfig(applicationID: applicationID, kafka: kafka)
        config.threads = threads
        config.stateDirectory = temporaryDirectory()
        config.consumer = KafkaConfig(groupTimings)
        return config
    }

    /// Creates the classify example's topics: input and outputs with `partitions` partitions.
    static func createClassifyTopics(input: String, prefix: String, dlq: String, partitions: Int = 6,
                                     on broker: Broker = .local) throws {
        let outputs = NginxClassify.Destination.allCases.map { NginxClassify.topic($0, prefix: prefix) }
        try broker.createTopics(([input, dlq] + outputs).map { NewTopic($0, partitions: partitions) })
    }
}

/// A classify run's expected and observed placement of every record key.
struct Placement {
    /// The topics records may land in.
    let topics: [String]
    /// Every key seen per topic, duplicates included.
    var seen: [String: [String]] = [:]
    /// The topic each key belongs in (a dropped record has none).
    var expected: [String: String] = [:]

    init(generator: NginxLogGenerator, count: Int, prefix: String, dlq: String) {
        topics = NginxClassify.Destination.allCases.map { NginxClassify.topic($0, prefix: prefix) } + [dlq]
        for i in 0..<count {
            expected["r\(i)"] = generator.entry(i).destination.map { NginxClassify.topic($0, prefix: prefix) } ?? dlq
        }
    }

    /// For `nginx-classify.yaml` on the mixed stream: topics are `prefix` + the destination's suffix.
    init(generator: MixedLogGenerator, count: Int, prefix: String, dlq: String) {
        topics = MixedLogGenerator.Destination.allCases.map { prefix + $0.rawValue } + [dlq]
        for i in 0..<count {
            let e = generator.entry(i)
            switch e.outcome {
            case .destination(let d): expected["m\(i)"] = prefix + d.rawValue
            case .deadLetter: expected["m\(i)"] = dlq
            case .dropped: break
            }
        }
    }

    mutating func record(_ m: KafkaMessage) {
        seen[m.topic, default: []].append(String(decoding: m.key ?? [], as: UTF8.self))
    }

    /// Keys whose record is in no topic at all.
    var missing: [String] {
        let all = Set(seen.values.joined())
        return expected.keys.filter { !all.contains($0) }.sorted()
    }

    /// Keys found in a topic their rule does not name.
    var misplaced: [String] {
        seen.flatMap { topic, keys in keys.filter { expected[$0] != topic } }
    }

    /// How many records are extra copies.
    var duplicates: Int { seen.values.reduce(0) { $0 + $1.count } - Set(seen.values.joined()).count }

    var distinctCount: Int { Set(seen.values.joined()).count }

    /// Reads the output topics until every key is seen (or `timeout`), then
    /// a little longer, so that late duplicates are counted too.
    mutating func collect(timeout: Duration, kafka: KafkaConfig = Services.kafka, isolation: String = "read_committed") throws {
        let total = expected.count
        var distinct = Set<String>()
        var all: [KafkaMessage] = []
        let reader = TopicReader(config: kafka, logger: Services.logger)
        try reader.read(topics, idle: timeout, timeout: timeout, isolation: isolation, until: { distinct.count >= total }) { m in
            distinct.insert(String(decoding: m.key ?? [], as: UTF8.self))
        }
        try reader.read(topics, idle: .seconds(3), isolation: isolation) { all.append($0) }
        for m in all { record(m) }
    }
}

/// A topology binary run as a child process, for crash and group tests.
final class TopologyProcess {
    private let child: ChildProcess
    let logPath: String

    /// Starts `executable` (a product of this package) with the given
    /// arguments and extra environment; its log goes to a file.
    init(_ arguments: [String], logPath: String, executable: String = "nginx-classify",
         environment: [String: String] = [:]) throws {
        self.logPath = logPath
        child = try ChildProcess(binaryPath(executable), arguments: arguments,
                                 environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                 outputPath: logPath)
    }

    var isRunning: Bool { child.isRunning }

    func signal(_ sig: Int32) { child.signal(sig) }

    /// Waits up to `timeout` for the process to end and returns its exit
    /// status (or signal). One still running then fails the test instead of
    /// hanging the run: it is killed, and the end of its log recorded.
    func wait(timeout: Duration = .seconds(180), sourceLocation: SourceLocation = #_sourceLocation) -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while child.isRunning, ContinuousClock.now < deadline { pause(0.2) }
        if child.isRunning {
            Issue.record("still running \(timeout) after it was asked to end; killed. Its log ends:\n\(log.suffix(3000))",
                         sourceLocation: sourceLocation)
            signal(SIGKILL)
        }
        return child.waitUntilExit()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// Standard arguments for the classify binary against the local broker.
func classifyArguments(input: String, prefix: String, app: String, stateDir: String, guarantee: ProcessingGuarantee,
                       threads: Int = 2, bootstrap: String = Services.bootstrap) -> [String] {
    ["--bootstrap", bootstrap, "--input", input, "--output-prefix", prefix, "--application-id", app,
     "--threads", String(threads), "--guarantee", guarantee.rawValue, "--state-dir", stateDir]
        + Services.groupTimings.flatMap { ["--kafka", "\($0.key)=\($0.value)"] }
}

/// The path of `product`, a binary of this package.
func binaryPath(_ product: String) -> String {
    let binDir = ProcessInfo.processInfo.environment["SLUICE_BIN_DIR"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug").path
    return URL(fileURLWithPath: binDir).appendingPathComponent(product).path
}

/// The fields of each event `message` in `log`, a process's JSON log lines
/// (what `sluice run` writes when its output is not a terminal).
func logEvents(_ message: String, in log: String) -> [[String: String]] {
    log.split(separator: "\n").compactMap { line in
        guard let event = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              event["message"] as? String == message else { return nil }
        return event.compactMapValues { $0 as? String }
    }
}

/// Sleeps the test's thread.
/// `GET http://127.0.0.1:PORT/PATH`: its status and body (status 0 when nothing answered).
func localGet(port: UInt16, _ path: String) -> (status: Int, body: String) {
    let response = try? HTTPClient(settings: HTTPSettings())
        .perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)\(path)")).get()
    return (response?.status ?? 0, response?.text ?? "")
}

/// The sum of the series of `family` in Prometheus text (those whose
/// labels contain `matching`, when given).
func metricTotal(_ family: String, in text: String, matching: String? = nil) -> Int {
    text.split(separator: "\n")
        .filter { $0.hasPrefix(family + "{") && (matching.map($0.contains) ?? true) }
        .compactMap { Int($0.split(separator: " ").last!) }.reduce(0, +)
}

func pause(_ seconds: Double) { Thread.sleep(forTimeInterval: seconds) }
