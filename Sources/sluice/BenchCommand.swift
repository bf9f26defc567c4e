import ArgumentParser
import Foundation
import Logging
import Sluice
import SluiceConfig
import SluiceExamples
import SluiceKafka
import SluiceTransforms

/// The classify benchmark: generates the input once, then runs each phase in
/// its own child process so that CPU time and peak RSS are the phase's own.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure a topology against a bare librdkafka consume → produce loop, in one run.",
        discussion: """
        Without --topology: the Swift classify example on nginx-like JSON records, at at_least_once and exactly_once; \
        exactly_once also against its own ceiling: the bare loop spreading the records over as many topics, in \
        transactions committed as often. \
        With --topology FILE (written for the mixed stream, as topologies/nginx-classify.yaml): the file in dry run \
        (no Kafka, one thread) and on the broker, on mixed text lines. \
        With --aggregate: the rollup example (10 s windows per service: request and byte counters, a duration timer \
        with p90 and p99; RocksDB state and changelog) against a bare consumer that only reads. \
        With --elasticsearch URL: the Elasticsearch sink fed from the broker against a bare consumer feeding a bare \
        bulk indexer (5,000-document requests of the same documents and ids), and Elasticsearch alone (the requests \
        built beforehand, no broker), each into a fresh index. \
        With --restore: a full restore of the rollup example's state (--records changelog records of timer aggregates, \
        into a new state directory each round) against a bare consumer reading the same changelog.
        """)

    @OptionGroup var kafka: KafkaOptions
    @Option(help: "Records to generate and move in each phase.") var records = 1_000_000
    @Option(help: "Partitions of the input topic.") var partitions = 6
    @Option(help: "Rounds; each phase reports its median.") var rounds = 3
    @Option(help: "Stream threads of the topology phases, and bare loops of their ceiling.") var threads = 1
    @Option(help: "A topology file to measure on mixed text lines instead of the Swift classify example.") var topology: String?
    @Option(help: "An Elasticsearch URL: measure the Elasticsearch sink instead.") var elasticsearch: String?
    @Option(help: "With --elasticsearch: bulk requests under way at once (the ceiling's, and the sink's per thread).")
    var inFlight = 2
    @Option(name: .customLong("watch"), help: "NAME=PID: also report that process's CPU seconds in each phase (repeatable).")
    var watches: [String] = []
    @Flag(help: "Measure the windowed rollup example (RocksDB and changelog) against a bare consumer instead.")
    var aggregate = false
    @Flag(help: "Measure a full restore of the rollup example's state against a bare consumer of its changelog instead.")
    var restore = false

    private var phases: [BenchPhase] {
        if elasticsearch != nil { return [.bulkCeiling, .elasticsearchSink, .bulkAlone] }
        if aggregate { return [.consumeCeiling, .rollup] }
        if restore { return [.changelogCeiling, .restore] }
        return topology == nil ? [.ceiling, .passthrough, .atLeastOnce, .transactionalCeiling, .exactlyOnce]
            : [.ceiling, .dryRun, .topologyFile]
    }

    func run() throws {
        let logger = kafka.logger("sluice-bench")
        let config = try kafka.config()
        let run = KafkaOptions.runName("bench")
        let input = "\(run)-in"
        if restore {
            let state = RestoreBenchState(input: input, partitions: partitions, records: records)
            print("writing \(records) changelog records into \(state.changelog)…")
            try state.prepare(config: config, logger: logger)
        } else {
            try generate(input, config: config, logger: logger)
        }

        // Phases alternate over several rounds and each reports its median:
        // the broker shares the machine, and one run's figure is noise.
        var samples: [BenchPhase: [BenchResult]] = [:]
        let admin = try KafkaAdmin(config: config, logger: logger)
        for round in 1...rounds {
            for phase in phases {
                let result = try runPhase(phase, input: input, run: "\(run)-\(round)")
                // Each phase's own topics go once it is measured: a broker that keeps
                // its log in memory slowed round by round as millions of records piled up.
                try admin.deleteTopics(admin.topics(startingWith: "\(run)-\(round)-"))
                samples[phase, default: []].append(result)
                print(String(format: "round %d  %-30@ %9.0f records/s  %5.1f CPU s  %4.0f MB peak RSS%@%@", round,
                             phase.title as NSString, result.recordsPerSecond, result.cpuSeconds, result.peakRSSMegabytes,
                             result.latencyText as NSString, serviceText(result) as NSString))
            }
        }
        let median = samples.mapValues { BenchResult.median($0) }
        // A phase against a ceiling: the ratio of the medians, and each
        // round's figure against the same round's ceiling (the spread of the
        // ratio itself, which the medians hide).
        func ratio(_ phase: BenchPhase, to ceiling: BenchPhase) -> (median: Double, rounds: ClosedRange<Double>) {
            let byRound = zip(samples[phase]!, samples[ceiling]!).map { $0.recordsPerSecond / $1.recordsPerSecond }
            return (median[phase]!.recordsPerSecond / median[ceiling]!.recordsPerSecond, byRound.min()!...byRound.max()!)
        }
        print("\n\(records) records, \(threads) stream thread(s), median of \(rounds) rounds:\n")
        let names = try watched().map(\.name)
        print("| phase | records/s | × ceiling | × ceiling by round | CPU s | peak RSS MB | request p50 / p99 ms |"
              + names.map { " \($0) CPU s |" }.joined())
        print("|---|---:|---:|---:|---:|---:|---:|" + String(repeating: "---:|", count: names.count))
        for phase in phases {
            let r = median[phase]!, x = ratio(phase, to: phases[0])
            print(String(format: "| %@ | %.0f | %.2f | %.2f–%.2f | %.1f | %.0f | %@ |", phase.title as NSString,
                         r.recordsPerSecond, x.median, x.rounds.lowerBound, x.rounds.upperBound, r.cpuSeconds,
                         r.peakRSSMegabytes, (r.p50.map { "\(Int($0)) / \(Int(r.p99 ?? 0))" } ?? "-") as NSString)
                  + r.serviceCPU.map { String(format: " %.1f |", $0) }.joined())
        }
        for phase in phases {
            guard let own = phase.ownCeiling, phases.contains(own) else { continue }
            let x = ratio(phase, to: own)
            print(String(format: "\n%@ × %@: %.2f (rounds %.2f–%.2f)", phase.title as NSString, own.title as NSString,
                         x.median, x.rounds.lowerBound, x.rounds.upperBound))
        }
    }

    /// Writes the records of the phases into `input`.
    private func generate(_ input: String, config: KafkaConfig, logger: Logger) throws {
        let nginx = topology == nil || elasticsearch != nil || aggregate
        let generator: any IndexedRecordGenerator = nginx ? NginxLogGenerator() : MixedLogGenerator()
        let size = (0..<1000).reduce(0) { $0 + generator.record($1).value.count } / 1000
        print("generating \(records) \(nginx ? "nginx-like JSON records" : "mixed text lines") (~\(size) B) into \(input)…")
        try generator.produce(0..<records, topic: input, partitions: partitions, config: config, logger: logger)
    }

    /// The processes named by `--watch`.
    private func watched() throws -> [(name: String, pid: pid_t)] {
        try watches.map { text in
            let parts = text.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let pid = pid_t(parts[1]) else { throw ValidationError("expected --watch NAME=PID, found '\(text)'") }
            return (String(parts[0]), pid)
        }
    }

    private func serviceText(_ result: BenchResult) -> String {
        zip((try? watched()) ?? [], result.serviceCPU).map { String(format: "  %@ %.1f CPU s", $0.name as NSString, $1) }.joined()
    }

    private func runPhase(_ phase: BenchPhase, input: String, run: String) throws -> BenchResult {
        let resultFile = NSTemporaryDirectory() + "\(run)-\(phase.rawValue).result"
        var arguments = [CommandLine.arguments[0], "bench-phase", phase.rawValue, "--bootstrap", kafka.bootstrap,
                         "--input", input, "--records", String(records), "--run", run, "--result-file", resultFile]
        arguments += ["--threads", String(threads), "--partitions", String(partitions), "--in-flight", String(inFlight)]
        arguments += kafka.properties.flatMap { ["--kafka", $0] }
        if let topology { arguments += ["--topology", topology] }
        if let elasticsearch { arguments += ["--elasticsearch", elasticsearch] }
        // posix_spawn + wait4 rather than Foundation's Process, whose reaper
        // would take the child's resource usage before we can read it.
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, arguments[0], nil, nil, argv, environ) == 0 else {
            throw ValidationError("cannot start \(arguments[0])")
        }
        let services = try watched().map(\.pid)
        let servicesBefore = services.map(cpuSeconds)
        var usage = rusage()
        var status: Int32 = 0
        _ = wait4(pid, &status, 0, &usage)
        let serviceCPU = zip(services.map(cpuSeconds), servicesBefore).map { $0 - $1 }
        guard status == 0, let text = try? String(contentsOfFile: resultFile, encoding: .utf8) else {
            throw ValidationError("phase \(phase.rawValue) failed (wait status \(status))")
        }
        let fields = text.split(separator: " ").map { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard let seconds = fields.first ?? nil else { throw ValidationError("phase \(phase.rawValue) wrote '\(text)'") }
        return BenchResult(recordsPerSecond: Double(records) / seconds, cpuSeconds: usage.cpuSeconds,
                           peakRSSMegabytes: Double(usage.ru_maxrss) / 1024,
                           p50: fields.count > 1 ? fields[1] : nil, p99: fields.count > 2 ? fields[2] : nil,
                           serviceCPU: serviceCPU)
    }
}

