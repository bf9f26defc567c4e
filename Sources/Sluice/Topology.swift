/// A description of a processing graph: which topics it reads, what each
/// node does, and where records go. It is a blueprint: every task builds
/// its own instances of the nodes from it.
///
/// Build one with ``TopologyBuilder``.
// Unchecked: the specs are never mutated once the builder hands the topology
// out, and every closure they hold is @Sendable.
public struct Topology: @unchecked Sendable, CustomStringConvertible {
    let specs: [String: NodeSpec]
    let order: [String]
    /// Source node name by exact topic name.
    let topicSources: [String: String]
    /// Source node name by pattern (a name starting with `^`).
    let patternSources: [(pattern: String, node: String)]

    /// Every subscription: topic names and `^`-prefixed patterns.
    public var subscriptions: [String] { topicSources.keys.sorted() + patternSources.map(\.pattern) }

    /// Topics the topology writes to by fixed name.
    public var sinkTopics: [String] { order.compactMap { specs[$0]?.sinkTopic }.sorted() }

    /// The source node that reads `topic`, if any.
    func sourceNode(forTopic topic: String) -> String? {
        if let node = topicSources[topic] { return node }
        for (pattern, node) in patternSources where (try? Regex(String(pattern)).wholeMatch(in: topic)) != nil {
            return node
        }
        return nil
    }

    /// Instantiates the nodes reachable from `source` for one task.
    func instantiate(source: String) -> (root: Node<[UInt8]?>, all: [AnyObject]) {
        var made: [String: AnyObject] = [:]
        var all: [AnyObject] = []
        func make(_ name: String) -> AnyObject {
            if let node = made[name] { return node }
            let spec = specs[name]!
            let node = spec.make(spec.children.map(make), spec.children)
            made[name] = node
            all.append(node)
            return node
        }
        return (make(source) as! Node<[UInt8]?>, all)
    }

    /// The graph as indented text: one line per node with its children.
    public var description: String {
        var lines: [String] = []
        for name in order {
            guard let spec = specs[name] else { continue }
            var line = "\(spec.kind) \(name)"
            if !spec.topics.isEmpty { line += " topics: \(spec.topics.joined(separator: ", "))" }
            if let sink = spec.sinkTopic { line += " -> topic \(sink)" }
            if !spec.children.isEmpty { line += " --> \(spec.children.joined(separator: ", "))" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

/// A node of the blueprint. `make` receives the instantiated children in
/// `children` order and returns the node; it is generic-typed where the DSL
/// created it, so the wiring is checked by the compiler.
final class NodeSpec {
    let name: String
    let kind: String
    var children: [String] = []
    var topics: [String] = []
    var sinkTopic: String?
    let make: @Sendable (_ children: [AnyObject], _ childNames: [String]) -> AnyObject

    init(name: String, kind: String, make: @escaping @Sendable (_ children: [AnyObject], _ childNames: [String]) -> AnyObject) {
        self.name = name
        self.kind = kind
        self.make = make
    }
}

/// A topology failed to build or to run as described.
public struct TopologyError: Error, CustomStringConvertible {
    /// What is wrong.
    public var description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
