import ArgumentParser
import Foundation
import SluiceConfig
import SluiceSinks
import SluiceTransforms

struct InferMappingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer-mapping",
        abstract: "Proposes an Elasticsearch mapping from sample records, to review and paste into a template.",
        discussion: """
        Reads JSON records, one per line, or raw records run through a topology's steps \
        (--topology), and prints a mapping: dates, IP addresses, numbers, booleans, and \
        strings as keyword or text. Fields whose samples disagree are mapped as keyword \
        and flagged with a comment.
        """)

    @Option(help: "Sample records, one per line, or - for standard input.") var input: String
    @Option(help: "A topology file: records are run through its steps and what reaches its destinations is sampled.")
    var topology: String?
    @Option(help: "With --topology: sample only what reaches this destination.") var destination: String?
    @Option(help: "yaml (for a topology's `template: mappings:`) or json (for Elasticsearch).") var format = "yaml"

    func validate() throws {
        guard ["yaml", "json"].contains(format) else { throw ValidationError("--format must be yaml or json, not '\(format)'") }
        if destination != nil && topology == nil { throw ValidationError("--destination needs --topology") }
    }

    func run() throws {
        let sampler = try topology.map { try TopologySampler(file: $0, destination: destination) }
        var inference = MappingInference()
        var skipped = 0
        let handle = input == "-" ? FileHandle.standardInput : try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
        try forEachLine(handle) { line in
            if let sampler {
                let documents = try sampler.documents(Array(line))
                if documents.isEmpty { skipped += 1 }
                for document in documents { inference.add(document) }
            } else if case .object(let document)? = try? JSONParser.parse(line) {
                inference.add(document)
            } else {
                skipped += 1
            }
        }
        let why = sampler == nil ? "not JSON objects" : "dead-lettered, dropped or sent elsewhere"
        FileHandle.standardError.write(Data("proposed from \(inference.documents) documents\(skipped > 0 ? " (\(skipped) records skipped: \(why))" : "")\n".utf8))
        guard inference.documents > 0 else { throw ExitCode(1) }
        if format == "json" {
            print(String(decoding: JSONWriter.encode(.object(inference.mapping)), as: UTF8.self))
        } else {
            print("# Proposed from \(inference.documents) sample documents: review, then paste under a template's `mappings:`.")
            print(inference.yaml, terminator: "")
        }
    }
}

/// Runs raw records through a topology and keeps what reaches its
/// destinations (or one of them): the documents a sink would index.
struct TopologySampler {
    let dryRun: DryRun
    let destinations: Set<String>

    init(file: String, destination: String?) throws {
        let spec = try loadTopologies([file])[0]
        let names = spec.destinations.map(\.name)
        if let destination, !names.contains(destination) {
            throw ValidationError("\(file) has no destination '\(destination)' (it has: \(names.joined(separator: ", ")))")
        }
        dryRun = try DryRun(spec)
        destinations = destination.map { [$0] } ?? Set(names)
    }

    func documents(_ line: [UInt8]) throws -> [FieldMap] {
        try dryRun.process(value: line).compactMap {
            guard case .destination(let name, _, _, let event) = $0, destinations.contains(name) else { return nil }
            return event.fields
        }
    }
}
