import Foundation
import Testing

/// The `sluice` binary's topology commands, as a user runs them (no services needed).
@Suite struct CLITests {
    private func sluice(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let output = Services.temporaryDirectory() + "/output"
        let child = try ChildProcess(binaryPath("sluice"), arguments: arguments,
                                     environment: ProcessInfo.processInfo.environment, outputPath: output)
        let status = child.waitUntilExit()
        return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    private func temporaryFile(_ text: String) throws -> String {
        let path = Services.temporaryDirectory() + "/topology.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A topology file of text lines from topic `a` through `steps` (YAML)
    /// to the destination `out`, with `more` (YAML) after the steps.
    private func textTopologyFile(steps: String, more: String = "") throws -> String {
        try temporaryFile("""
            application: x
            sources: [{ topics: [a], format: text }]
            destinations: { out: { topic: o } }
            steps: \(steps)

            """ + more)
    }

    @Test func validateAndTestPassOnEveryExampleTopology() throws {
        let examples = TopologyFileIntegrationTests.examples
        let validate = try sluice(["validate"] + examples)
        #expect(validate.status == 0, "\(validate.output)")
        #expect(validate.output.contains("valid"))
        let test = try sluice(["test"] + examples)
        #expect(test.status == 0, "\(test.output)")
        #expect(test.output.contains(" 0 failed"))
    }

    @Test func validateExitsTwoAndPrintsEachProblemWithItsPosition() throws {
        let file = try temporaryFile("application: x\nsources: [{ topics: [a], format: jsn }]\ndestinations: {}\nsteps: [{ to: b }]\n")
        let result = try sluice(["validate", file])
        #expect(result.status == 2)
        #expect(result.output.contains("\(file):2:34: unknown source format 'jsn'; did you mean 'json'?"), "\(result.output)")
        #expect(result.output.contains("\(file):4:15: unknown destination 'b'"), "\(result.output)")
    }

    @Test func inferMappingProposesTypesFromWhatATopologyMakesOfRawLines() throws {
        let directory = Services.temporaryDirectory()
        let samples = directory + "/samples.txt"
        try """
            203.0.113.9 - alice [21/Nov/2026:10:15:02 +0000] "GET /api/orders?id=7 HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64)"
            not a log line
            """.write(toFile: samples, atomically: true, encoding: .utf8)
        let topology = TopologyFileIntegrationTests.examples.first { $0.hasSuffix("/nginx-classify.yaml") }!
        let result = try sluice(["infer-mapping", "--input", samples, "--topology", topology])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("proposed from 1 documents (1 records skipped"), "\(result.output)")
        #expect(result.output.contains("      status_code: { type: long }"), "\(result.output)")
        #expect(result.output.contains("  '@timestamp': { type: date }"), "\(result.output)")
        let nothing = try sluice(["infer-mapping", "--input", samples])
        #expect(nothing.status == 1, "no JSON samples, no proposal: \(nothing.output)")
    }

    @Test func aFailingTestCaseExitsOneWithItsDifferences() throws {
        let file = try textTopologyFile(steps: "[{ to: out }]", more: """
            tests:
              - name: lines keep their text
                input: [hello]
                expect: { out: [{ message: bye }] }
            """)
        let result = try sluice(["test", file])
        #expect(result.status == 1)
        #expect(result.output.contains("FAIL \(file): lines keep their text"))
        #expect(result.output.contains("out #1 message: expected bye, got hello"), "\(result.output)")
    }

    @Test func aDryRunPrintsOneJSONObjectPerOutput() throws {
        let file = try textTopologyFile(steps: #"[{ where: '[message] != "skip"' }, { set: { n: 1 } }, { to: out }]"#)
        let input = Services.temporaryDirectory() + "/lines.txt"
        try "one\nskip\ntwo\n".write(toFile: input, atomically: true, encoding: .utf8)
        let result = try sluice(["run", file, "--dry-run", "--input", input])
        #expect(result.status == 0)
        #expect(result.output == """
            {"destination":"out","key":null,"value":{"message":"one","n":1}}
            {"destination":"out","key":null,"value":{"message":"two","n":1}}

            """)
    }

    @Test func aDryRunWhoseOutputSpansManyWritesKeepsEveryLineInOrder() throws {
        let file = try textTopologyFile(steps: "[{ to: out }]")
        // About 200 KB of output: the command writes it out in pieces of 64 KB.
        let lines = (0..<4000).map { "line \($0) " + String(repeating: "x", count: 20) }
        let input = Services.temporaryDirectory() + "/many-lines.txt"
        try (lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let result = try sluice(["run", file, "--dry-run", "--input", input])
        #expect(result.status == 0)
        let expected = lines.map { #"{"destination":"out","key":null,"value":{"message":"\#($0)"}}"# + "\n" }.joined()
        #expect(result.output == expected)
    }
}
