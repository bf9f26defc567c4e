import SluiceTransforms

/// A test case kept in a topology file: input records and, per destination,
/// the records expected there.
public struct TopologyTestCase: Sendable {
    /// What the case shows.
    public var name: String
    /// The source the inputs are read from, by index.
    public var source: Int
    /// Input values, in that source's format.
    public var inputs: [[UInt8]]
    /// Per destination name: the records expected there, in order. Each lists
    /// the fields that must hold these values; other fields are not checked.
    /// A destination not named must receive nothing.
    public var expected: [String: [[ExpectedField]]]
    /// Substrings of the reasons of the records expected in the dead-letter
    /// topic, in order (`""` matches any reason).
    public var deadLetters: [String]
}

/// A field an expected record names, and the value it must hold.
public struct ExpectedField: Sendable {
    /// The field.
    public var path: FieldPath
    /// Its value.
    public var value: FieldValue
}

/// What a test case found.
public struct TopologyTestResult: Sendable {
    /// The case.
    public var name: String
    /// Every difference between expected and actual; empty when it passed.
    public var differences: [String]
    /// Whether it passed.
    public var passed: Bool { differences.isEmpty }
}

extension TopologySpec {
    /// Runs the test cases without Kafka.
    public func runTests() -> [TopologyTestResult] {
        tests.map { test in
            var actual: [String: [Event]] = [:]
            var reasons: [String] = []
            do {
                let dry = try DryRun(self)
                var outputs: [DryRun.Output] = []
                for input in test.inputs { outputs += try dry.process(value: input, source: test.source) }
                outputs += try dry.finish()
                for output in outputs {
                    switch output {
                    case .destination(let name, _, _, let event), .metricLines(let name, _, let event, _):
                        actual[name, default: []].append(event)
                    case .deadLetter(_, _, _, let step, let reason): reasons.append("\(step): \(reason)")
                    }
                }
            } catch {
                return TopologyTestResult(name: test.name, differences: ["the run stopped: \(error)"])
            }
            return TopologyTestResult(name: test.name, differences: differences(test, actual, reasons))
        }
    }

    private func differences(_ test: TopologyTestCase, _ actual: [String: [Event]], _ reasons: [String]) -> [String] {
        var out: [String] = []
        for name in Set(actual.keys).union(test.expected.keys).sorted() {
            let expected = test.expected[name] ?? [], got = actual[name] ?? []
            if expected.count != got.count {
                out.append("\(name): expected \(expected.count) record\(expected.count == 1 ? "" : "s"), got \(got.count)")
            }
            for (i, event) in got.enumerated() {
                guard i < expected.count else {
                    out.append("  \(name) #\(i + 1) unexpected: \(String(decoding: event.json(), as: UTF8.self))")
                    continue
                }
                for field in expected[i] where !Condition.equal(event[field.path], field.value) {
                    let found = event[field.path].map(\.text) ?? "nothing"
                    out.append("  \(name) #\(i + 1) \(field.path): expected \(field.value.text), got \(found)")
                }
            }
            for i in got.count..<max(got.count, expected.count) {
                let fields = FieldMap(expected[i].map { ($0.path.description, $0.value) })
                out.append("  \(name) #\(i + 1) missing: \(String(decoding: JSONWriter.encode(.object(fields)), as: UTF8.self))")
            }
        }
        if reasons.count != test.deadLetters.count {
            out.append("dead letters: expected \(test.deadLetters.count), got \(reasons.count)\(reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; "))")
        }
        for (i, (expected, reason)) in zip(test.deadLetters, reasons).enumerated() where !expected.isEmpty && !reason.contains(expected) {
            out.append("  dead letter #\(i + 1): expected a reason containing '\(expected)', got '\(reason)'")
        }
        return out
    }
}
