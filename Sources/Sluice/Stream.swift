/// A stream of records of one value type in a topology under construction
/// (Kafka Streams' KStream). Each operator adds a node and returns the
/// stream of its output.
public struct Stream<Value> {
    let builder: TopologyBuilder
    /// The name of the node whose output this stream is.
    public let node: String

    /// Adds a node that is a child of this stream's node and returns it as a stream.
    func child<Out>(_ name: String?, kind: String,
                    make: @escaping @Sendable (String, [Node<Out>]) -> Node<Value>) -> Stream<Out> {
        let name = builder.name(name, kind)
        builder.add(name, kind: kind, parents: [node]) { children, _ in
            make(name, children.map { $0 as! Node<Out> })
        }
        return Stream<Out>(builder: builder, node: name)
    }

    /// Keeps the records for which `predicate` holds.
    public func filter(named name: String? = nil, _ predicate: @escaping @Sendable (Record<Value>) throws -> Bool) -> Stream<Value> {
        child(name, kind: "filter") { FilterNode(name: $0, children: $1, predicate: predicate) }
    }

    /// Keeps the records for which `predicate` does not hold.
    public func filterNot(named name: String? = nil, _ predicate: @escaping @Sendable (Record<Value>) throws -> Bool) -> Stream<Value> {
        filter(named: name) { try !predicate($0) }
    }

    /// Replaces each record (key, value, headers, timestamp).
    public func map<Out>(named name: String? = nil,
                         _ transform: @escaping @Sendable (Record<Value>) throws -> Record<Out>) -> Stream<Out> {
        child(name, kind: "map") { MapNode(name: $0, children: $1, transform: transform) }
    }

    /// Replaces each record's value, keeping its key, headers and timestamp.
    public func mapValues<Out>(named name: String? = nil,
                               _ transform: @escaping @Sendable (Record<Value>) throws -> Out) -> Stream<Out> {
        map(named: name) { record in record.withValue(try transform(record)) }
    }

    /// Replaces each record by zero or more records.
    public func flatMap<Out>(named name: String? = nil,
                             _ transform: @escaping @Sendable (Record<Value>) throws -> [Record<Out>]) -> Stream<Out> {
        child(name, kind: "flatmap") { FlatMapNode(name: $0, children: $1, transform: transform) }
    }

    /// Replaces each record's key (which chooses its output partition).
    public func selectKey(named name: String? = nil,
                          _ key: @escaping @Sendable (Record<Value>) throws -> [UInt8]?) -> Stream<Value> {
        map(named: name) { record in
            var out = record
            out.key = try key(record)
            return out
        }
    }

    /// Runs `action` on each record and passes it on unchanged.
    public func peek(named name: String? = nil, _ action: @escaping @Sendable (Record<Value>) throws -> Void) -> Stream<Value> {
        child(name, kind: "peek") { PeekNode(name: $0, children: $1, action: action) }
    }

    /// One stream of the records of this one and of `others`.
    public func merge(named name: String? = nil, _ others: Stream<Value>...) -> Stream<Value> {
        let name = builder.name(name, "merge")
        builder.add(name, kind: "merge", parents: [node] + others.map(\.node)) { children, _ in
            PassNode<Value>(name: name, children: children.map { $0 as! Node<Value> })
        }
        return Stream(builder: builder, node: name)
    }

    /// Starts a split into named branches; see ``BranchedStream``.
    public func split(named name: String? = nil) -> BranchedStream<Value> {
        BranchedStream(source: self, name: builder.name(name, "split"))
    }

    /// Runs a custom ``Processor``; `make` is called once per task.
    public func process<P: Processor>(named name: String? = nil,
                                      _ make: @escaping @Sendable () -> P) -> Stream<P.Output> where P.Input == Value {
        let name = builder.name(name, "processor")
        builder.add(name, kind: "processor", parents: [node]) { children, childNames in
            ProcessorNode(name: name, processor: make(), children: children.map { $0 as! Node<P.Output> },
                          childNames: childNames)
        }
        return Stream<P.Output>(builder: builder, node: name)
    }

