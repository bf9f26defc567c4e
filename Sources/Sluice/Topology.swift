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
    /// The sinks outside Kafka, by name: each stream thread makes its own.
    let sinks: [String: SinkSpec]
    /// The state stores, by name order.
    let stores: [StoreSpec]
    /// The internal topics records are repartitioned through (see
    /// ``Stream/repartition(through:named:key:serialize:)``).
    public let repartitionTopics: [String]

    /// The names of the state stores.
    public var storeNames: [String] { stores.map(\.name) }

    /// Every subscription: topic names and `^`-prefixed patterns.
    public var subscriptions: [String] { topicSources.keys.sorted() + patternSources.map(\.pattern) }

    /// The topics the application reads that it does not create itself.
    public var inputTopics: [String] { subscriptions.filter { !repartitionTopics.contains($0) } }

    /// Topics the topology writes to by fixed name.
    public var sinkTopics: [String] { order.compactMap { specs[$0]?.sinkTopic }.sorted() }

    /// The names of the sinks outside Kafka the topology writes to.
    public var sinkNames: [String] { sinks.keys.sorted() }

    /// The source node that reads `topic`, if any.
    func sourceNode(forTopic topic: String) -> String? {
        if let node = topicSources[topic] { return node }
        for (pattern, node) in patternSources where (try? Regex(String(pattern)).wholeMatch(in: topic)) != nil {
            return node
        }
        return nil
    }

    /// The stores of the nodes that records of `topic` reach.
    func stores(forTopic topic: String) -> [StoreSpec] {
        guard let source = sourceNode(forTopic: topic) else { return [] }
        var reached: Set<String> = []
        var next = [source]
        while let name = next.popLast() {
            if reached.insert(name).inserted { next += specs[name]?.children ?? [] }
        }
        return stores.filter { reached.contains($0.owner) }
    }

    /// Instantiates the nodes reachable from `source` for one task, children
    /// first; returns the source node and every node made, in name order.
    func instantiate(source: String, task: StreamTask) throws -> (source: Node<[UInt8]?>, nodes: [NodeCount]) {
        var made: [String: AnyObject] = [:]
        func make(_ name: String) throws -> AnyObject {
            if let node = made[name] { return node }
            let spec = specs[name]!
            let children = try spec.children.map(make)
            let node = try spec.make(NodeContext(children: children, childNames: spec.children, task: task))
            made[name] = node
            return node
        }
        let root = try make(source) as! Node<[UInt8]?>
        return (root, made.sorted { $0.key < $1.key }.compactMap { $0.value as? NodeCount })
    }

    /// The graph as indented text: one line per node with its children.
    public var description: String {
        var lines: [String] = []
        for name in order {
            guard let spec = specs[name] else { continue }
            var line = "\(spec.kind) \(name)"
            if !spec.topics.isEmpty { line += " topics: \(spec.topics.joined(separator: ", "))" }
            if let sink = spec.sinkTopic { line += " -> topic \(sink)" }
            if let sink = spec.sinkName { line += " -> sink \(sink)" }
            if !spec.children.isEmpty { line += " --> \(spec.children.joined(separator: ", "))" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

/// A node of the blueprint. `make` builds the node for one task from its
/// instantiated children; it is created where the DSL knows the node's
/// types, so the wiring is checked by the compiler.
@usableFromInline
final class NodeSpec {
    let name: String
    let kind: String
    var children: [String] = []
    var topics: [String] = []
    @usableFromInline var sinkTopic: String?
    /// The sink outside Kafka the node writes to.
    @usableFromInline var sinkName: String?
    let make: @Sendable (NodeContext) throws -> AnyObject

    init(name: String, kind: String, make: @escaping @Sendable (NodeContext) throws -> AnyObject) {
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
