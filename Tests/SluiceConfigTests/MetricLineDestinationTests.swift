import Sluice
import SluiceConfig
import SluiceSinks
import SluiceTransforms
import Testing

/// `statsd` and `graphite` destinations: how they read, that only
/// aggregates may name them, and the lines a rollup becomes there.
@Suite struct MetricLineDestinationTests {
    private static let destinations = """
        { rollups: { topic: r }, logs: { topic: l },
            relay: { statsd: { address: "127.0.0.1:8125", prefix: "" } },
            carbon: { graphite: { address: "[::1]:2003" } } }
        """

    private static func yaml(to: String, stepTo: String = "logs") -> String {
        AggregateStepTests.yaml(step: """
              - { name: web, aggregate: { window: 10s, metrics: [{ counter: requests, tags: [service] }], to: \(to) } }
              - to: \(stepTo)
            """, destinations: destinations)
    }

    private func problems(_ yaml: String) -> [String] { AggregateStepTests().problems(yaml) }

    @Test func statsdAndGraphiteDestinationsReadTheirServerProtocolAndPrefix() throws {
        let spec = try TopologyLoader.load(yaml: Self.yaml(to: "[relay, carbon]"), file: "t.yaml")
        guard case .metricLines(let relay) = spec.destinations[2].target,
              case .metricLines(let carbon) = spec.destinations[3].target else {
            Issue.record("expected metric line destinations, found \(spec.destinations.map(\.label))")
            return
        }
        #expect(relay.format == .statsd && relay.prefix == "" && relay.config.transport == .udp)
        #expect(relay.config.host == "127.0.0.1" && relay.config.port == 8125)
        #expect(carbon.format == .graphite && carbon.prefix == "stats" && carbon.config.transport == .tcp)
        #expect(carbon.config.host == "::1" && carbon.config.port == 2003)
        #expect(spec.aggregates.first?.destinations == [2, 3])
        _ = try spec.topology()
    }

    @Test func aStepCannotSendEventsToAServerThatTakesOnlyRollups() {
        #expect(problems(Self.yaml(to: "rollups", stepTo: "carbon"))
            == ["8:9: destination 'carbon' takes only rollups (StatsD or Graphite lines): name it in an aggregate step's `to`"])
    }

    @Test(arguments: [
        ("{ out: { graphite: { address: localhost } } }", "expected an address as host:port (port 1 to 65535), found 'localhost'"),
        ("{ out: { statsd: { address: 'h:8125', protocol: quic } } }", "unknown protocol 'quic' (expected one of: udp, tcp)"),
        ("{ out: { graphite: { address: 'h:2003', protocol: udp } } }", "unknown key 'protocol' in a graphite destination (expected one of: address, prefix)"),
        ("{ out: { topic: t, statsd: { address: 'h:1' } } }",
         "expected destination 'out' to have exactly one of `topic`, `elasticsearch`, `statsd` or `graphite`"),
    ])
    func aBadServerDestinationIsRefusedAtItsPosition(destinations: String, message: String) {
        let found = problems(AggregateStepTests.yaml(step: "      - drop", destinations: destinations))
        #expect(found.count == 1 && found.first?.hasPrefix("3:") == true && found.first?.hasSuffix(message) == true, "\(found)")
    }

    @Test func aRollupBecomesStatsdGaugesOrGraphiteLinesStampedWithItsWindowsEnd() {
        let rollup = Rollup(key: "requests;service=web", kind: .counter, start: 1_700_000_000_000, end: 1_700_000_010_000,
                            fields: [MetricField("count", 20), MetricField("rate", 2)])
        let config = MetricLineSinkConfig(host: "h", port: 1, transport: .udp)
        let statsd = MetricLineDestination(format: .statsd, config: config, prefix: "")
        let graphite = MetricLineDestination(format: .graphite, config: config, prefix: "stats")
        #expect(String(decoding: statsd.lines(of: rollup), as: UTF8.self)
            == "counters.requests.count:20|g|#service:web\ncounters.requests.rate:2|g|#service:web\n")
        #expect(String(decoding: graphite.lines(of: rollup), as: UTF8.self)
            == "stats.counters.requests.count;service=web 20 1700000010\nstats.counters.requests.rate;service=web 2 1700000010\n")
    }
}