/// The CPU seconds (user and system) process `pid` has used, from
/// /proc/PID/stat; 0 when it cannot be read.
func cpuSeconds(_ pid: pid_t) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let end = stat.lastIndex(of: ")") else { return 0 }
    // After the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let fields = stat[stat.index(after: end)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

struct BenchResult {
    var recordsPerSecond: Double
    var cpuSeconds: Double
    var peakRSSMegabytes: Double
    /// Request latency percentiles in milliseconds, for phases that send requests.
    var p50: Double?
    var p99: Double?
    /// CPU seconds of each watched process during the phase, in `--watch` order.
    var serviceCPU: [Double] = []

    var latencyText: String { p50.map { "  p50 \(Int($0)) ms  p99 \(Int(p99 ?? 0)) ms" } ?? "" }

    /// The median of each figure over `samples`.
    static func median(_ samples: [BenchResult]) -> BenchResult {
        func mid(_ values: [Double]) -> Double {
            let v = values.sorted()
            return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
        }
        let p50s = samples.compactMap(\.p50), p99s = samples.compactMap(\.p99)
        return BenchResult(recordsPerSecond: mid(samples.map(\.recordsPerSecond)), cpuSeconds: mid(samples.map(\.cpuSeconds)),
                           peakRSSMegabytes: mid(samples.map(\.peakRSSMegabytes)),
                           p50: p50s.isEmpty ? nil : mid(p50s), p99: p99s.isEmpty ? nil : mid(p99s),
                           serviceCPU: samples[0].serviceCPU.indices.map { i in mid(samples.map { $0.serviceCPU[i] }) })
    }
}

