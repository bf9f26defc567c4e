import Logging
import Testing
@testable import Sluice

/// Log lines: one JSON object (or one text line) per event, secrets never written.
@Suite struct LogLineHandlerTests {
    private func handler(_ format: LogFormat) -> LogLineHandler {
        var handler = LogLineHandler(label: "app", format: format)
        handler[metadataKey: "thread"] = "0"
        return handler
    }

    @Test func aJSONLineHoldsTheEventsFieldsAndItsMetadataEscaped() {
        let line = handler(.json).line(level: .warning, message: "record sent to \"dlq\"\nnext", metadata: ["reason": "bad\tjson"],
                                       source: "Sluice", time: "2026-11-22T05:00:00.000Z")
        #expect(line == #"{"time":"2026-11-22T05:00:00.000Z","level":"warning","logger":"app","message":"record sent to \"dlq\"\nnext","source":"Sluice","reason":"bad\tjson","thread":"0"}"#)
        #expect(!line.contains("\n"), "one event, one line")
    }

    @Test func metadataNamedLikeASecretIsRedactedInEitherFormat() {
        for format in LogFormat.allCases {
            let line = handler(format).line(level: .info, message: "connected",
                                            metadata: ["sasl.password": "hunter2", "api_token": "abc", "user": "svc"], source: "Sluice")
            #expect(!line.contains("hunter2") && !line.contains("abc"), "\(format): \(line)")
            #expect(line.contains("svc"))
            #expect(line.components(separatedBy: "[redacted]").count == 3)
        }
    }

    @Test func aTextLineReadsLikeSwiftLogsStreamHandler() {
        let line = handler(.text).line(level: .info, message: "partitions assigned", metadata: ["partitions": "[in-0]"],
                                       source: "SluiceKafka", time: "T")
        #expect(line == "T info app: partitions=[in-0] thread=0 [SluiceKafka] partitions assigned")
    }

    @Test func metadataCannotOverwriteTheEventsOwnFields() {
        let line = handler(.json).line(level: .error, message: "m", metadata: ["level": "info", "message": "x"], source: "S", time: "T")
        #expect(line == #"{"time":"T","level":"error","logger":"app","message":"m","source":"S","thread":"0"}"#)
    }
}
