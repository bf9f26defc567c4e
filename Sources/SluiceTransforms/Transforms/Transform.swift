import Sluice

/// What one transform did to one event.
public enum TransformResult: Sendable, Equatable {
    /// Carry on with the (possibly changed) event.
    case keep
    /// Drop the event on purpose (the `drop` transform).
    case drop
    /// The transform could not do its work, for this reason; the step's
    /// ``FailurePolicy`` decides what happens.
    case failed(String)
}

/// What happens to an event a transform fails on (a grok pattern that does
/// not match, a date that does not parse, …). Nothing is lost silently:
/// `tag` keeps the event with a tag saying what failed (Logstash's
/// behaviour), `deadLetter` sends it to the dead-letter topic with the
/// reason, and `drop` drops it only because the topology says so.
public enum FailurePolicy: Sendable, Equatable {
    case tag(String)
    case deadLetter
    case drop
}

/// The error a failed transform raises under ``FailurePolicy/deadLetter``;
/// the runtime writes its text into the dead-letter headers.
public struct TransformFailure: Error, Sendable, CustomStringConvertible {
    /// The transform's kind, such as `grok`.
    public var transform: String
    /// Why it failed.
    public var reason: String
    public var description: String { "\(transform) failed: \(reason)" }
}

/// A transform compiled from configuration. Immutable and shared between
/// stream threads; ``makeRunner()`` gives each thread its own working state
/// (regex match data, buffers).
public struct Transform: Sendable {
    /// The kind, such as `grok` or `rename`, for messages and descriptions.
    public let kind: String
    private let make: @Sendable () -> (inout Record<Event>) -> TransformResult

    /// A transform of `kind` whose per-thread function `make` builds.
    public init(kind: String, make: @escaping @Sendable () -> (inout Record<Event>) -> TransformResult) {
        self.kind = kind
        self.make = make
    }

    /// A transform that needs no per-thread state.
    public init(kind: String, _ body: @escaping @Sendable (inout Record<Event>) -> TransformResult) {
        self.init(kind: kind) { body }
    }

    /// The function one thread runs.
    public func makeRunner() -> (inout Record<Event>) -> TransformResult { make() }

    /// This transform with `policy` applied to its failures: the runner
    /// returns `.keep` or `.drop`, or throws ``TransformFailure``.
    public func handlingFailures(_ policy: FailurePolicy) -> @Sendable () -> (inout Record<Event>) throws -> Bool {
        let kind = kind, make = make
        return {
            let run = make()
            return { record in
                switch run(&record) {
                case .keep: return true
                case .drop: return false
                case .failed(let reason):
                    switch policy {
                    case .tag(let tag):
                        record.value.addTags([tag])
                        return true
                    case .drop: return false
                    case .deadLetter: throw TransformFailure(transform: kind, reason: reason)
                    }
                }
            }
        }
    }
}

extension Event {
    /// The strings of the `tags` field (Logstash's convention).
    public var tags: [String] {
        guard case .array(let values)? = self["tags"] else { return [] }
        return values.compactMap(\.string)
    }

    /// Adds `tags` to the `tags` field, each once.
    public mutating func addTags(_ tags: [String]) {
        var current: [FieldValue]
        switch self["tags"] {
        case .array(let values)?: current = values
        case .string(let s)?: current = [.string(s)]
        default: current = []
        }
        for tag in tags where !current.contains(.string(tag)) { current.append(.string(tag)) }
        self["tags"] = .array(current)
    }
}
