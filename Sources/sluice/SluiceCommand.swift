import ArgumentParser
import Foundation
import Logging
import Sluice
import SluiceKafka

@main
struct SluiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Sluice: a stream-processing engine for telemetry pipelines.",
        subcommands: [RunCommand.self, ValidateCommand.self, DescribeCommand.self, TestCommand.self, DemoCommand.self, GenerateCommand.self, InferMappingCommand.self,
                      BenchCommand.self, BenchPhaseCommand.self])
}

/// Options every command that talks to Kafka shares.
struct KafkaOptions: ParsableArguments {
    @Option(help: "Kafka bootstrap servers.") var bootstrap = "127.0.0.1:19092"
    @Option(help: "Log level (trace, debug, info, warning, error); the commands print their own results.")
    var logLevel = "error"
    @Option(help: "Log lines as text or json (default: json unless standard error is a terminal).") var logFormat: LogFormat?
    @Option(name: .customLong("kafka"), help: "A librdkafka property for every client, name=value; repeatable.")
    var properties: [String] = []

    /// Group timings for joins of seconds on the local broker, whose join
    /// takes ~23 s with librdkafka's defaults. `--kafka` overrides them.
    static let groupTimings = KafkaConfig(["max.poll.interval.ms": "7000", "session.timeout.ms": "6000"])

    /// A name for this run's topics and group, unique per second.
    static func runName(_ prefix: String) -> String { "\(prefix)-\(Int(Date().timeIntervalSince1970))" }

    /// The connection settings: bootstrap servers and every `--kafka` property.
    func config() throws -> KafkaConfig {
        KafkaConfig(["bootstrap.servers": bootstrap]).merging(try KafkaConfig(assignments: properties))
    }

    func logger(_ label: String) -> Logger {
        LogLineHandler.bootstrap(logFormat)
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
        return logger
    }
}

extension LogFormat: ExpressibleByArgument {}