enum BenchPhase: String, CaseIterable, ExpressibleByArgument {
    case ceiling, passthrough, atLeastOnce = "at_least_once", exactlyOnce = "exactly_once"
    case transactionalCeiling = "transactional_ceiling"
    case dryRun = "dry_run", topologyFile = "topology_file"
    case bulkCeiling = "bulk_ceiling", elasticsearchSink = "elasticsearch_sink", bulkAlone = "bulk_alone"
    case consumeCeiling = "consume_ceiling", rollup
    case changelogCeiling = "changelog_ceiling", restore

    var title: String {
        switch self {
        case .ceiling: "(a) bare consume → produce"
        case .passthrough: "(a') pass-through topology"
        case .transactionalCeiling: "(a'') bare loop, \(NginxClassify.Destination.allCases.count) topics, transactions"
        case .atLeastOnce: "(b) classify, at_least_once"
        case .exactlyOnce: "(c) classify, exactly_once"
        case .dryRun: "(d) topology file, dry run"
        case .topologyFile: "(e) topology file on the broker"
        case .bulkCeiling: "(f) bare consumer → bulk indexer"
        case .elasticsearchSink: "(g) broker → Elasticsearch sink"
        case .bulkAlone: "(h) Elasticsearch alone, no broker"
        case .consumeCeiling: "(i) bare consume"
        case .rollup: "(j) windowed rollup, RocksDB + changelog"
        case .changelogCeiling: "(k) bare consume of the changelog"
        case .restore: "(l) full restore into RocksDB"
        }
    }

    /// A ceiling of this phase's own beside the first phase's: for (c), the
    /// bare loop that makes the same transactions, so that the engine's
    /// share shows apart from the broker's.
    var ownCeiling: BenchPhase? { self == .exactlyOnce ? .transactionalCeiling : nil }
}

