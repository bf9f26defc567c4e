import Foundation
import SluiceKafka
import Testing

/// `sluice run` with an aggregate step that sends its rollups to a StatsD
/// server over UDP and a Graphite server over TCP, both stand-ins on
/// loopback that write what they receive to files.
@Suite(.serialized, .enabled(if: Services.enabled, "needs the local broker: run scripts/test.sh"))
struct MetricLineIntegrationTests {
    /// A UDP and a TCP listener on ports the kernel chose: the first line
    /// of its output is `<udp port> <tcp port>`; datagrams go to
    /// `udp.txt`, one per line, and stream bytes to `tcp.txt`.
    private static let servers = """
        import os, select, socket, sys
        out = sys.argv[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(); tcp.bind(("127.0.0.1", 0)); tcp.listen(4)
        print(udp.getsockname()[1], tcp.getsockname()[1], flush=True)
        streams = []
        while True:
            ready, _, _ = select.select([udp, tcp] + streams, [], [])
            for s in ready:
                if s is udp:
                    with open(os.path.join(out, "udp.txt"), "ab") as f: f.write(udp.recv(65536) + b"\\n")
                elif s is tcp:
                    streams.append(tcp.accept()[0])
                else:
                    data = s.recv(65536)
                    if not data: streams.remove(s); s.close(); continue
                    with open(os.path.join(out, "tcp.txt"), "ab") as f: f.write(data)
        """

    private static let base: Int64 = 1_700_000_000_000
    private static let services = ["web", "api"]

    /// Counter lines over 30 s of event time (three 10 s windows).
    private func line(_ i: Int) -> String { "api.hits:\(i % 4 + 1)|c|#svc:\(Self.services[i % 2])" }
    private func time(_ i: Int) -> Int64 { Self.base + Int64(i) * 30_000 / 600 }

    @Test func rollupsReachAStatsdServerAsGaugesAndAGraphiteServerStampedWithTheirWindowsEnd() throws {
        let run = Services.unique("metric-lines")
        let directory = Services.temporaryDirectory()
        let servers = try ChildProcess("/usr/bin/env", arguments: ["python3", "-u", "-c", Self.servers, directory],
                                       environment: ProcessInfo.processInfo.environment, outputPath: directory + "/servers.out")
        defer { servers.signal(SIGKILL); _ = servers.waitUntilExit() }
        var ports: [Substring] = []
        for _ in 0..<50 where ports.count < 2 {
            pause(0.1)
            ports = ((try? String(contentsOfFile: directory + "/servers.out", encoding: .utf8)) ?? "").split(whereSeparator: \.isWhitespace)
        }
        try #require(ports.count == 2, "the stand-in servers listen")

        try Services.Broker.local.createTopics([NewTopic("\(run)-in", partitions: 1), NewTopic("\(run)-dlq", partitions: 1)])
        let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
        for i in 0..<600 { try producer.send(topic: "\(run)-in", key: nil, value: Array(line(i).utf8), timestamp: time(i)) }
        try producer.send(topic: "\(run)-in", key: nil, value: Array("closer:1|c".utf8), timestamp: Self.base + 3_600_000)
        try producer.flush(timeout: .seconds(60))

        let file = directory + "/lines.yaml"
        try """
            application: \(run)
            sources:
              - { name: statsd, topics: ['\(run)-in'], format: statsd }
            destinations:
              relay: { statsd: { address: '127.0.0.1:\(ports[0])', prefix: '' } }
              carbon: { graphite: { address: '127.0.0.1:\(ports[1])' } }
            steps:
              - { name: hits, aggregate: { window: 10s, to: [relay, carbon] } }
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let process = try TopologyProcess(
            ["run", file, "--bootstrap", Services.bootstrap, "--state-dir", directory + "/state", "--log-level", "info"]
                + Services.groupTimings.flatMap { ["--kafka", "\($0.key)=\($0.value)"] },
            logPath: directory + "/sluice.log", executable: "sluice")
        defer { process.signal(SIGKILL) }

        // What each window's count must be, by service and window end, computed from the input.
        var counts: [String: [Int64: Int]] = [:]
        for i in 0..<600 { counts[Self.services[i % 2], default: [:]][(time(i) / 10_000 + 1) * 10, default: 0] += i % 4 + 1 }
        let windows = counts.flatMap { svc, ends in ends.map { (svc: svc, end: $0.key, count: $0.value) } }
        let graphite = windows.map { "stats.counters.api.hits.count;svc=\($0.svc) \($0.count) \($0.end)" }
        let statsd = windows.map { "counters.api.hits.count:\($0.count)|g|#svc:\($0.svc)" }
        /// The lines received in `name` that start with `prefix`, sorted (a
        /// StatsD line names no window: two windows can send the same line).
        func received(_ name: String, _ prefix: String = "") -> [String] {
            ((try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)) ?? "").split(separator: "\n")
                .map(String.init).filter { $0.hasPrefix(prefix) }.sorted()
        }
        let graphiteCounts = "stats.counters.api.hits.count;", statsdCounts = "counters.api.hits.count:"
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline, process.isRunning,
              received("tcp.txt", graphiteCounts).count < graphite.count || received("udp.txt", statsdCounts).count < statsd.count {
            pause(0.5)
        }
        process.signal(SIGTERM)
        #expect(process.wait() == 0, "\(process.log.suffix(1500))")

        let tcp = received("tcp.txt"), udp = received("udp.txt")
        print("metric lines: \(udp.count) StatsD lines, \(tcp.count) Graphite lines for \(windows.count) rollups of 3 windows")
        #expect(received("tcp.txt", graphiteCounts) == graphite.sorted(), "each window's count once in Graphite")
        #expect(received("udp.txt", statsdCounts) == statsd.sorted(), "each window's count once in StatsD")
        #expect(tcp.count == 2 * windows.count && udp.count == 2 * windows.count, "count and rate of each closed window, nothing else: \(tcp)")
    }
}
