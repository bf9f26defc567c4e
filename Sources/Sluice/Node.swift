/// A processing node as instantiated in one task: a name and the code that
/// takes its records.
///
/// The DSL builds each node's `body` as a closure in the user's module
/// (the operators are `@inlinable`), so the record path is specialized for
/// the concrete value types: a chain of direct closure calls on the task's
/// thread, with no generic dispatch per record.
@usableFromInline
final class Node<Input> {
    @usableFromInline let name: String
    @usableFromInline let body: (Record<Input>) throws -> Void

    @inlinable
    init(name: String, body: @escaping (Record<Input>) throws -> Void) {
        self.name = name
        self.body = body
    }

    /// Handles one record. Throws ``ProcessingError`` naming the node whose code failed.
    @inlinable @inline(__always)
    func process(_ record: Record<Input>) throws { try body(record) }

    /// A node that passes records on to `children` unchanged (sources, merge
    /// points, split branches).
    @inlinable
    static func pass(name: String, to children: [AnyObject]) -> Node {
        Node(name: name, body: emitter(children))
    }
}

/// The function that hands a record to every child.
@inlinable
func emitter<Value>(_ children: [AnyObject]) -> (Record<Value>) throws -> Void {
    let nodes = children.map { $0 as! Node<Value> }
    switch nodes.count {
    case 0: return { _ in }
    case 1: return nodes[0].body
    default: return { record in for node in nodes { try node.body(record) } }
    }
}

/// What a node factory receives when a task instantiates the topology.
@usableFromInline
struct NodeContext {
    /// The node's children, already instantiated, in the order they were added.
    @usableFromInline let children: [AnyObject]
    /// The children's names, in the same order.
    @usableFromInline let childNames: [String]
    /// The task the node belongs to.
    @usableFromInline unowned let task: StreamTask

    @usableFromInline
    init(children: [AnyObject], childNames: [String], task: StreamTask) {
        self.children = children
        self.childNames = childNames
        self.task = task
    }

    /// The function that hands a record to every child.
    @inlinable
    func emit<Value>(_ type: Value.Type = Value.self) -> (Record<Value>) throws -> Void { emitter(children) }
}