/// One phase, run as a child of `sluice bench`: writes to `--result-file`
/// the seconds from the first record read to the last output acknowledged
/// (and, for the topology, committed).
struct BenchPhaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-phase", shouldDisplay: false)

    @Argument var phase: BenchPhase
    @OptionGroup var kafka: KafkaOptions
    @Option var input: String
    @Option var records: Int
    @Option(name: .customLong("run")) var runName: String
    @Option var resultFile: String
    @Option var threads = 1
    @Option var topology: String?
    @Option var elasticsearch: String?
    @Option var partitions = 6
    @Option var inFlight = 2

    func run() throws {
        let logger = kafka.logger("sluice-bench")
        let config = try kafka.config()
        let url = elasticsearch ?? ""
        let outcome = switch phase {
        case .ceiling: PhaseOutcome(seconds: try bareLoops(into: ["\(runName)-ceiling-out"], input, config, logger))
        case .transactionalCeiling:
            // (c)'s outputs: as many topics as the classify example has destinations.
            PhaseOutcome(seconds: try bareLoops(into: NginxClassify.Destination.allCases.map { "\(runName)-transactional-\($0)" },
                                                input, config, logger,
                                                transactions: .init(id: "\(runName)-bare", interval: ProcessingGuarantee.exactlyOnce.defaultCommitInterval)))
        case .dryRun: PhaseOutcome(seconds: try dryRun())
        case .topologyFile: PhaseOutcome(seconds: try runFile(config, logger))
        case .bulkCeiling: try bulkFromBroker(url, config, logger)
        case .bulkAlone: try bulkAlone(url)
        case .elasticsearchSink: try elasticsearchSink(url, config, logger)
        case .consumeCeiling: PhaseOutcome(seconds: try bareLoops(into: [], input, config, logger))
        case .changelogCeiling:
            PhaseOutcome(seconds: try bareLoops(into: [], RestoreBenchState(input: input, partitions: partitions, records: records).changelog,
                                                config, logger))
        case .restore: PhaseOutcome(seconds: try runRestore(config, logger))
        case .rollup: PhaseOutcome(seconds: try runRollup(config, logger))
        default: PhaseOutcome(seconds: try runTopology(config, logger))
        }
        try outcome.line.write(toFile: resultFile, atomically: true, encoding: .utf8)
    }

    /// The ceilings: `--threads` bare loops reading the `--partitions`
    /// partitions of `topic`, moving each record to one of `outputs` if
    /// there are any, in `transactions` if given.
    private func bareLoops(into outputs: [String], _ topic: String, _ config: KafkaConfig, _ logger: Logger,
                           transactions: BareLoops.Transactions? = nil) throws -> Double {
        let loops = BareLoops(records: records, outputs: outputs, producerConfig: StreamsConfig.producerDefaults.merging(config),
                              transactions: transactions, logger: logger)
        return try loops.run(threads: threads, reading: (0..<Int32(partitions)).map { TopicPartition(topic, $0) }) {
            try bareConsumer(config, logger)
        }
    }

    /// The rollup example with `--threads` stream threads, at least once.
    private func runRollup(_ config: KafkaConfig, _ logger: Logger) throws -> Double {
        var streams = StreamsConfig(applicationID: "\(runName)-rollup", kafka: config)
        streams.consumer = KafkaOptions.groupTimings
        streams.threads = threads
        streams.stateDirectory = NSTemporaryDirectory() + "sluice-bench-\(runName)"
        defer { try? FileManager.default.removeItem(atPath: streams.stateDirectory) }
        let topology = try NginxRollup.topology(input: input, output: "\(runName)-rollup-out")
        return try timed(StreamApplication(topology: topology, config: streams, logger: logger))
    }

    /// A full restore of the rollup example's state (see
    /// ``RestoreBenchState``) by an application with a new state directory:
    /// seconds from the first changelog record read to the last task restored.
    private func runRestore(_ config: KafkaConfig, _ logger: Logger) throws -> Double {
        let state = RestoreBenchState(input: input, partitions: partitions, records: records)
        var streams = StreamsConfig(applicationID: state.applicationID, kafka: config)
        streams.consumer = KafkaOptions.groupTimings
        streams.threads = threads
        streams.stateDirectory = NSTemporaryDirectory() + "sluice-bench-\(runName)"
        defer { try? FileManager.default.removeItem(atPath: streams.stateDirectory) }
        let app = try StreamApplication(topology: try NginxRollup.topology(input: input, output: "\(runName)-rollup-out"),
                                        config: streams, logger: logger)
        app.start()
        while app.restoredCount == 0 { blockThread(for: .milliseconds(1)) }
        let start = ContinuousClock.now
        while app.restoredCount < records || app.restoringTaskCount > 0 { blockThread(for: .milliseconds(1)) }
        let elapsed = ContinuousClock.now - start
        app.stop()
        try app.wait()
        return elapsed.seconds
    }

    /// A consumer with a stream thread's client settings (so that a ratio to
    /// a ceiling measures the engine), in a group of the phase's own, that
    /// reads nothing until subscribed or assigned; `forSink`: the settings
    /// of a thread writing to a sink outside Kafka.
    func bareConsumer(_ config: KafkaConfig, _ logger: Logger, forSink: Bool = false) throws -> KafkaConsumer {
        var defaults = StreamsConfig.consumerDefaults
        if forSink { defaults = defaults.merging(StreamsConfig.sinkConsumerDefaults) }
        var consumerConfig = defaults.merging(config).merging(KafkaOptions.groupTimings)
        consumerConfig["group.id"] = "\(runName)-\(phase.rawValue)"
        // As a stream thread's consumer under exactly-once.
        if phase == .transactionalCeiling { consumerConfig["isolation.level"] = "read_committed" }
        return try KafkaConsumer(config: consumerConfig, logger: logger)
    }

    /// The classify topology with one stream thread.
    private func runTopology(_ config: KafkaConfig, _ logger: Logger) throws -> Double {
        var streams = StreamsConfig(applicationID: "\(runName)-\(phase.rawValue)", kafka: config)
        streams.consumer = KafkaOptions.groupTimings
        streams.guarantee = phase == .exactlyOnce ? .exactlyOnce : .atLeastOnce
        streams.threads = threads
        streams.stateDirectory = NSTemporaryDirectory() + "sluice-bench"
        let topology: Topology
        if phase == .passthrough {
            // The engine alone: the ceiling's work (one topic, no parsing) through tasks and a stream thread.
            let builder = TopologyBuilder()
            builder.stream([input]).to("\(runName)-passthrough-out")
            topology = try builder.build()
        } else {
            topology = try NginxClassify.topology(input: input, outputPrefix: "\(runName)-\(phase.rawValue)-")
        }
        return try timed(StreamApplication(topology: topology, config: streams, logger: logger))
    }
}

