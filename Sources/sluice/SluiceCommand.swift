import ArgumentParser
import Logging

@main
struct SluiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Sluice: a stream-processing engine for telemetry pipelines.",
        subcommands: [DemoCommand.self, GenerateCommand.self, BenchCommand.self, BenchPhaseCommand.self])
}

/// Options every command that talks to Kafka shares.
struct KafkaOptions: ParsableArguments {
    @Option(help: "Kafka bootstrap servers.") var bootstrap = "127.0.0.1:19092"
    @Option(help: "Log level (trace, debug, info, warning, error).") var logLevel = "warning"

    func logger(_ label: String) -> Logger {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
        return logger
    }
}
