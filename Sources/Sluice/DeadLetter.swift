import SluiceKafka

/// The headers Sluice adds to a record it sends to the dead-letter topic.
/// The record keeps its original key, value, headers and timestamp.
public enum DeadLetterHeader {
    /// Why the record failed: the error's text.
    public static let reason = "sluice.error.reason"
    /// The Swift type of the error.
    public static let errorType = "sluice.error.type"
    /// The processor whose code threw.
    public static let processor = "sluice.error.processor"
    /// The input topic.
    public static let sourceTopic = "sluice.source.topic"
    /// The input partition, as decimal text.
    public static let sourcePartition = "sluice.source.partition"
    /// The input offset, as decimal text.
    public static let sourceOffset = "sluice.source.offset"
    /// The application that dead-lettered it.
    public static let applicationID = "sluice.application.id"

    /// The headers for `error` raised while processing `message`.
    static func headers(for error: ProcessingError, message: KafkaMessage, applicationID: String) -> [KafkaHeader] {
        message.headers + [
            KafkaHeader(reason, "\(error.underlying)"),
            KafkaHeader(errorType, "\(type(of: error.underlying))"),
            KafkaHeader(processor, error.processor),
            KafkaHeader(sourceTopic, message.topic),
            KafkaHeader(sourcePartition, String(message.partition)),
            KafkaHeader(sourceOffset, String(message.offset)),
            KafkaHeader(Self.applicationID, applicationID),
        ]
    }
}
