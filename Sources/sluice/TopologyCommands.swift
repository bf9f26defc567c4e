import ArgumentParser
import Foundation
import Logging
import Sluice
import SluiceConfig
import SluiceKafka
import SluiceTransforms

/// Loads topology files, printing every problem as `file:line:col: message`
/// on standard error and exiting with 2 if there is any.
func loadTopologies(_ files: [String]) throws -> [TopologySpec] {
    var specs: [TopologySpec] = []
    var problems: [Diagnostic] = []
    for file in files {
        do { specs.append(try TopologyLoader.load(path: file)) } catch { problems += error.diagnostics }
    }
    guard problems.isEmpty else {
        FileHandle.standardError.write(Data((problems.map(\.description).joined(separator: "\n") + "\n").utf8))
        throw ExitCode(2)
    }
    return specs
}

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Checks topology files; prints every problem as file:line:col and exits 2 on any.")

    @Argument(help: "Topology files.") var files: [String]

    func run() throws {
        let specs = try loadTopologies(files)
        let steps = specs.reduce(0) { $0 + $1.stepOutline.count }
        print("\(specs.count) topolog\(specs.count == 1 ? "y" : "ies") valid: \(steps) top-level steps, "
              + "\(specs.reduce(0) { $0 + $1.destinations.count }) destinations")
    }
}

struct DescribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Prints a topology's processor graph and the topics it reads, writes and creates.")

    @Argument(help: "A topology file.") var file: String
    @Option(help: "text, dot or mermaid.") var format: String = "text"

    func run() throws {
        guard let format = DescriptionFormat(rawValue: format) else {
            throw ValidationError("--format must be one of \(DescriptionFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        print(try loadTopologies([file])[0].describe(format))
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Runs a topology file against Kafka, or with --dry-run on records from a file.")

    @Argument(help: "A topology file.") var file: String
    @Flag(help: "No Kafka: read records from --input, print one JSON object per output.") var dryRun = false
    @Option(help: "With --dry-run: a file of records (one per line, per the source's format), or - for standard input.")
    var input: String = "-"
    @Option(help: "Overrides the file's bootstrap.servers.") var bootstrap: String?
    @Option(name: .customLong("kafka"), help: "A librdkafka property overriding the file's, name=value; repeatable.")
    var properties: [String] = []
    @Option(help: "Local state directory (one per instance).") var stateDir = "/tmp/sluice"
    @Option(help: "Log level.") var logLevel = "info"
    @Option(help: "Log lines as text or json (default: json unless standard error is a terminal).") var logFormat: LogFormat?
    @Option(help: "Serve Prometheus metrics at http://HOST:PORT/metrics, and the /health and /ready probes (IPv4).") var metricsAddress: String?
    @Flag(help: "Stop as on SIGTERM when the parent process ends (for a supervisor such as `sluice demo`).") var exitWithParent = false

    func run() throws {
        let spec = try loadTopologies([file])[0]
        if dryRun { return try runDry(spec) }
        if exitWithParent { stopWhenOrphaned() }
        LogLineHandler.bootstrap(logFormat)
        var logger = Logger(label: spec.application)
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let app = try StreamApplication(topology: try spec.topology(),
                                        config: spec.streamsConfig(overrides: try overrides(), stateDirectory: stateDir),
                                        logger: logger)
        let metrics = try metricsAddress.map { try MetricsEndpoint(application: app, address: $0) }
        defer { metrics?.close() }
        let status = isatty(STDERR_FILENO) != 0 ? StatusLine(registry: app.metrics) : nil
        status?.start()
        defer { status?.finish() }
        try app.runUntilSignalled()
    }

    /// Sends this process SIGTERM once its parent has gone (it is then
    /// adopted by another): a supervisor killed without the chance to stop
    /// its children leaves none running.
    private func stopWhenOrphaned() {
        let parent = getppid()
        Thread.detachNewThread {
            while getppid() == parent { Thread.sleep(forTimeInterval: 0.5) }
            kill(getpid(), SIGTERM)
        }
    }

    private func overrides() throws -> KafkaConfig {
        var overrides = try KafkaConfig(assignments: properties)
        if let bootstrap { overrides["bootstrap.servers"] = bootstrap }
        return overrides
    }

    private func runDry(_ spec: TopologySpec) throws {
        let dry = try DryRun(spec)
        let handle = input == "-" ? FileHandle.standardInput : try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
        let out = FileHandle.standardOutput
        // Every output is encoded straight into one buffer, written out every 64 KB.
        var buffer = JSONWriter(capacity: 1 << 17)
        func write(_ outputs: [DryRun.Output]) {
            DryRun.Output.writeLines(outputs, to: &buffer)
            if buffer.count >= 1 << 16 {
                out.write(Data(buffer.bytes))
                buffer.removeAll()
            }
        }
        try forEachLine(handle) { line in write(try dry.process(value: Array(line))) }
        write(try dry.finish())
        out.write(Data(buffer.bytes))
    }
}

/// Calls `body` with each line of `handle` (without its newline), reading in large blocks.
func forEachLine(_ handle: FileHandle, _ body: (ArraySlice<UInt8>) throws -> Void) throws {
    var pending: [UInt8] = []
    while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
        pending += chunk
        var start = 0
        while let newline = pending[start...].firstIndex(of: 0x0A) {
            if newline > start { try body(pending[start..<newline]) }
            start = newline + 1
        }
        pending.removeFirst(start)
    }
    if !pending.isEmpty { try body(pending[...]) }
}

struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test", abstract: "Runs the test cases kept in topology files, without Kafka; exit 1 on any failure.")

    @Argument(help: "Topology files.") var files: [String]

    func run() throws {
        var passed = 0, failed = 0
        for spec in try loadTopologies(files) {
            if spec.tests.isEmpty { print("\(spec.file): no test cases") }
            for result in spec.runTests() {
                if result.passed {
                    passed += 1
                    print("PASS \(spec.file): \(result.name)")
                } else {
                    failed += 1
                    print("FAIL \(spec.file): \(result.name)")
                    for line in result.differences { print("    \(line)") }
                }
            }
        }
        print("topology tests: \(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }
}
