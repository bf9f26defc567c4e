import Sluice

/// One step of a ``Pipeline``.
public indirect enum PipelineStep: Sendable {
    /// Runs a transform; its failures follow the policy.
    case transform(name: String, Transform, FailurePolicy)
    /// Keeps only the events for which the condition holds; drops the rest.
    case filter(name: String, Condition)
    /// Runs `then` when the condition holds, `otherwise` when not, then
    /// carries on after the branch (unless the branch sent the event on).
    case branch(name: String, Condition, then: [PipelineStep], otherwise: [PipelineStep])
    /// Sends the event to the destination of the first rule whose condition
    /// holds (`nil` = the default rule); ends the event's way through the steps.
    case route(name: String, [(condition: Condition?, destination: Int)])
    /// Sends the event to a destination; ends its way through the steps.
    case emit(name: String, destination: Int)
    /// Sends a copy of the event to a destination (an aggregate) and carries
    /// on; an event that reaches the end of the steps after a tap is done.
    case tap(name: String, destination: Int)
}

/// Steps run in order on each event, ending by sending the event to one
/// of the topology's destinations (by index) or dropping it.
public struct Pipeline: Sendable {
    /// The steps.
    public var steps: [PipelineStep]

    /// A pipeline of `steps`.
    public init(_ steps: [PipelineStep]) { self.steps = steps }

    /// The function one thread runs: it calls `emit` for each output and
    /// throws ``Sluice/ProcessingError`` naming the step for a record that
    /// must go to the dead-letter topic.
    public func makeRunner() -> (consuming Record<Event>, (Int, Record<Event>) throws -> Void) throws -> Void {
        let run = Self.compile(steps)
        return { record, emit in
            var record = record
            var sent = false
            // Steps that let an event through to their end without sending
            // it anywhere would lose it: a checked topology never does; a
            // hand-built one dead-letters it.
            if try run(&record, { sent = true; try emit($0, $1) }), !sent {
                throw ProcessingError(processor: "steps", underlying: TransformFailure(
                    transform: "steps", reason: "the steps ended without sending the event to a destination"))
            }
        }
    }

    /// Returns `true` while the event should go on to the next step.
    typealias Run = (inout Record<Event>, (Int, Record<Event>) throws -> Void) throws -> Bool

    private static func compile(_ steps: [PipelineStep]) -> Run {
        let runs = steps.map { CompiledStep(run: compile(step: $0)) }
        return { record, emit in
            // By index: `for step in runs` copied each step out, a retain
            // and a release of its closure per step per record.
            for i in runs.indices where try !runs[i].run(&record, emit) { return false }
            return true
        }
    }

    /// A compiled step. Kept in a struct because an array of bare closures
    /// stores them generically, and each call then wraps `emit` in a thunk
    /// allocated on the heap: one allocation per step per record.
    private struct CompiledStep {
        let run: Run
    }

    private static func compile(step: PipelineStep) -> Run {
        switch step {
        case .transform(let name, let transform, let policy):
            let run = transform.handlingFailures(policy)()
            return { record, _ in try attributed(to: name) { try run(&record) } }
        case .filter(_, let condition):
            let holds = condition.makeEvaluator()
            return { record, _ in holds(record.value) }
        case .branch(_, let condition, let then, let otherwise):
            let holds = condition.makeEvaluator()
            let yes = compile(then), no = compile(otherwise)
            return { record, emit in holds(record.value) ? try yes(&record, emit) : try no(&record, emit) }
        case .route(let name, let rules):
            let compiled = rules.map { (holds: $0.condition?.makeEvaluator(), destination: $0.destination) }
            return { record, emit in
                for rule in compiled where rule.holds?(record.value) ?? true {
                    try emit(rule.destination, record)
                    return false
                }
                throw ProcessingError(processor: name, underlying: TransformFailure(
                    transform: "route", reason: "no rule matched and the route has no default"))
            }
        case .tap(_, let destination):
            return { record, emit in
                try emit(destination, record)
                return true
            }
        case .emit(_, let destination):
            return { record, emit in
                try emit(destination, record)
                return false
            }
        }
    }
}
