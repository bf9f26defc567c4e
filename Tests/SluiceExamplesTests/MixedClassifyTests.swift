import Foundation
import SluiceConfig
import SluiceExamples
import SluiceTransforms
import Testing

/// `nginx-classify.yaml` run without Kafka on the generated mixed stream:
/// every line ends where the generator, from the values it chose, says.
@Suite struct MixedClassifyTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../topologies/nginx-classify.yaml").standardized.path

    @Test func everyGeneratedLineLandsWhereTheGeneratorSays() throws {
        let spec = try TopologyLoader.load(path: Self.file, environment: [:])
        let dryRun = try DryRun(spec)
        let generator = MixedLogGenerator(seed: 11, malformedEvery: 97)
        var counts: [String: Int] = [:], wrong: [String] = []
        for i in 0..<20_000 {
            let entry = generator.entry(i)
            let outputs = try dryRun.process(value: entry.value, key: entry.key, timestamp: entry.timestamp)
            let got: MixedLogGenerator.Outcome?
            switch (outputs.count, outputs.first) {
            case (0, _): got = .dropped
            case (1, .deadLetter?): got = .deadLetter
            case (1, .destination(let name, _, _, _)?):
                got = MixedLogGenerator.Destination.allCases.first { $0 == .nginxErrors ? name == "nginx_errors" : name == $0.rawValue }
                    .map(MixedLogGenerator.Outcome.destination)
            default: got = nil
            }
            counts["\(entry.outcome)", default: 0] += 1
            if got != entry.outcome, wrong.count < 5 {
                wrong.append("\(String(decoding: entry.value, as: UTF8.self)) → \(outputs), expected \(entry.outcome)")
            }
        }
        #expect(wrong.isEmpty, "\(wrong.joined(separator: "\n"))")
        // Every outcome occurs, so that none of the rules goes untested.
        #expect(counts.count == MixedLogGenerator.Destination.allCases.count + 2, "\(counts)")
    }

    @Test func theEventTimeComesFromTheLineNotFromTheKafkaRecord() throws {
        let spec = try TopologyLoader.load(path: Self.file, environment: [:])
        let generator = MixedLogGenerator(seed: 3)
        let entry = (0..<50).lazy.map(generator.entry).first { if case .destination(.access) = $0.outcome { true } else { false } }!
        let out = try DryRun(spec).process(value: entry.value, timestamp: 0)
        guard case .destination(_, _, _, let event)? = out.first else { Issue.record("\(out)"); return }
        #expect(event["@timestamp"]?.string?.hasPrefix("2026-") == true, "\(event.fields)")
        #expect(event[try FieldPath("[event][created]")] == "1970-01-01T00:00:00.000Z")
    }
}
