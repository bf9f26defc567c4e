import Foundation
import SluiceConfig
import Testing

@Suite struct TopologyTestCaseTests {
    static let examples: [String] = {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../topologies").standardized
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { dir.appendingPathComponent($0).path }
    }()

    @Test func everyExampleTopologyValidatesAndPassesItsOwnTestCases() throws {
        #expect(!Self.examples.isEmpty)
        for file in Self.examples {
            let spec = try TopologyLoader.load(path: file, environment: [:])
            #expect(!spec.tests.isEmpty, "\(file) keeps test cases")
            for result in spec.runTests() { #expect(result.passed, "\(file): \(result.name): \(result.differences)") }
        }
    }

    private func run(_ tests: String) throws -> [TopologyTestResult] {
        try TopologyLoader.load(yaml: TopologyLoaderTests.valid + "\ntests:\n" + tests, file: "t.yaml").runTests()
    }

    @Test func aFailingCaseListsEveryDifference() throws {
        let results = try run("""
          - name: wrong
            input:
              - { service: a, level: ERROR }
              - { service: b, level: INFO }
              - not json
            expect:
              errors:
                - { service: z }
                - { service: y }
              dead_letter: [something else]
        """)
        let differences = try #require(results.first?.differences)
        #expect(differences == [
            "errors: expected 2 records, got 1",
            "  errors #1 service: expected z, got a",
            #"  errors #2 missing: {"service":"y"}"#,
            "rest: expected 0 records, got 1",
            #"  rest #1 unexpected: {"service":"b","level":"INFO","severity":"low"}"#,
            "  dead letter #1: expected a reason containing 'something else', got 'decode-json-0: invalid JSON at byte 0: expected a JSON object'",
        ])
    }

    @Test func aPassingCaseChecksOnlyTheFieldsItLists() throws {
        let results = try run("""
          - name: right
            input: [{ service: a, level: ERROR, extra: 1 }]
            expect:
              errors: [{ tags: [alert], level: ERROR }]
        """)
        #expect(results.map(\.passed) == [true])
    }

    @Test func aTestNamingAnUnknownDestinationDoesNotValidate() {
        #expect {
            try run("""
              - name: typo
                input: [{ service: a }]
                expect:
                  rests: []
            """)
        } throws: { error in
            (error as? ConfigErrors)?.diagnostics.first?.message.contains("unknown destination 'rests'; did you mean 'rest'?") == true
        }
    }
}
