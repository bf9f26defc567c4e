import ArgumentParser
import Foundation
import SluiceExamples
import SluiceKafka

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Produce generated log records into a topic, or write them to a file for a dry run.")

    /// What the records look like.
    enum Kind: String, ExpressibleByArgument, CaseIterable {
        /// nginx-like JSON access records (`nginx-json-classify.yaml`, the Swift example).
        case json
        /// Mixed text lines: nginx access and error lines, app JSON logs (`nginx-classify.yaml`).
        case mixed
    }

    @OptionGroup var kafka: KafkaOptions
    @Option(help: "json: nginx-like JSON records; mixed: nginx access/error lines and app JSON logs as text.") var kind = Kind.json
    @Option(help: "Topic to create (if missing) and fill.") var topic = "nginx-mixed"
    @Option(help: "Records to produce.") var count = 100_000
    @Option(help: "Index of the first record (keys are r<index>).") var start = 0
    @Option(help: "Partitions of the topic if it is created.") var partitions = 6
    @Option(help: "Every Nth record is malformed (0: none).") var malformedEvery = 0
    @Option(help: "Seed of the generator.") var seed: UInt64 = 42
    @Option(help: "Write the records' values to this file, one per line (for `sluice run --dry-run`), instead of producing them.")
    var output: String?

    func run() throws {
        let logger = kafka.logger("sluice-generate")
        let generator: any IndexedRecordGenerator = switch kind {
        case .json: NginxLogGenerator(seed: seed, malformedEvery: malformedEvery)
        case .mixed: MixedLogGenerator(seed: seed, malformedEvery: malformedEvery)
        }
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: nil),
                  let file = FileHandle(forWritingAtPath: output) else { throw ValidationError("cannot write \(output)") }
            defer { try? file.close() }
            for chunk in stride(from: start, to: start + count, by: 10_000) {
                var lines: [UInt8] = []
                for i in chunk..<min(chunk + 10_000, start + count) { lines += generator.record(i).value + [0x0A] }
                try file.write(contentsOf: lines)
            }
            return print("wrote \(count) records to \(output)")
        }
        try generator.produce(start..<(start + count), topic: topic, partitions: partitions,
                              config: try kafka.config(), logger: logger)
        print("produced \(count) records into \(topic)")
    }
}