extension BenchPhaseCommand {
    /// The topology file with the bench's topics, read as `sluice run` reads it.
    private func spec() throws -> TopologySpec {
        guard let topology else { throw ValidationError("phase \(phase.rawValue) needs --topology") }
        let environment = ProcessInfo.processInfo.environment.merging(
            ["NGINX_INPUT": input, "NGINX_OUTPUT_PREFIX": "\(runName)-yaml-", "NGINX_APPLICATION_ID": "\(runName)-yaml"]) { $1 }
        return try TopologyLoader.load(path: topology, environment: environment)
    }

    /// The file's steps on one thread without Kafka, each output encoded as
    /// `sluice run --dry-run` writes it. Lines are generated in chunks
    /// outside the timed part, so that only the topology is measured.
    private func dryRun() throws -> Double {
        let dryRun = try DryRun(try spec())
        let generator = MixedLogGenerator()
        var elapsed = Duration.zero, bytes = 0
        var buffer = JSONWriter(capacity: 1 << 17)
        for chunk in stride(from: 0, to: records, by: 10_000) {
            let entries = (chunk..<min(chunk + 10_000, records)).map(generator.entry)
            let start = ContinuousClock.now
            for e in entries {
                DryRun.Output.writeLines(try dryRun.process(value: e.value, key: e.key, timestamp: e.timestamp), to: &buffer)
                if buffer.count >= 1 << 16 {
                    bytes += buffer.count
                    buffer.removeAll()
                }
            }
            elapsed += ContinuousClock.now - start
        }
        bytes += buffer.count
        precondition(bytes > 0)
        return elapsed.seconds
    }

    /// The file run on the broker as `sluice run` runs it, with `--threads` stream threads.
    private func runFile(_ config: KafkaConfig, _ logger: Logger) throws -> Double {
        let spec = try spec()
        var streams = spec.streamsConfig(overrides: config, stateDirectory: NSTemporaryDirectory() + "sluice-bench")
        streams.consumer = KafkaOptions.groupTimings
        streams.threads = threads
        let app = try StreamApplication(topology: try spec.topology(), config: streams, logger: logger)
        return try timed(app)
    }

    /// Seconds from the first record processed to the last, committed and stopped.
    func timed(_ app: StreamApplication) throws -> Double {
        app.start()
        app.waitUntilProcessed(1)
        let start = ContinuousClock.now
        app.waitUntilProcessed(records)
        app.stop()
        try app.wait()
        return (ContinuousClock.now - start).seconds
    }
}
