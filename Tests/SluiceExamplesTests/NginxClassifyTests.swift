import Sluice
import SluiceExamples
import SluiceKafka
import Testing

@Suite struct NginxClassifyTests {
    @Test func rulesSendServerErrorsFirstThenAPIPathsThenTheRest() {
        #expect(NginxClassify.destination(status: 503, path: "/api/x") == .errors)
        #expect(NginxClassify.destination(status: 500, path: "/") == .errors)
        #expect(NginxClassify.destination(status: 499, path: "/api") == .api)
        #expect(NginxClassify.destination(status: 200, path: "/apix") == .api)
        #expect(NginxClassify.destination(status: 200, path: "/static/api") == .other)
    }

    @Test func theTopologyPutsEveryGeneratedRecordWhereTheRulesSay() throws {
        let generator = NginxLogGenerator(seed: 7, malformedEvery: 50)
        let driver = TopologyTestDriver(topology: try NginxClassify.topology(input: "in", outputPrefix: "out-"),
                                        applicationID: "classify")
        var expected: [String: [String]] = [:]
        for i in 0..<2_000 {
            let e = generator.entry(i)
            try driver.pipe("in", partition: Int32(i % 3), key: e.key, value: e.value, timestamp: e.timestamp)
            let topic = e.destination.map { NginxClassify.topic($0, prefix: "out-") } ?? "classify-dlq"
            expected[topic, default: []].append("r\(i)")
        }
        for (topic, keys) in expected {
            #expect(Set(driver.output(topic).compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } }) == Set(keys), "\(topic)")
            #expect(driver.output(topic).count == keys.count, "\(topic)")
        }
        #expect(Set(driver.outputTopics) == Set(expected.keys))
        #expect(expected["classify-dlq"]?.count == 40)
    }

    @Test func outputRecordsAreTheInputBytesUnchanged() throws {
        let e = NginxLogGenerator().entry(3)
        let driver = TopologyTestDriver(topology: try NginxClassify.topology(input: "in", outputPrefix: ""))
        try driver.pipe("in", key: e.key, value: e.value)
        #expect(driver.output(e.destination!.rawValue).first?.value == e.value)
    }

    @Test func recordsWithoutAnIntegerStatusOrWithANonStringPathAreDeadLettered() throws {
        let driver = TopologyTestDriver(topology: try NginxClassify.topology(input: "in", outputPrefix: ""), applicationID: "a")
        try driver.pipe("in", value: #"{"path":"/api"}"#)
        try driver.pipe("in", value: #"{"status":"500","path":"/"}"#)
        try driver.pipe("in", value: #"{"status":200,"path":42}"#)
        try driver.pipe("in", value: nil)
        try driver.pipe("in", value: #"{"status":200}"#)
        #expect(driver.deadLetters.count == 4)
        #expect(driver.outputValues("other") == [#"{"status":200}"#])
    }

    @Test func generatedRecordsAreAbout350BytesAndDeterministic() {
        let a = NginxLogGenerator(seed: 1), b = NginxLogGenerator(seed: 1)
        let sizes = (0..<1000).map { a.entry($0).value.count }
        let mean = sizes.reduce(0, +) / sizes.count
        #expect((300...420).contains(mean))
        #expect(a.entry(17).value == b.entry(17).value)
        #expect(NginxLogGenerator(seed: 2).entry(17).value != a.entry(17).value)
    }
}
