/// Generates a realistic mixed stream of text lines, as a shipper tails
/// them from a web host into one topic: nginx access lines (combined
/// format), nginx error-log lines, application JSON logs, and a few lines
/// that are none of these. Deterministic from a seed; for each line it says
/// where `nginx-classify.yaml` must send it, computed from the values it
/// chose rather than by parsing what it wrote.
public struct MixedLogGenerator: Sendable {
    /// Where a line belongs.
    public enum Outcome: Sendable, Equatable {
        /// The destination of that name in `nginx-classify.yaml`.
        case destination(Destination)
        /// The dead-letter topic: the line is none of the known formats.
        case deadLetter
        /// Dropped on purpose (successful health checks, DEBUG application logs).
        case dropped
    }

    /// The destinations of `nginx-classify.yaml`; the raw value is the topic suffix.
    public enum Destination: String, CaseIterable, Sendable {
        case alerts, access, nginxErrors = "nginx-errors", app
    }

    /// One generated line.
    public struct Entry: Sendable {
        /// `m<index>`, unique per run.
        public var key: [UInt8]
        /// The line.
        public var value: [UInt8]
        /// Where it belongs.
        public var outcome: Outcome
        /// When it happened (also the Kafka timestamp), milliseconds since the epoch.
        public var timestamp: Int64
    }

    /// Every `malformedEvery`-th line is malformed (0 for none).
    public var malformedEvery: Int
    /// The seed; the same seed gives the same lines.
    public var seed: UInt64
    /// The first line's time (whole seconds, as the log formats write them).
    public var startTime: Int64

    /// Creates a generator.
    public init(seed: UInt64 = 7, malformedEvery: Int = 0, startTime: Int64 = 1_790_000_000_000) {
        self.seed = seed
        self.malformedEvery = malformedEvery
        self.startTime = startTime
    }

    /// The line at `index`: 60% access, 15% nginx error, 25% application.
    public func entry(_ index: Int) -> Entry {
        var rng = SplitMix64(seed: seed &+ UInt64(index) &* 0xD1B5_4A32_D192_ED03)
        let time = startTime + Int64(index) * 1000
        let (line, outcome): (String, Outcome)
        if malformedEvery > 0, index % malformedEvery == malformedEvery - 1 {
            (line, outcome) = (Self.malformed[index / malformedEvery % Self.malformed.count], .deadLetter)
        } else {
            switch rng.next(20) {
            case 0..<12: (line, outcome) = accessLine(&rng, time)
            case 12..<15: (line, outcome) = errorLine(&rng, time)
            default: (line, outcome) = appLine(&rng, time, index)
            }
        }
        return Entry(key: Array("m\(index)".utf8), value: Array(line.utf8), outcome: outcome, timestamp: time)
    }

    private static let malformed = [
        "%%% this is not a log line %%%",
        #"{"ts":"2026-01-01T00:00:00Z","level":"INFO","msg":"truncated"#,
        "2026/13/45 99:99:99 [error] garbled error line",
        #"10.0.0.1 - - [not a date] "GET / HTTP/1.1" 200 1 "-" "-""#,
    ]
    private static let agents = NginxLogGenerator.agents.dropLast() + ["Googlebot/2.1 (+http://www.google.com/bot.html)"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private func accessLine(_ rng: inout SplitMix64, _ time: Int64) -> (String, Outcome) {
        let path = NginxLogGenerator.paths[rng.next(NginxLogGenerator.paths.count)].replacingOccurrences("%d", with: String(rng.next(100_000)))
        let status = NginxLogGenerator.statuses[rng.next(NginxLogGenerator.statuses.count)]
        let method = NginxLogGenerator.methods[rng.next(NginxLogGenerator.methods.count)]
        let ip = "10.\(rng.next(256)).\(rng.next(256)).\(rng.next(256))"
        let c = civil(time)
        let date = "\(pad(c.day))/\(Self.months[c.month - 1])/\(c.year):\(pad(c.hour)):\(pad(c.minute)):\(pad(c.second)) +0000"
        let line = #"\#(ip) - - [\#(date)] "\#(method) \#(path) HTTP/1.1" \#(status) \#(rng.next(200_000)) "https://shop.example.com/" "\#(Self.agents[rng.next(Self.agents.count)])""#
        if path == "/healthz" && status < 400 { return (line, .dropped) }
        return (line, .destination(status >= 500 ? .alerts : .access))
    }

    private static let errorLevels = ["error", "error", "warn", "notice", "crit"]
    private static let errorTexts = [#"open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory)"#,
                                     "upstream timed out (110: Connection timed out) while reading response header from upstream",
                                     "client intended to send too large body: 1048577 bytes"]

    private func errorLine(_ rng: inout SplitMix64, _ time: Int64) -> (String, Outcome) {
        let level = Self.errorLevels[rng.next(Self.errorLevels.count)]
        let c = civil(time)
        let date = "\(c.year)/\(pad(c.month))/\(pad(c.day)) \(pad(c.hour)):\(pad(c.minute)):\(pad(c.second))"
        let ip = "10.\(rng.next(256)).\(rng.next(256)).\(rng.next(256))"
        let line = "\(date) [\(level)] \(1000 + rng.next(9000))#0: *\(rng.next(1_000_000)) \(Self.errorTexts[rng.next(Self.errorTexts.count)]), "
            + #"client: \#(ip), server: shop.example.com, request: "GET /api/v1/cart HTTP/1.1", host: "shop.example.com""#
        return (line, .destination(level == "crit" ? .alerts : .nginxErrors))
    }

    private static let appLevels = ["DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"]
    private static let services = ["checkout", "search", "catalog", "auth", "payments"]

    private func appLine(_ rng: inout SplitMix64, _ time: Int64, _ index: Int) -> (String, Outcome) {
        let level = Self.appLevels[rng.next(Self.appLevels.count)]
        let c = civil(time)
        let ts = "\(c.year)-\(pad(c.month))-\(pad(c.day))T\(pad(c.hour)):\(pad(c.minute)):\(pad(c.second)).000Z"
        let service = Self.services[rng.next(Self.services.count)]
        let email = rng.next(4) == 0 ? #","user":{"email":"user\#(rng.next(1000))@example.com"}"# : ""
        let line = #"{"ts":"\#(ts)","level":"\#(level)","service":"\#(service)","msg":"request \#(index) handled","trace_id":"t\#(index)","duration_ms":\#(rng.next(3000))\#(email)}"#
        return (line, level == "DEBUG" ? .dropped : .destination(level == "ERROR" ? .alerts : .app))
    }

    private func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : String(n) }

    /// Year, month, day, hour, minute, second in UTC (Howard Hinnant's days-to-civil).
    private func civil(_ milliseconds: Int64) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        let seconds = Int(milliseconds / 1000)
        let days = seconds / 86_400, rest = seconds % 86_400
        let z = days + 719_468, era = z / 146_097, doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day, rest / 3600, rest % 3600 / 60, rest % 60)
    }
}
