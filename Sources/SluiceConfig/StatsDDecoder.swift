import Sluice
import SluiceTransforms

/// Reads the records of a `statsd` source: every sample of every line
/// goes on as an event of its own (``StatsDSample/event``); a line that
/// does not read goes to the dead-letter topic on its own, with the reason,
/// and the record's other lines still count.
final class StatsDDecoder: Processor {
    typealias Input = [UInt8]?
    typealias Output = Event?
    private let passTombstones: Bool
    private var context: ProcessorContext<Event?>!

    /// A decoder; with `passTombstones`, a record without a value goes on as `nil`.
    init(passTombstones: Bool) { self.passTombstones = passTombstones }

    func initialize(context: ProcessorContext<Event?>) throws { self.context = context }

    func process(_ record: Record<[UInt8]?>) throws {
        guard let value = record.value else {
            if passTombstones { return try context.forward(record.withValue(nil)) }
            throw DecodeError(description: "tombstone: a null value has no StatsD lines")
        }
        let (samples, errors) = StatsDLine.parse(String(decoding: value, as: UTF8.self))
        for error in errors {
            try context.deadLetter(Array(error.line.utf8), of: record, reason: error.description, errorType: "StatsDLineError")
        }
        for sample in samples { try context.forward(record.withValue(sample.event)) }
    }
}
