import ArgumentParser
import Foundation
import Sluice
import SluiceExamples
import SluiceKafka

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Generate a mixed nginx topic, classify it with two stream threads, and show where every record went.")

    @OptionGroup var kafka: KafkaOptions
    @Option(help: "Records to generate.") var records = 100_000
    @Option(help: "Every Nth record is not JSON and goes to the dead-letter topic.") var malformedEvery = 1000

    func run() throws {
        let logger = kafka.logger("sluice-demo")
        let run = KafkaOptions.runName("demo")
        let config = try kafka.config()
        let input = "\(run)-nginx-mixed", prefix = "\(run)-nginx-"
        let generator = NginxLogGenerator(malformedEvery: malformedEvery)

        print("generating \(records) records into \(input) (6 partitions)…")
        try generator.produce(0..<records, topic: input, partitions: 6, config: config, logger: logger)
        var streams = StreamsConfig(applicationID: run, kafka: config)
        streams.threads = 2
        streams.stateDirectory = NSTemporaryDirectory() + "sluice-demo"
        streams.consumer = KafkaOptions.groupTimings
        let outputs = NginxClassify.Destination.allCases.map { NginxClassify.topic($0, prefix: prefix) }
        try KafkaAdmin(config: config, logger: logger).createTopics(
            (outputs + [streams.effectiveDeadLetterTopic]).map { NewTopic($0, partitions: 6) })

        print("classifying with 2 stream threads (at_least_once)…")
        let app = try StreamApplication(topology: NginxClassify.topology(input: input, outputPrefix: prefix),
                                        config: streams, logger: logger)
        let started = ContinuousClock.now
        app.start()
        app.waitUntilProcessed(records)
        let elapsed = ContinuousClock.now - started
        app.stop()
        try app.wait()

        var expected: [String: Int] = [:]
        for i in 0..<records {
            let topic = generator.entry(i).destination.map { NginxClassify.topic($0, prefix: prefix) } ?? streams.effectiveDeadLetterTopic
            expected[topic, default: 0] += 1
        }
        var actual: [String: Int] = [:]
        try TopicReader(config: config, logger: logger).read(outputs + [streams.effectiveDeadLetterTopic]) {
            actual[$0.topic, default: 0] += 1
        }
        print("\nprocessed \(app.processedCount) records in \(elapsed.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1))))\n")
        print("destination".padding(36) + "records".padding(10, left: true) + "expected".padding(10, left: true))
        for topic in outputs + [streams.effectiveDeadLetterTopic] {
            print(topic.padding(36) + String(actual[topic, default: 0]).padding(10, left: true)
                  + String(expected[topic, default: 0]).padding(10, left: true))
        }
        guard actual == expected.filter({ $0.value > 0 }) else {
            throw ValidationError("the topics do not hold what the rules say (duplicates are possible only after a crash)")
        }
        print("\nevery record is in exactly the topic its rule names")
    }
}

extension String {
    func padding(_ width: Int, left: Bool = false) -> String {
        let pad = String(repeating: " ", count: max(0, width - count))
        return left ? pad + self : self + pad
    }
}
