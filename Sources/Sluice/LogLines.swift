import Foundation
import Logging
import SluiceKafka

/// How log lines are written: `text` for people at a terminal, `json` (one
/// object per line) for log collectors.
public enum LogFormat: String, CaseIterable, Sendable {
    case text, json

    /// JSON unless standard error is a terminal.
    public static var automatic: LogFormat { isatty(STDERR_FILENO) != 0 ? .text : .json }
}

/// A swift-log handler writing one line per event to standard error, as
/// text or JSON. Metadata whose key names a secret (a password, a secret,
/// a token, credentials) is written as `[redacted]`, whatever the caller passed.
public struct LogLineHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let format: LogFormat
    /// Whether each line first clears the terminal line (a ``StatusLine`` may be drawn there).
    private let clearsLine: Bool

    /// Moves to the start of the terminal line and erases it.
    static let clearLine = "\r\u{1B}[K"

    /// A handler for the logger `label` writing `format`; text on a
    /// terminal clears the line before each event.
    public init(label: String, format: LogFormat) {
        self.label = label
        self.format = format
        clearsLine = format == .text && isatty(STDERR_FILENO) != 0
    }

    /// Makes every logger of the process write `format` (the automatic one when `nil`).
    public static func bootstrap(_ format: LogFormat?) {
        let chosen = format ?? .automatic
        LoggingSystem.bootstrap { LogLineHandler(label: $0, format: chosen) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var extra = event.metadata ?? [:]
        if let error = event.error { extra["error"] = "\(error)" }
        let text = line(level: event.level, message: event.message, metadata: extra, source: event.source) + "\n"
        Self.writeToStandardError((clearsLine ? Self.clearLine : "") + text)
    }

    /// Writes `text` to standard error in one write, so that lines of
    /// concurrent threads (log events, the status line) never interleave.
    static func writeToStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// The line an event makes, without its newline; `time` is now unless given.
    func line(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String,
              time: String = LogLineHandler.timestamp()) -> String {
        let fields = self.metadata.merging(extra ?? [:]) { $1 }.sorted { $0.key < $1.key }
            .map { ($0.key, KafkaConfig.isSecret($0.key) ? "[redacted]" : "\($0.value)") }
        return format == .json
            ? Self.json(time: time, level: level, label: label, message: "\(message)", source: source, fields: fields)
            : Self.text(time: time, level: level, label: label, message: "\(message)", source: source, fields: fields)
    }

    /// `{"time":…,"level":…,"logger":…,"message":…,"source":…,<metadata>}`.
    static func json(time: String, level: Logger.Level, label: String, message: String, source: String,
                     fields: [(String, String)]) -> String {
        let pairs = [("time", time), ("level", level.rawValue), ("logger", label), ("message", message), ("source", source)]
            + fields.filter { !["time", "level", "logger", "message", "source"].contains($0.0) }
        return "{" + pairs.map { "\(quoted($0.0)):\(quoted($0.1))" }.joined(separator: ",") + "}"
    }

    /// `<time> <level> <logger>: k=v … [source] message`, as swift-log's stream handler writes.
    static func text(time: String, level: Logger.Level, label: String, message: String, source: String,
                     fields: [(String, String)]) -> String {
        let rendered = fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        return "\(time) \(level) \(label):\(rendered.isEmpty ? "" : " " + rendered) [\(source)] \(message)"
    }

    /// A JSON string literal.
    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Now, as ISO 8601 with milliseconds in UTC.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var parts = tm()
        var seconds = ts.tv_sec
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, ts.tv_nsec / 1_000_000)
    }
}
