import ArgumentParser
import Logging
import Sluice
import SluiceExamples
import SluiceKafka

/// A topology binary: the classify example as a deployable process.
@main
struct NginxClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nginx-classify",
        abstract: "Splits a topic of nginx-like JSON records into <prefix>errors, <prefix>api and <prefix>other.")

    @Option(help: "Kafka bootstrap servers.") var bootstrap = "127.0.0.1:19092"
    @Option(help: "Input topic.") var input = "nginx-mixed"
    @Option(help: "Prefix of the output topics.") var outputPrefix = "nginx-"
    @Option(help: "Application id: consumer group and prefix of internal topics.") var applicationID = "nginx-classify"
    @Option(help: "Stream threads.") var threads = 2
    @Option(help: "at_least_once or exactly_once.") var guarantee = "at_least_once"
    @Option(help: "Local state directory (one per instance).") var stateDir = "/tmp/sluice"
    @Option(help: "Commit interval in milliseconds (default: per guarantee).") var commitIntervalMs: Int?
    @Option(name: .customLong("kafka"), help: "A librdkafka property, name=value; repeatable.") var properties: [String] = []
    @Option(help: "Log level.") var logLevel = "info"
    @Option(help: "Log lines as text or json (default: json unless standard error is a terminal).") var logFormat: LogFormat?
    @Option(help: "Serve Prometheus metrics at http://HOST:PORT/metrics, and the /health and /ready probes (IPv4).") var metricsAddress: String?

    func run() throws {
        LogLineHandler.bootstrap(logFormat)
        var logger = Logger(label: "nginx-classify")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        guard let guarantee = ProcessingGuarantee(rawValue: guarantee) else {
            throw ValidationError("--guarantee must be one of \(ProcessingGuarantee.allCases.map(\.rawValue))")
        }
        let kafka = KafkaConfig(["bootstrap.servers": bootstrap]).merging(try KafkaConfig(assignments: properties))
        var config = StreamsConfig(applicationID: applicationID, kafka: kafka)
        config.threads = threads
        config.guarantee = guarantee
        config.stateDirectory = stateDir
        config.commitInterval = commitIntervalMs.map { .milliseconds($0) }
        let topology = try NginxClassify.topology(input: input, outputPrefix: outputPrefix)
        let app = try StreamApplication(topology: topology, config: config, logger: logger)
        let metrics = try metricsAddress.map { try MetricsEndpoint(application: app, address: $0) }
        defer { metrics?.close() }
        try app.runUntilSignalled()
    }
}

extension LogFormat: ExpressibleByArgument {}
