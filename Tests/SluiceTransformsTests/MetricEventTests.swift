import SluiceTransforms
import Testing

@Suite struct MetricEventTests {
    private func event(_ json: String) throws -> Event { try Event(json: Array(json.utf8)) }

    @Test func aStatsDSampleReadsBackFromItsEventWithTagsRateAndDelta() throws {
        let (samples, _) = StatsDLine.parse("api.latency:12.5|ms|@0.5|#env:prod,canary\nq:+3|g\nusers:alice|s")
        let events = samples.map(\.event)
        #expect(String(decoding: events[0].json(), as: UTF8.self)
                == #"{"metric":"api.latency","type":"timer","value":12.5,"sample_rate":0.5,"tags":{"env":"prod","canary":true}}"#)
        #expect(events[1]["delta"] == .bool(true) && events[2]["value"] == "alice")
        #expect(try events.map { try StatsDSample(event: $0) } == samples)
    }

    @Test(arguments: [
        (#"{"type":"counter","value":1}"#, "no string field metric"),
        (#"{"metric":"a","type":"histogram","value":1}"#, "field type is not counter"),
        (#"{"metric":"a","type":"timer","value":"fast"}"#, "field value is not a number"),
        (#"{"metric":"a","type":"counter","value":1,"sample_rate":0}"#, "sample_rate 0.0 is not above 0"),
        (#"{"metric":"a","type":"set"}"#, "a set sample without a value"),
    ])
    func anEventThatIsNotASampleSaysWhatIsWrong(_ json: String, _ reason: String) throws {
        #expect { try StatsDSample(event: try event(json)) } throws: { "\($0)".contains(reason) }
    }

    @Test func aDerivedMetricTakesItsNameTagsAndValueFromTheEventAndSanitizesThem() throws {
        let metric = MetricDerivation(kind: .timer, name: try Template("%{service}.duration"), value: try FieldPath("[http][ms]"),
                                      tags: [("route", try Template("%{route}")), ("zone", try Template("%{zone}"))])
        var samples: [StatsDSample] = []
        try metric.sample(of: try event(#"{"service":"web shop","route":"/a;b=c","http":{"ms":"42.5"}}"#), into: &samples)
        #expect(samples == [StatsDSample(key: "web_shop.duration;route=-a_b_c", kind: .timer, value: 42.5)],
                "a numeric string counts; a tag whose field is missing is left out; ; and = in a tag become _")
    }

    @Test func aCounterCountsEventsAndASetKeepsTheFieldAsItsMember() throws {
        var samples: [StatsDSample] = []
        let e = try event(#"{"ip":"10.0.0.1","n":7}"#)
        try MetricDerivation(kind: .counter, name: try Template("hits")).sample(of: e, into: &samples)
        try MetricDerivation(kind: .counter, name: try Template("bytes"), value: try FieldPath("n"), sampleRate: 0.5).sample(of: e, into: &samples)
        try MetricDerivation(kind: .set, name: try Template("ips"), value: try FieldPath("ip")).sample(of: e, into: &samples)
        #expect(samples == [StatsDSample(key: "hits", kind: .counter, value: 1),
                            StatsDSample(key: "bytes", kind: .counter, value: 7, sampleRate: 0.5),
                            StatsDSample(key: "ips", kind: .set, value: 0, member: "10.0.0.1")])
    }

    @Test func aMissingOrNonNumericValueFailsUnlessTheMetricIsOptional() throws {
        let e = try event(#"{"ms":"slow"}"#)
        var samples: [StatsDSample] = []
        let missing = MetricDerivation(kind: .timer, name: try Template("t"), value: try FieldPath("duration"))
        #expect { try missing.sample(of: e, into: &samples) } throws: { "\($0)" == "no field duration for metric t" }
        let text = MetricDerivation(kind: .timer, name: try Template("t"), value: try FieldPath("ms"))
        #expect { try text.sample(of: e, into: &samples) } throws: { "\($0)".contains("is string slow, not a number") }
        let unnamed = MetricDerivation(kind: .counter, name: try Template("%{service}.hits"))
        #expect { try unnamed.sample(of: e, into: &samples) } throws: { "\($0)".contains("lacks a field of metric name") }
        var optional = missing
        optional.optional = true
        try optional.sample(of: e, into: &samples)
        #expect(samples.isEmpty)
    }
}
