/// A processing node as instantiated in one task. Subclasses are the
/// built-in operators; ``ProcessorNode`` runs a user's ``Processor``.
/// The record path is a chain of direct calls on the task's thread.
class Node<Input> {
    let name: String

    init(name: String) {
        self.name = name
    }

    /// Handles one record. Throws ``ProcessingError`` naming the node whose code failed.
    func process(_ record: Record<Input>) throws {
        preconditionFailure("\(type(of: self)) must override process")
    }

    func initialize(task: StreamTask) throws {}

    func close() {}
}

/// A node whose records go on to children of one output type.
class ForwardingNode<Input, Output>: Node<Input> {
    let children: [Node<Output>]

    init(name: String, children: [Node<Output>]) {
        self.children = children
        super.init(name: name)
    }

    @inline(__always)
    final func emit(_ record: Record<Output>) throws {
        for child in children { try child.process(record) }
    }
}

/// Passes records on unchanged: sources, merge points and split branches.
final class PassNode<Value>: ForwardingNode<Value, Value> {
    override func process(_ record: Record<Value>) throws { try emit(record) }
}

final class FilterNode<Value>: ForwardingNode<Value, Value> {
    let predicate: (Record<Value>) throws -> Bool

    init(name: String, children: [Node<Value>], predicate: @escaping (Record<Value>) throws -> Bool) {
        self.predicate = predicate
        super.init(name: name, children: children)
    }

    override func process(_ record: Record<Value>) throws {
        if try attributed(to: name, { try predicate(record) }) { try emit(record) }
    }
}

final class MapNode<Input, Output>: ForwardingNode<Input, Output> {
    let transform: (Record<Input>) throws -> Record<Output>

    init(name: String, children: [Node<Output>], transform: @escaping (Record<Input>) throws -> Record<Output>) {
        self.transform = transform
        super.init(name: name, children: children)
    }

    override func process(_ record: Record<Input>) throws {
        try emit(attributed(to: name) { try transform(record) })
    }
}

final class FlatMapNode<Input, Output>: ForwardingNode<Input, Output> {
    let transform: (Record<Input>) throws -> [Record<Output>]

    init(name: String, children: [Node<Output>], transform: @escaping (Record<Input>) throws -> [Record<Output>]) {
        self.transform = transform
        super.init(name: name, children: children)
    }

    override func process(_ record: Record<Input>) throws {
        for out in try attributed(to: name, { try transform(record) }) { try emit(out) }
    }
}

final class PeekNode<Value>: ForwardingNode<Value, Value> {
    let action: (Record<Value>) throws -> Void

    init(name: String, children: [Node<Value>], action: @escaping (Record<Value>) throws -> Void) {
        self.action = action
        super.init(name: name, children: children)
    }

    override func process(_ record: Record<Value>) throws {
        try attributed(to: name) { try action(record) }
        try emit(record)
    }
}

/// Sends each record to the first branch whose predicate holds, else to the
/// default branch if there is one (else the record ends here, by design).
final class SplitNode<Value>: Node<Value> {
    let predicates: [@Sendable (Record<Value>) throws -> Bool]
    let branches: [Node<Value>]
    let defaultBranch: Node<Value>?

    init(name: String, predicates: [@Sendable (Record<Value>) throws -> Bool], branches: [Node<Value>], defaultBranch: Node<Value>?) {
        self.predicates = predicates
        self.branches = branches
        self.defaultBranch = defaultBranch
        super.init(name: name)
    }

    override func process(_ record: Record<Value>) throws {
        let chosen = try attributed(to: name) { () throws -> Int? in
            for (i, predicate) in predicates.enumerated() where try predicate(record) { return i }
            return nil
        }
        if let chosen { try branches[chosen].process(record) } else { try defaultBranch?.process(record) }
    }
}

/// Writes records to a Kafka topic through the task's collector.
final class SinkNode<Value>: Node<Value> {
    let topic: (Record<Value>) throws -> String
    let serialize: (Value) throws -> [UInt8]?
    private unowned(unsafe) var task: StreamTask!

    init(name: String, topic: @escaping (Record<Value>) throws -> String, serialize: @escaping (Value) throws -> [UInt8]?) {
        self.topic = topic
        self.serialize = serialize
        super.init(name: name)
    }

    override func initialize(task: StreamTask) throws { self.task = task }

    override func process(_ record: Record<Value>) throws {
        // A send that fails at once (too large, bad topic name) is this record's
        // fault: it goes to the dead-letter topic. Failed deliveries stop the thread.
        try attributed(to: name) {
            try task.collector.send(topic: try topic(record), key: record.key, value: try serialize(record.value),
                                    headers: record.headers, timestamp: record.timestamp)
        }
    }
}

/// Runs a user's ``Processor``.
final class ProcessorNode<P: Processor>: Node<P.Input> {
    let processor: P
    let children: [Node<P.Output>]
    let childNames: [String]

    init(name: String, processor: P, children: [Node<P.Output>], childNames: [String]) {
        self.processor = processor
        self.children = children
        self.childNames = childNames
        super.init(name: name)
    }

    override func initialize(task: StreamTask) throws {
        let context = ProcessorContext<P.Output>(processorName: name, children: children, childNames: childNames, task: task)
        try attributed(to: name) { try processor.initialize(context: context) }
    }

    override func process(_ record: Record<P.Input>) throws {
        try attributed(to: name) { try processor.process(record) }
    }

    override func close() { processor.close() }
}
