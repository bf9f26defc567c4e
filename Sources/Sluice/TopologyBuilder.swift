/// Builds a ``Topology`` with a Kafka-Streams-like DSL.
///
/// ```swift
/// let builder = TopologyBuilder()
/// let parsed = builder.stream(["logs"]).mapValues(named: "parse") { try Event(json: $0.value) }
/// let branches = parsed.split(named: "classify")
///     .branch("errors") { $0.value.status >= 500 }
///     .defaultBranch("other")
/// branches["errors"]!.to("logs-errors") { $0.json }
/// let topology = try builder.build()
/// ```
///
/// Closures run on several stream threads at once (one instance of each
/// node per task), hence `@Sendable`. Node names must be unique; unnamed
/// operators get a generated name.
public final class TopologyBuilder {
    var specs: [String: NodeSpec] = [:]
    var order: [String] = []
    var topicSources: [String: String] = [:]
    var patternSources: [(pattern: String, node: String)] = []
    var sinks: [String: SinkSpec] = [:]
    /// The state stores, by name; a store serves one processor.
    var stores: [String: StoreSpec] = [:]
    /// The internal topics records are repartitioned through, in the order added.
    var repartitionTopics: [String] = []
    @usableFromInline var problems: [String] = []
    private var counter = 0

    /// Creates an empty builder.
    public init() {}

    /// A stream of the records of `topics`. A name starting with `^` is a
    /// regex pattern matched against topic names. Values are `nil` for
    /// tombstones.
    public func stream(_ topics: [String], named name: String? = nil) -> Stream<[UInt8]?> {
        let name = self.name(name, "source")
        let spec = add(name, kind: "source") { Node<[UInt8]?>.pass(name: name, to: $0.children) }
        spec.topics = topics
        for topic in topics {
            if let existing = topicSources[topic] ?? patternSources.first(where: { $0.pattern == topic })?.node {
                problems.append("topic \(topic) is read by both \(existing) and \(spec.name)")
            } else if topic.hasPrefix("^") {
                patternSources.append((topic, spec.name))
            } else {
                topicSources[topic] = spec.name
            }
        }
        if topics.isEmpty { problems.append("source \(spec.name) reads no topic") }
        return Stream(builder: self, node: spec.name)
    }

    /// The finished topology. Throws if the graph is inconsistent (a topic
    /// read twice, a duplicate name, no source).
    public func build() throws -> Topology {
        if topicSources.isEmpty && patternSources.isEmpty { problems.append("the topology reads no topic") }
        guard problems.isEmpty else { throw TopologyError(problems.joined(separator: "; ")) }
        return Topology(specs: specs, order: order, topicSources: topicSources, patternSources: patternSources,
                        sinks: sinks, stores: stores.values.sorted { $0.name < $1.name }, repartitionTopics: repartitionTopics)
    }

    /// Records that node `owner` keeps its state in `store`, whose entries
    /// matter for `retention` ms (`nil`: as long as they exist).
    func claimStore(_ store: String, for owner: String, retention: Int64?) {
        if let other = stores[store] {
            problems.append("state store \(store) is used by both \(other.owner) and \(owner)")
        } else if store.isEmpty || store.contains("/") {
            problems.append("state store name \"\(store)\" must be non-empty and without '/'")
        } else {
            stores[store] = StoreSpec(name: store, owner: owner, retention: retention)
        }
    }

    /// Makes `sink` part of the topology; writing to it again by name shares it.
    @usableFromInline
    func register<Item>(_ sink: SinkDefinition<Item>) {
        if sinks[sink.name] == nil { sinks[sink.name] = SinkSpec(sink) }
    }

    @usableFromInline @discardableResult
    func add(_ name: String, kind: String, parents: [String] = [],
             make: @escaping @Sendable (NodeContext) throws -> AnyObject) -> NodeSpec {
        let spec = NodeSpec(name: name, kind: kind, make: make)
        if specs[name] != nil { problems.append("two nodes are named \(name)") }
        specs[name] = spec
        order.append(name)
        for parent in parents { specs[parent]?.children.append(name) }
        return spec
    }

    /// `given`, or a generated unique name for an unnamed node.
    @usableFromInline
    func name(_ given: String?, _ kind: String) -> String {
        if let given { return given }
        counter += 1
        return "\(kind.uppercased())-\(String(counter).leftPadded(to: 4))"
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
