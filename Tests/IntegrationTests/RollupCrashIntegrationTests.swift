import Foundation
import Sluice
import SluiceKafka
import SluiceTransforms
import Testing

/// `topologies/statsd-rollup.yaml` run by `sluice run` on the real broker
/// and Elasticsearch, killed with SIGKILL five times in the middle of its
/// windows (once restarted as another instance whose local state is gone):
/// the last rollup per metric and window in the topic, and the rollup
/// documents in Elasticsearch, equal a computation made here from the
/// input. This rests on the input offsets kept in the state, not on broker
/// transactions, so it holds under both guarantees on a broker that does
/// not hide aborted transactions.
///
/// The suite runs on its own (scripts/test.sh): the Elasticsearch suite
/// restarts Elasticsearch under its tests.
@Suite(.serialized, .enabled(if: Services.enabled, "needs the local broker and Elasticsearch: run scripts/test.sh"))
struct RollupCrashIntegrationTests {
    let es = Elasticsearch()

    /// StatsD lines and nginx-like access records over 60 s of event time
    /// (six 10 s windows), each metric's records on one partition.
    struct RollupInput {
        let run: String
        let lines = 6_000, accesses = 6_000
        static let base: Int64 = 1_700_000_000_000
        let services = ["checkout", "search", "catalog", "auth"]
        var statsdTopic: String { "\(run)-statsd" }
        var accessTopic: String { "\(run)-access" }
        var output: String { "\(run)-rollups" }

        func time(_ i: Int, of count: Int) -> Int64 { Self.base + Int64(i) * 60_000 / Int64(count) }
        func line(_ i: Int) -> String {
            let svc = services[i % 4]
            return "api.hits:\(i % 5 + 1)|c|#svc:\(svc)\napi.ms:\(i % 97)|ms|#svc:\(svc)"
        }
        func access(_ j: Int) -> (service: String, status: Int, bytes: Int, ms: Int, ip: String) {
            (services[j % 4], [200, 201, 404, 503][(j / 4) % 4], j % 1000, j % 89, "10.0.\(j % 7).\(j % 13)")
        }
        func accessJSON(_ j: Int) -> String {
            let a = access(j)
            return #"{"@timestamp":\#(time(j, of: accesses)),"service":"\#(a.service)","status":\#(a.status),"bytes":\#(a.bytes),"duration_ms":\#(a.ms),"client_ip":"\#(a.ip)"}"#
        }

        /// Produces the `part`th of `parts` slices of both inputs (in time order); a service's records all go to one partition.
        func produce(part: Int, of parts: Int) throws {
            let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
            for i in (lines * part / parts)..<(lines * (part + 1) / parts) {
                try producer.send(topic: statsdTopic, partition: Int32(i % 4 % 2), key: nil, value: Array(line(i).utf8),
                                  timestamp: time(i, of: lines))
            }
            for j in (accesses * part / parts)..<(accesses * (part + 1) / parts) {
                try producer.send(topic: accessTopic, partition: Int32(j % 4 % 2), key: nil, value: Array(accessJSON(j).utf8))
            }
            try producer.flush(timeout: .seconds(60))
        }

