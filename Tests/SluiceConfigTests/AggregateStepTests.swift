import Sluice
import SluiceConfig
import SluiceTransforms
import Testing

/// `aggregate` steps: how they read, what they refuse (each problem at its
/// position), and what they produce in a dry run.
@Suite struct AggregateStepTests {
    static func yaml(source: String = "json", step: String, destinations: String = "{ rollups: { topic: r }, logs: { topic: l } }") -> String {
        """
        application: app
        sources: [{ topics: [in], format: \(source) }]
        destinations: \(destinations)
        steps:
        \(step)
        """
    }

    /// The diagnostics of loading `yaml`, as `line:column: message`.
    func problems(_ yaml: String) -> [String] {
        do {
            _ = try TopologyLoader.load(yaml: yaml, file: "t.yaml")
            return []
        } catch {
            return error.diagnostics.map { "\($0.line):\($0.column): \($0.message)" }
        }
    }

    @Test func anAggregateStepReadsItsWindowsEmitModeTimersAndMetrics() throws {
        let spec = try TopologyLoader.load(yaml: Self.yaml(step: """
              - name: web
                aggregate:
                  window: 1m
                  advance: 30s
                  grace: 5s
                  emit: update
                  update_interval: 2s
                  idle_close: 90s
                  late: count
                  percentiles: [95, -10]
                  exact_limit: 500
                  metrics:
                    - { counter: requests, tags: [service] }
                    - { timer: latency, value: ms, tags: { route: '%{method} %{path}' }, sample_rate: 0.5 }
                  to: rollups
            """), file: "t.yaml")
        let a = try #require(spec.aggregates.first)
        #expect(a.name == "web" && a.destinations == [0])
        #expect(a.options.windows == (try TimeWindows(size: .seconds(60), advance: .seconds(30), grace: .seconds(5))))
        #expect(a.options.emit == .update(every: .seconds(2)) && a.options.idleClose == .seconds(90) && !a.options.lateToDeadLetter)
        #expect(a.timers.percentiles == [95, -10] && a.timers.exactLimit == 500)
        let samples = try a.samples(of: try Event(json: Array(#"{"service":"s","ms":3,"method":"GET","path":"/x"}"#.utf8)))
        #expect(samples == [StatsDSample(key: "requests;service=s", kind: .counter, value: 1),
                            StatsDSample(key: "latency;route=GET_-x", kind: .timer, value: 3, sampleRate: 0.5)])
        #expect(a.repartition)
        #expect(spec.internalTopics == ["app-web-repartition", "app-web-changelog"])
    }

    @Test func anAggregateRollsEachMetricUpInOneTaskThroughItsRepartitionTopicUnlessItsInputIsKeyedSo() throws {
        func yaml(_ extra: String) -> String {
            Self.yaml(step: "      - { name: web, aggregate: { window: 10s, \(extra)metrics: [{ counter: requests, tags: [service] }], to: rollups } }")
        }
        let topology = try TopologyLoader.load(yaml: yaml(""), file: "t.yaml").topology()
        #expect(topology.repartitionTopics == ["app-web-repartition"])
        let driver = TopologyTestDriver(topology: topology, applicationID: "app")
        defer { driver.close() }
        try driver.pipe("in", partition: 0, value: #"{"service":"s"}"#, timestamp: 1_000)
        try driver.pipe("in", partition: 1, value: #"{"service":"s"}"#, timestamp: 2_000)
        try driver.endInput()
        let counts = try driver.output("r").map { m -> Double? in
            guard case .object(let rollup) = try JSONParser.parse(m.value ?? []) else { return nil }
            return rollup["count"]?.number
        }
        #expect(counts == [2], "one rollup of both partitions' records")

        let keyed = try TopologyLoader.load(yaml: yaml("repartition: false, "), file: "t.yaml")
        let keyedTopology = try keyed.topology()
        #expect(keyed.internalTopics == ["app-web-changelog"] && keyedTopology.repartitionTopics.isEmpty)
        #expect(problems(yaml("repartition: sometimes, ")) == ["5:61: expected repartition as true or false, found 'sometimes'"])
    }

    @Test(arguments: [
        ("      - aggregate: { window: 10s, metrics: [{ counter: c }], to: rollups }", "5:9: expected a `name` on an aggregate step"),
        ("      - { name: a, aggregate: { window: 10s, to: rollups } }", "5:31: expected `metrics` in an aggregate step"),
        ("      - { name: a, aggregate: { window: 10, metrics: [{ counter: c }], to: rollups } }",
         "5:41: expected a window size as a whole number and a unit"),
        ("      - { name: a, aggregate: { window: 10s, advance: 20s, metrics: [{ counter: c }], to: rollups } }",
         "5:55: bad windows: a window's advance must be above 0 and at most its size"),
        ("      - { name: a, aggregate: { window: 10s, update_interval: 1s, metrics: [{ counter: c }], to: rollups } }",
         "5:63: update_interval applies to `emit: update` only"),
        ("      - { name: a, aggregate: { window: 10s, metrics: [{ timer: t }], to: rollups } }",
         "5:56: expected a `value` field for a timer"),
        ("      - { name: a, aggregate: { window: 10s, metrics: [{ counter: c, gauge: g }], to: rollups } }",
         "5:56: expected a metric to name exactly one kind"),
        ("      - { name: a, aggregate: { window: 10s, percentiles: [0], metrics: [{ counter: c }], to: rollups } }",
         "5:60: expected a percentile between -100 and 100 other than 0"),
        ("      - { name: a, aggregate: { window: 10s, metrics: [{ counter: c }], to: rolups } }",
         "5:77: unknown destination 'rolups'; did you mean 'rollups'?"),
    ])
    func aBadAggregateStepIsReportedAtItsPosition(_ step: String, _ expected: String) {
        let found = problems(Self.yaml(step: step))
        #expect(found.contains { $0.hasPrefix(expected) }, "\(found)")
    }

    @Test func twoAggregatesCannotShareANameAndTheEnginesNamesAreTaken() {
        let twice = problems(Self.yaml(step: """
              - { name: a, aggregate: { window: 10s, metrics: [{ counter: c }], to: rollups } }
              - { name: a, aggregate: { window: 1m, metrics: [{ counter: c }], to: rollups } }
            """))
        #expect(twice.contains { $0.hasPrefix("6:13: expected each aggregate step to have its own name") }, "\(twice)")
        let taken = problems(Self.yaml(step: "      - { name: steps, aggregate: { window: 10s, metrics: [{ counter: c }], to: rollups } }"))
        #expect(taken.contains { $0.contains("'steps' is a name the engine uses") }, "\(taken)")
    }

    @Test func rollupsGoOnlyToElasticsearchDestinationsWhoseIdIsTheKey() {
        let es = "{ rollups: { elasticsearch: { hosts: ['http://127.0.0.1:9'], index: r } } }"
        let step = "      - { name: a, aggregate: { window: 10s, metrics: [{ counter: c }], to: rollups } }"
        let found = problems(Self.yaml(step: step, destinations: es))
        #expect(found.contains { $0.contains("expected destination 'rollups' to have `id: key`") }, "\(found)")
        #expect(problems(Self.yaml(step: step, destinations: es.replacingOccurrences(of: "index: r", with: "index: r, id: key"))).isEmpty)
    }

    @Test func aStatsDSourceNeedsNoMetricsButTakesNoTimestampField() {
        let step = "      - { name: a, aggregate: { window: 10s, to: rollups } }"
        #expect(problems(Self.yaml(source: "statsd", step: step)).isEmpty)
        let timed = Self.yaml(source: "statsd, timestamp: { field: t, formats: [ISO8601] }", step: step)
        #expect(problems(timed).contains { $0.contains("expected no timestamp field for a statsd source") }, "\(problems(timed))")
    }

    @Test func stepsGoOnAfterAnAggregateAndAnEventThatEndsThereIsDone() throws {
        let spec = try TopologyLoader.load(yaml: Self.yaml(step: """
              - { name: hits, aggregate: { window: 10s, metrics: [{ counter: hits }], to: rollups } }
              - where: '[keep] == true'
              - to: logs
            """), file: "t.yaml")
        let dry = try DryRun(spec)
        func names(_ outputs: [DryRun.Output]) -> [String] {
            outputs.map { if case .destination(let name, _, _, _) = $0 { name } else { "dead letter" } }
        }
        #expect(names(try dry.process(value: Array(#"{"keep":true}"#.utf8), timestamp: 1_000)) == ["logs"])
        #expect(names(try dry.process(value: Array(#"{"keep":false}"#.utf8), timestamp: 2_000)).isEmpty,
                "aggregated, then filtered out: nothing to dead-letter")
        let rollups = try dry.finish()
        guard case .destination("rollups", _, let key?, let event)? = rollups.first, rollups.count == 1 else {
            Issue.record("\(rollups)")
            return
        }
        #expect(event["count"] == .int(2) && event["@timestamp"] == "1970-01-01T00:00:00.000Z")
        #expect(String(decoding: key, as: UTF8.self) == Rollup(key: "hits", kind: .counter, start: 0, end: 10_000, fields: []).documentID,
                "the record key is the rollup's stable id")
    }

    @Test func aDerivedMetricWhoseFieldIsMissingDeadLettersTheRecordNamingTheStep() throws {
        let spec = try TopologyLoader.load(yaml: Self.yaml(step: """
              - { name: lat, aggregate: { window: 10s, metrics: [{ timer: t, value: ms }], to: rollups } }
            """), file: "t.yaml")
        let out = try DryRun(spec).process(value: Array(#"{"x":1}"#.utf8))
        guard case .deadLetter(_, _, _, let step, let reason)? = out.first else { Issue.record("\(out)"); return }
        #expect(step == "lat" && reason == "no field ms for metric t")
    }
}
