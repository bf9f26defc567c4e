/// A record's processing threw: `processor` names the node whose code threw.
/// The runtime sends the input record to the dead-letter topic with both.
public struct ProcessingError: Error, CustomStringConvertible {
    /// The name of the processor whose code threw.
    public var processor: String
    /// What it threw.
    public var underlying: any Error

    /// Creates an error attributed to `processor`.
    public init(processor: String, underlying: any Error) {
        self.processor = processor
        self.underlying = underlying
    }

    public var description: String { "\(processor): \(underlying)" }
}

/// Runs a node's own code, attributing what it throws to the node. Errors
/// already attributed (thrown further downstream) pass through unchanged.
@inlinable @inline(__always)
public func attributed<T>(to processor: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw attribute(error, to: processor)
    }
}

/// `error` attributed to `processor`, unless it already names a processor.
@usableFromInline
func attribute(_ error: any Error, to processor: String) -> ProcessingError {
    error as? ProcessingError ?? ProcessingError(processor: processor, underlying: error)
}

/// An error that stops the stream thread instead of sending the record to
/// the dead-letter topic: the configuration says such a record must never
/// be passed over. Offsets stay before the record.
public protocol HaltingError: Error {}