    /// Writes each record to `topic`, encoding its value with `serialize`
    /// (`nil` writes a tombstone).
    public func to(_ topic: String, named name: String? = nil,
                   serialize: @escaping @Sendable (Value) throws -> [UInt8]?) {
        let spec = sink(name, topic: { _ in topic }, serialize: serialize)
        spec.sinkTopic = topic
    }

    /// Writes each record to the topic `chooser` names for it.
    public func to(named name: String? = nil, topic chooser: @escaping @Sendable (Record<Value>) throws -> String,
                   serialize: @escaping @Sendable (Value) throws -> [UInt8]?) {
        sink(name, topic: chooser, serialize: serialize)
    }

    @discardableResult
    private func sink(_ name: String?, topic: @escaping @Sendable (Record<Value>) throws -> String,
                      serialize: @escaping @Sendable (Value) throws -> [UInt8]?) -> NodeSpec {
        let name = builder.name(name, "sink")
        return builder.add(name, kind: "sink", parents: [node]) { _, _ in
            SinkNode(name: name, topic: topic, serialize: serialize)
        }
    }
}

extension Stream where Value == [UInt8]? {
    /// Writes each record's bytes to `topic`.
    public func to(_ topic: String, named name: String? = nil) {
        to(topic, named: name) { $0 }
    }

    /// Writes each record's bytes to the topic `chooser` names for it.
    public func to(named name: String? = nil, topic chooser: @escaping @Sendable (Record<Value>) throws -> String) {
        to(named: name, topic: chooser) { $0 }
    }
}

extension Stream where Value == [UInt8] {
    /// Writes each record's bytes to `topic`.
    public func to(_ topic: String, named name: String? = nil) {
        to(topic, named: name) { $0 }
    }

    /// Writes each record's bytes to the topic `chooser` names for it.
    public func to(named name: String? = nil, topic chooser: @escaping @Sendable (Record<Value>) throws -> String) {
        to(named: name, topic: chooser) { $0 }
    }
}

/// A split under construction: ordered branches, the first whose predicate
/// holds gets the record; an optional default branch gets the rest.
public struct BranchedStream<Value> {
    let source: Stream<Value>
    let name: String
    var branches: [(name: String, predicate: @Sendable (Record<Value>) throws -> Bool)] = []

    /// Adds a branch named `name` taking records for which `predicate`
    /// holds and no earlier branch's did.
    public func branch(_ name: String, where predicate: @escaping @Sendable (Record<Value>) throws -> Bool) -> BranchedStream {
        var copy = self
        copy.branches.append((name, predicate))
        return copy
    }

    /// Ends the split with a default branch; returns each branch's stream by name.
    public func defaultBranch(_ name: String) -> [String: Stream<Value>] {
        finish(defaultName: name)
    }

    /// Ends the split without a default branch: records matching no branch
    /// go nowhere. Returns each branch's stream by name.
    public func noDefaultBranch() -> [String: Stream<Value>] {
        finish(defaultName: nil)
    }

    private func finish(defaultName: String?) -> [String: Stream<Value>] {
        let builder = source.builder
        let predicates = branches.map { $0.predicate }
        let hasDefault = defaultName != nil
        let splitName = name
        builder.add(splitName, kind: "split", parents: [source.node]) { children, _ in
            let nodes = children.map { $0 as! Node<Value> }
            return SplitNode(name: splitName, predicates: predicates, branches: Array(nodes.prefix(predicates.count)),
                             defaultBranch: hasDefault ? nodes.last : nil)
        }
        var out: [String: Stream<Value>] = [:]
        for branch in branches.map(\.name) + (defaultName.map { [$0] } ?? []) {
            let nodeName = "\(splitName)-\(branch)"
            if out[branch] != nil { builder.problems.append("split \(splitName) has two branches named \(branch)") }
            builder.add(nodeName, kind: "branch", parents: [splitName]) { children, _ in
                PassNode<Value>(name: nodeName, children: children.map { $0 as! Node<Value> })
            }
            out[branch] = Stream(builder: builder, node: nodeName)
        }
        return out
    }
}
