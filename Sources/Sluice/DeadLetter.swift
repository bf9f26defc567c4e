import SluiceKafka

/// The headers Sluice adds to a record it sends to the dead-letter topic.
/// The record keeps its original key, value, headers and timestamp.
public enum DeadLetterHeader {
    /// Why the record failed: the error's text.
    public static let reason = "sluice.error.reason"
    /// The kind of error: the Swift type of a processor's error, or the
    /// destination's error type for a record a sink refused.
    public static let errorType = "sluice.error.type"
    /// The processor whose code threw, or the sink that refused the record.
    public static let processor = "sluice.error.processor"
    /// The input topic.
    public static let sourceTopic = "sluice.source.topic"
    /// The input partition, as decimal text.
    public static let sourcePartition = "sluice.source.partition"
    /// The input offset, as decimal text.
    public static let sourceOffset = "sluice.source.offset"
    /// The application that dead-lettered it.
    public static let applicationID = "sluice.application.id"

    /// The headers for `letter`, refused by the sink called `sink`.
    static func headers(for letter: DeadLetter, sink: String, applicationID: String) -> [KafkaHeader] {
        headers(original: letter.headers, reason: letter.reason, errorType: letter.errorType, processor: sink,
                source: letter.source, applicationID: applicationID, details: letter.details)
    }

    /// The headers for a record that failed for `reason` in `processor`.
    static func headers(original: [KafkaHeader], reason: String, errorType: String, processor: String,
                                source: Provenance?, applicationID: String, details: [KafkaHeader] = []) -> [KafkaHeader] {
        var headers = original + [
            KafkaHeader(Self.reason, reason),
            KafkaHeader(Self.errorType, errorType),
            KafkaHeader(Self.processor, processor),
        ]
        if let source {
            headers += [KafkaHeader(sourceTopic, source.topic), KafkaHeader(sourcePartition, String(source.partition)),
                        KafkaHeader(sourceOffset, String(source.offset))]
        }
        return headers + [KafkaHeader(Self.applicationID, applicationID)] + details
    }
}