        /// One record per partition an hour later: every window closes.
        func produceClosers() throws {
            let producer = try KafkaProducer(config: Services.kafka, logger: Services.logger)
            let later = Self.base + 3_600_000
            for p: Int32 in 0...1 {
                try producer.send(topic: statsdTopic, partition: p, key: nil, value: Array("closer:1|c".utf8), timestamp: later)
                try producer.send(topic: accessTopic, partition: p, key: nil, value: Array(
                    #"{"@timestamp":\#(later),"service":"closer","status":200,"bytes":1,"duration_ms":1,"client_ip":"x"}"#.utf8))
            }
            try producer.flush(timeout: .seconds(60))
        }

        /// The statistics each rollup must end with, by ``rollupKey``, computed from the input.
        var expected: [String: [String: Double]] {
            var out: [String: [String: Double]] = [:]
            func window(_ t: Int64) -> String { iso8601(milliseconds: t - t % 10_000) }
            func add(_ key: String, count: Double, value: Double? = nil) {
                var f = out[key, default: ["count": 0]]
                f["count"]! += count
                if let value {
                    f["sum", default: 0] += value
                    f["upper"] = max(f["upper"] ?? value, value)
                    f["lower"] = min(f["lower"] ?? value, value)
                }
                out[key] = f
            }
            for i in 0..<lines {
                let w = window(time(i, of: lines)), svc = services[i % 4]
                add("api.hits svc=\(svc) \(w)", count: Double(i % 5 + 1))
                add("api.ms svc=\(svc) \(w)", count: 1, value: Double(i % 97))
            }
            var clients: [String: Set<String>] = [:]
            for j in 0..<accesses {
                let w = window(time(j, of: accesses)), a = access(j)
                add("nginx.requests service=\(a.service),status_class=\(a.status / 100)xx \(w)", count: 1)
                add("nginx.bytes service=\(a.service) \(w)", count: Double(a.bytes))
                add("nginx.duration_ms service=\(a.service) \(w)", count: 1, value: Double(a.ms))
                clients["nginx.clients service=\(a.service) \(w)", default: []].insert(a.ip)
            }
            for (key, ips) in clients { out[key] = ["count": Double(ips.count)] }
            return out
        }
    }

    /// A rollup's identity as ``RollupInput/expected`` writes it: metric, sorted tags, window start.
    static func rollupKey(_ rollup: FieldMap) -> String? {
        guard case .string(let metric)? = rollup["metric"], case .object(let window)? = rollup["window"],
              case .string(let start)? = window["start"] else { return nil }
        var tags: [String] = []
        if case .object(let t)? = rollup["tags"] { tags = zip(t.keys, t.values).map { "\($0)=\($1.text)" }.sorted() }
        return "\(metric) \(tags.joined(separator: ",")) \(start)"
    }

    /// The statistics of `rollup` that `want` names.
    static func statistics(_ rollup: FieldMap, like want: [String: Double]) -> [String: Double] {
        var out: [String: Double] = [:]
        for key in want.keys { if let n = rollup[key]?.number { out[key] = n } }
        return out
    }

    /// The last rollup per identity in the output topic (closers left out).
    func lastRollups(_ input: RollupInput) throws -> [String: FieldMap] {
        var out: [String: FieldMap] = [:]
        try TopicReader(config: Services.kafka, logger: Services.logger).read([input.output], isolation: "read_uncommitted") { m in
            guard case .object(let rollup)? = try? JSONParser.parse(m.value ?? []), let key = Self.rollupKey(rollup),
                  !key.contains("closer") else { return }
            out[key] = rollup
        }
        return out
    }

    /// Every rollup document in the run's indices.
    func rollupDocuments(_ input: RollupInput) throws -> [String: FieldMap] {
        _ = try es.call("POST", "/\(input.run)-*/_refresh")
        let response = try es.call("GET", "/\(input.run)-*/_search?size=10000")
        guard case .object(let root) = try JSONParser.parse(response.body), case .object(let hits)? = root["hits"],
              case .array(let items)? = hits["hits"] else { return [:] }
        var out: [String: FieldMap] = [:]
        for case .object(let hit) in items {
            guard case .object(let source)? = hit["_source"], let key = Self.rollupKey(source), !key.contains("closer") else { continue }
            out[key] = source
        }
        return out
    }

    /// Creates the run's topics and returns a way to start `sluice run` on
    /// the rollup example with them (its state in the directory given, its
    /// log in the run's directory).
    private func rollupRunner(_ input: RollupInput, guarantee: ProcessingGuarantee, standbyReplicas: Int = 0) throws
        -> (directory: String, start: (String) throws -> TopologyProcess) {
        try Services.Broker.local.createTopics([NewTopic(input.statsdTopic, partitions: 2), NewTopic(input.accessTopic, partitions: 2),
                                                NewTopic(input.output, partitions: 1), NewTopic("\(input.run)-dlq", partitions: 1)])
        let file = TopologyFileIntegrationTests.topologies.appendingPathComponent("statsd-rollup.yaml").path
        let environment = ["ROLLUP_APPLICATION_ID": input.run, "ROLLUP_STATSD_TOPIC": input.statsdTopic,
                           "ROLLUP_ACCESS_TOPIC": input.accessTopic, "ROLLUP_OUTPUT_TOPIC": input.output,
                           "ROLLUP_INDEX_PREFIX": input.run, "ROLLUP_GUARANTEE": guarantee.rawValue,
                           "ROLLUP_STANDBY_REPLICAS": String(standbyReplicas)]
        let directory = Services.temporaryDirectory()
        var instance = 0
        return (directory, { stateDir in
            instance += 1
            return try TopologyProcess(
                ["run", file, "--state-dir", stateDir, "--bootstrap", Services.bootstrap, "--log-level", "info"]
                    + Services.groupTimings.flatMap { ["--kafka", "\($0.key)=\($0.value)"] },
                logPath: "\(directory)/\(instance).log", executable: "sluice", environment: environment)
        })
    }

    /// Waits until every window's rollup is in the topic and Elasticsearch,
    /// stops `last`, and checks that each equals the computation from the input.
    private func expectFinalRollups(_ input: RollupInput, last: TopologyProcess, _ label: String) throws {
        let expected = input.expected
        let searchable = expected.keys.filter { $0.hasPrefix("nginx.") }.count
        let deadline = ContinuousClock.now + .seconds(180)
        while ContinuousClock.now < deadline {
            if try lastRollups(input).count >= expected.count, try rollupDocuments(input).count >= searchable { break }
            pause(1)
        }
        last.signal(SIGTERM)
        #expect(last.wait() == 0, "\(last.log.suffix(1500))")

        let topic = try lastRollups(input), documents = try rollupDocuments(input)
        print("\(label): \(topic.count) of \(expected.count) rollups in the topic, \(documents.count) of \(searchable) documents in Elasticsearch")
        let searchableKeys = Set(expected.keys.filter { $0.hasPrefix("nginx.") })
        #expect(Set(topic.keys) == Set(expected.keys), "no window missed or made up; missing \(Set(expected.keys).subtracting(topic.keys).sorted().prefix(3)), extra \(Set(topic.keys).subtracting(expected.keys).sorted().prefix(3))")
        #expect(Set(documents.keys) == searchableKeys, "missing \(searchableKeys.subtracting(documents.keys).sorted().prefix(3)), extra \(Set(documents.keys).subtracting(searchableKeys).sorted().prefix(3))")
        var wrong: [String] = []
        for (key, want) in expected.sorted(by: { $0.key < $1.key }) {
            if let got = topic[key].map({ Self.statistics($0, like: want) }), got != want { wrong.append("topic \(key): \(got) ≠ \(want)") }
            if let got = documents[key].map({ Self.statistics($0, like: want) }), got != want { wrong.append("es \(key): \(got) ≠ \(want)") }
        }
        #expect(wrong.isEmpty, "no input counted twice or lost: \(wrong.prefix(5))")
    }

    private func killFiveTimesAndFinish(_ guarantee: ProcessingGuarantee) throws {
        let input = RollupInput(run: Services.unique("rollup-kill"))
        let (directory, start) = try rollupRunner(input, guarantee: guarantee)
        var stateDir = directory + "/a", seen = 0
        for kill in 0..<5 {
            // The third restart is another instance: its local state is gone.
            if kill == 3 { stateDir = directory + "/b" }
            // Six slices of 10 s: a window closes 2 s into the slice after it.
            for part in (kill == 0 ? 0 : kill + 1)...(kill + 1) { try input.produce(part: part, of: 6) }
            let process = try start(stateDir)
            defer { process.signal(SIGKILL) }
            // Killed as soon as a window of this slice has closed: the next windows are open, mid-aggregation.
            var count = 0
            try TopicReader(config: Services.kafka, logger: Services.logger)
                .read([input.output], idle: .seconds(60), timeout: .seconds(90), isolation: "read_uncommitted",
                      until: { count > seen }) { _ in count += 1 }
            try #require(count > seen, "a window closed before kill \(kill + 1): \(process.log.suffix(1500))")
            seen = count
            process.signal(SIGKILL)
            #expect(process.wait() == SIGKILL)
        }
        try input.produceClosers()
        let last = try start(stateDir)
        defer { last.signal(SIGKILL) }
        try expectFinalRollups(input, last: last, "rollup kill -9 ×5 (\(guarantee.rawValue))")
    }

    @Test(arguments: ProcessingGuarantee.allCases)
    func withAStandbyReplicaTheSurvivorOfAKillTakesOverReadingOnlyTheChangelogTail(_ guarantee: ProcessingGuarantee) throws {
        let input = RollupInput(run: Services.unique("rollup-standby"))
        let (directory, start) = try rollupRunner(input, guarantee: guarantee, standbyReplicas: 1)
        for part in 0..<3 { try input.produce(part: part, of: 6) }
        let a = try start(directory + "/a")
        defer { a.signal(SIGKILL) }
        let b = try start(directory + "/b")
        defer { b.signal(SIGKILL) }
        // Each keeps copies of the other's tasks once both have announced them.
        var copied: Set<String> = []
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            copied = Set(logEvents("standby task started", in: b.log).compactMap { $0["task"] })
            if copied.count == 2, !logEvents("standby task started", in: a.log).isEmpty { break }
            pause(0.5)
        }
        try #require(copied.count == 2, "b keeps copies of a's two tasks: \(b.log.suffix(2000))")
        // Windows of the first slices close; the copies follow a's changelog writes as its offsets commit.
        var rollups = 0
        try TopicReader(config: Services.kafka, logger: Services.logger)
            .read([input.output], idle: .seconds(60), timeout: .seconds(90), isolation: "read_uncommitted",
                  until: { rollups > 0 }) { _ in rollups += 1 }
        try #require(rollups > 0, "windows closed: \(a.log.suffix(1500))")
        pause(5)
        a.signal(SIGKILL)
        #expect(a.wait() == SIGKILL)

        for part in 3..<6 { try input.produce(part: part, of: 6) }
        try input.produceClosers()
        try expectFinalRollups(input, last: b, "rollup standby takeover (\(guarantee.rawValue))")

        let closed = logEvents("standby task closed", in: b.log).compactMap { $0["task"] }
        #expect(Set(closed) == copied, "b closed each copy as its stream thread took the task over: \(b.log.suffix(3000))")
        var takeovers: [String: [String: String]] = [:]
        for e in logEvents("state store restored", in: b.log) where copied.contains(e["task"] ?? "") {
            takeovers["\(e["task"]!) \(e["store"]!)"] = e
        }
        #expect(Set(takeovers.values.compactMap { $0["task"] }) == copied, "each task taken over restored its stores")
        for (store, e) in takeovers.sorted(by: { $0.key < $1.key }) {
            let from = Int(e["changelog"]?.split(separator: "@").last ?? "") ?? 0
            print("standby takeover of \(store): read \(e["read"] ?? "?") changelog records from offset \(from)")
            #expect(from > 0, "\(store) restored from its copy's position, not from the beginning: \(e)")
        }
    }

    @Test func atLeastOnceRollupsEqualTheInputsAfterFiveKillsAndARestartWithoutLocalState() throws {
        try killFiveTimesAndFinish(.atLeastOnce)
    }

    @Test func exactlyOnceRollupsEqualTheInputsAfterFiveKillsAndARestartWithoutLocalState() throws {
        try killFiveTimesAndFinish(.exactlyOnce)
    }
}
