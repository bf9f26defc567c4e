import Foundation
import Sluice
import SluiceSinks
import Synchronization

/// Set by SIGINT or SIGTERM while the demo runs: it then stops its
/// topologies cleanly instead of leaving them behind.
let demoInterrupted = Atomic<Bool>(false)

/// Prints a line at once, when the output is a file or a pipe too (where
/// `print` alone waits for a full buffer), so that progress shows as it happens.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// One example topology run by `sluice run` in a child process, with its
/// metrics address, as a platform deploys it.
final class TopologyChild {
    /// A short name for output ("classify").
    let name: String
    /// Where its `/metrics`, `/health` and `/ready` are served.
    let baseURL: String
    /// Its log file (JSON lines).
    let logPath: String
    let started = ContinuousClock.now
    private let process = Process()
    private let http = HTTPClient(settings: HTTPSettings())

    /// Starts `sluice run FILE` with `environment` added to this process's.
    init(name: String, file: String, port: UInt16, bootstrap: String, directory: String, environment: [String: String]) throws {
        self.name = name
        baseURL = "http://127.0.0.1:\(port)"
        logPath = "\(directory)/\(name).log"
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["run", file, "--state-dir", "\(directory)/\(name)-state", "--bootstrap", bootstrap,
                             "--metrics-address", "127.0.0.1:\(port)", "--log-format", "json", "--exit-with-parent",
                             // The local broker joins groups in seconds with these (see KafkaOptions.groupTimings).
                             "--kafka", "max.poll.interval.ms=7000", "--kafka", "session.timeout.ms=6000"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// The status and body of a GET of `path` on its metrics address; `nil` while it does not answer.
    func get(_ path: String) -> (status: Int, body: String)? {
        guard case .success(let response) = http.perform(HTTPRequest(method: "GET", url: baseURL + path)) else { return nil }
        return (response.status, response.text)
    }

    /// Its metrics now (empty while it does not answer).
    func scrape() -> MetricSamples { MetricSamples(text: get("/metrics")?.body ?? "") }

    /// Asks it to stop (SIGTERM: finish, flush, commit, leave the group) and waits; its exit status.
    func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The last lines of its log.
    var logTail: String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(5).joined(separator: "\n")
    }
}
