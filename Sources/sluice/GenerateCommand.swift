import ArgumentParser
import SluiceExamples
import SluiceKafka

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Produce nginx-like JSON records into a topic.")

    @OptionGroup var kafka: KafkaOptions
    @Option(help: "Topic to create (if missing) and fill.") var topic = "nginx-mixed"
    @Option(help: "Records to produce.") var count = 100_000
    @Option(help: "Index of the first record (keys are r<index>).") var start = 0
    @Option(help: "Partitions of the topic if it is created.") var partitions = 6
    @Option(help: "Every Nth record is not JSON (0: none).") var malformedEvery = 0
    @Option(help: "Seed of the generator.") var seed: UInt64 = 42

    func run() throws {
        let logger = kafka.logger("sluice-generate")
        let generator = NginxLogGenerator(seed: seed, malformedEvery: malformedEvery)
        try generator.produce(start..<(start + count), topic: topic, partitions: partitions,
                              config: try kafka.config(), logger: logger)
        print("produced \(count) records into \(topic)")
    }
}
