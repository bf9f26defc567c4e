import Sluice
import SluiceExamples
import SluiceTransforms
import Testing

@Suite struct NginxRollupTests {
    @Test func everyServicesWindowHasTheCountsBytesAndDurationsOfItsRecords() throws {
        let generator = NginxLogGenerator(seed: 5, malformedEvery: 500)
        let driver = TopologyTestDriver(topology: try NginxRollup.topology(input: "access", output: "rollups"))
        var expected: [String: (requests: Double, bytes: Double, durations: [Double])] = [:]
        let count = 10_000
        for i in 0..<count {
            let entry = generator.entry(i)
            try driver.pipe("access", key: entry.key, value: entry.value, timestamp: entry.timestamp)
            guard entry.destination != nil, let event = try? Event(json: entry.value),
                  case .string(let service)? = event["service"] else { continue }
            let id = "\(service)@\(entry.timestamp - entry.timestamp % 10_000)"
            expected[id, default: (0, 0, [])].requests += 1
            expected[id, default: (0, 0, [])].bytes += event["bytes"]!.number!
            expected[id, default: (0, 0, [])].durations.append(event["duration_ms"]!.number!)
        }
        // A late-enough record closes the last windows.
        try driver.pipe("access", value: generator.entry(count + 10_000).value, timestamp: generator.entry(count + 10_000).timestamp)

        var got: [String: FieldMap] = [:]
        for json in driver.outputValues("rollups") {
            let event = try Event(json: Array(json.utf8))
            guard case .string(let metric)? = event["metric"], case .object(let tags)? = event["tags"],
                  case .string(let service)? = tags["service"], case .object(let window)? = event["window"],
                  case .string(let start)? = window["start"] else { continue }
            got["\(metric) \(service) \(start)"] = event.fields
        }
        #expect(driver.deadLetters.count == count / 500)
        for (id, want) in expected {
            let parts = id.split(separator: "@")
            let start = iso8601(milliseconds: Int64(parts[1])!)
            let requests = got["nginx.requests \(parts[0]) \(start)"]
            let bytes = got["nginx.bytes \(parts[0]) \(start)"]
            let durations = got["nginx.duration_ms \(parts[0]) \(start)"]
            #expect(requests?["count"]?.number == want.requests, "\(id)")
            #expect(bytes?["count"]?.number == want.bytes, "\(id)")
            let sorted = want.durations.sorted()
            #expect(durations?["upper"]?.number == sorted.last && durations?["lower"]?.number == sorted.first, "\(id)")
            let rank90 = Int((0.9 * Double(sorted.count) + 0.5).rounded(.down))
            #expect(durations?["upper_90"]?.number == sorted[max(rank90, 1) - 1], "\(id)")
        }
    }
}
