/// What every node of a task has, whatever its record type: a name and
/// how many records reached it since the thread last read the count.
@usableFromInline
class NodeCount {
    @usableFromInline let name: String
    /// Records that reached the node; the stream thread moves the count
    /// into its metrics and resets it (a plain add per record, no atomics,
    /// and no run-time exclusivity check: an access is one add that calls
    /// nothing, so two never overlap, and the check would cost more than
    /// the node's own work).
    @exclusivity(unchecked) @usableFromInline final var received = 0

    @inlinable
    init(name: String) { self.name = name }
}

/// A processing node as instantiated in one task: a name and the code that
/// takes its records.
///
/// The DSL builds each node's `body` as a closure in the user's module
/// (the operators are `@inlinable`), so the record path is specialized for
/// the concrete value types: a chain of direct closure calls on the task's
/// thread, with no generic dispatch per record.
///
/// A node takes its record over (`consuming`): a node that passes it on
/// moves it, so a value its parent built is not shared when a later node
/// changes it (an `Event` changed in place, not copied on write).
@usableFromInline
final class Node<Input>: NodeCount {
    @usableFromInline let body: (consuming Record<Input>) throws -> Void

    @inlinable
    init(name: String, body: @escaping (consuming Record<Input>) throws -> Void) {
        self.body = body
        super.init(name: name)
    }

    /// Handles one record. Throws ``ProcessingError`` naming the node whose code failed.
    @inlinable @inline(__always)
    func process(_ record: consuming Record<Input>) throws {
        received &+= 1
        try body(consume record)
    }

    /// The function a parent calls to hand the node a record: counts it, then processes it.
    @inlinable
    var entry: (consuming Record<Input>) throws -> Void { { record in try self.process(consume record) } }

    /// A node that passes records on to `children` unchanged (sources, merge
    /// points, split branches).
    @inlinable
    static func pass(name: String, to children: [AnyObject]) -> Node {
        Node(name: name, body: emitter(children))
    }
}

/// The function that hands a record to every child.
@inlinable
func emitter<Value>(_ children: [AnyObject]) -> (consuming Record<Value>) throws -> Void {
    let nodes = children.map { $0 as! Node<Value> }
    switch nodes.count {
    case 0: return { _ in }
    case 1: return nodes[0].entry
    default:
        // Each child but the last gets a copy; the last takes the record over.
        let last = nodes[nodes.count - 1], others = nodes.dropLast()
        return { record in
            for node in others { try node.process(copy record) }
            try last.process(consume record)
        }
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
    func emit<Value>(_ type: Value.Type = Value.self) -> (consuming Record<Value>) throws -> Void { emitter(children) }
}
