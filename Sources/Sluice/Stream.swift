/// A stream of records of one value type in a topology under construction
/// (Kafka Streams' KStream). Each operator adds a node and returns the
/// stream of its output.
///
/// The operators are `@inlinable`: the record path is compiled in the
/// module that builds the topology, specialized for its value types.
public struct Stream<Value> {
    @usableFromInline let builder: TopologyBuilder
    /// The name of the node whose output this stream is.
    public let node: String

    @usableFromInline
    init(builder: TopologyBuilder, node: String) {
        self.builder = builder
        self.node = node
    }

    /// Adds a child node of this stream's node whose body `make` builds per
    /// task, given the node's name and the function that feeds its children.
    @inlinable
    func child<Out>(_ name: String?, kind: String,
                    _ make: @escaping @Sendable (String, @escaping (consuming Record<Out>) throws -> Void)
                        -> (consuming Record<Value>) throws -> Void)
        -> Stream<Out> {
        let name = builder.name(name, kind)
        builder.add(name, kind: kind, parents: [node]) { context in
            Node<Value>(name: name, body: make(name, context.emit(Out.self)))
        }
        return Stream<Out>(builder: builder, node: name)
    }

    /// Keeps the records for which `predicate` holds.
    @inlinable
    public func filter(named name: String? = nil, _ predicate: @escaping @Sendable (Record<Value>) throws -> Bool) -> Stream<Value> {
        child(name, kind: "filter") { name, emit in
            { record in if try attributed(to: name, { try predicate(record) }) { try emit(consume record) } }
        }
    }

    /// Keeps the records for which `predicate` does not hold.
    @inlinable
    public func filterNot(named name: String? = nil, _ predicate: @escaping @Sendable (Record<Value>) throws -> Bool) -> Stream<Value> {
        filter(named: name) { try !predicate($0) }
    }

    /// Replaces each record (key, value, headers, timestamp).
    @inlinable
    public func map<Out>(named name: String? = nil,
                         _ transform: @escaping @Sendable (Record<Value>) throws -> Record<Out>) -> Stream<Out> {
        child(name, kind: "map") { name, emit in
            { record in try emit(attributed(to: name) { try transform(record) }) }
        }
    }

    /// Replaces each record's value, keeping its key, headers and timestamp.
    @inlinable
    public func mapValues<Out>(named name: String? = nil,
                               _ transform: @escaping @Sendable (Record<Value>) throws -> Out) -> Stream<Out> {
        child(name, kind: "map") { name, emit in
            { record in
                // Not through `attributed(to:)`: a closure that captured the
                // record would make the move below a copy.
                let value: Out
                do { value = try transform(record) } catch { throw attribute(error, to: name) }
                // Ended before `emit`: a temporary would live until it returns.
                let out = (consume record).replacingValue(with: consume value)
                try emit(consume out)
            }
        }
    }

    /// Replaces each record by zero or more records.
    @inlinable
    public func flatMap<Out>(named name: String? = nil,
                             _ transform: @escaping @Sendable (Record<Value>) throws -> [Record<Out>]) -> Stream<Out> {
        child(name, kind: "flatmap") { name, emit in
            { record in for out in try attributed(to: name, { try transform(record) }) { try emit(out) } }
        }
    }

    /// Replaces each record's key (which chooses its output partition).
    @inlinable
    public func selectKey(named name: String? = nil,
                          _ key: @escaping @Sendable (Record<Value>) throws -> [UInt8]?) -> Stream<Value> {
        child(name, kind: "map") { name, emit in
            { record in
                var out = record
                out.key = try attributed(to: name) { try key(out) }
                try emit(out)
            }
        }
    }

    /// Runs `action` on each record and passes it on unchanged.
    @inlinable
    public func peek(named name: String? = nil, _ action: @escaping @Sendable (Record<Value>) throws -> Void) -> Stream<Value> {
        child(name, kind: "peek") { name, emit in
            { record in
                try attributed(to: name) { try action(record) }
                try emit(consume record)
            }
        }
    }

    /// One stream of the records of this one and of `others`.
    @inlinable
    public func merge(named name: String? = nil, _ others: Stream<Value>...) -> Stream<Value> {
        merge(named: name, others)
    }

    /// One stream of the records of this one and of `others`.
    @inlinable
    public func merge(named name: String? = nil, _ others: [Stream<Value>]) -> Stream<Value> {
        let name = builder.name(name, "merge")
        builder.add(name, kind: "merge", parents: [node] + others.map(\.node)) { Node<Value>.pass(name: name, to: $0.children) }
        return Stream(builder: builder, node: name)
    }

    /// Starts a split into named branches; see ``BranchedStream``.
    @inlinable
    public func split(named name: String? = nil) -> BranchedStream<Value> {
        BranchedStream(source: self, name: builder.name(name, "split"))
    }

    /// Runs a custom ``Processor``; `make` is called once per task.
    @inlinable
    public func process<P: Processor>(named name: String? = nil,
                                      _ make: @escaping @Sendable () -> P) -> Stream<P.Output> where P.Input == Value {
        let name = builder.name(name, "processor")
        builder.add(name, kind: "processor", parents: [node]) { context in
            let processor = make()
            let nodes = context.children.map { $0 as! Node<P.Output> }
            try attributed(to: name) {
                try processor.initialize(context: ProcessorContext(processorName: name, children: nodes,
                                                                   childNames: context.childNames, task: context.task))
            }
            context.task.onClose { processor.close() }
            return Node<Value>(name: name) { record in
                do { try processor.process(consume record) } catch { throw attribute(error, to: name) }
            }
        }
        return Stream<P.Output>(builder: builder, node: name)
    }

    /// Writes each record to `topic`, encoding its value with `serialize`
    /// (`nil` writes a tombstone).
    @inlinable
    public func to(_ topic: String, named name: String? = nil,
                   serialize: @escaping @Sendable (Value) throws -> [UInt8]?) {
        sink(name, topic: { _ in topic }, serialize: serialize).sinkTopic = topic
    }

    /// Writes each record to the topic `chooser` names for it.
    @inlinable
    public func to(named name: String? = nil, topic chooser: @escaping @Sendable (Record<Value>) throws -> String,
                   serialize: @escaping @Sendable (Value) throws -> [UInt8]?) {
        sink(name, topic: chooser, serialize: serialize)
    }

    @inlinable @discardableResult
    func sink(_ name: String?, topic: @escaping @Sendable (Record<Value>) throws -> String,
              serialize: @escaping @Sendable (Value) throws -> [UInt8]?) -> NodeSpec {
        let name = builder.name(name, "sink")
        return builder.add(name, kind: "sink", parents: [node]) { context in
            let collector = context.task.collector
            // A send that fails at once (too large, bad topic name) is this record's
            // fault: it goes to the dead-letter topic. Failed deliveries stop the thread.
            return Node<Value>(name: name) { record in
                try attributed(to: name) {
                    try collector.send(topic: try topic(record), key: record.key, value: try serialize(record.value),
                                       headers: record.headers, timestamp: record.timestamp)
                }
            }
        }
    }
}

/// Values a sink writes as they are: bytes, or `nil` for a tombstone.
public protocol RawBytes: SendableMetatype {
    /// The bytes to write; `nil` writes a tombstone.
    var rawBytes: [UInt8]? { get }
}

extension Array: RawBytes where Element == UInt8 {
    @inlinable public var rawBytes: [UInt8]? { self }
}

extension Optional: RawBytes where Wrapped == [UInt8] {
    @inlinable public var rawBytes: [UInt8]? { self }
}

extension Stream where Value: RawBytes {
    /// Writes each record's bytes to `topic`.
    @inlinable
    public func to(_ topic: String, named name: String? = nil) {
        to(topic, named: name) { $0.rawBytes }
    }

    /// Writes each record's bytes to the topic `chooser` names for it.
    @inlinable
    public func to(named name: String? = nil, topic chooser: @escaping @Sendable (Record<Value>) throws -> String) {
        to(named: name, topic: chooser) { $0.rawBytes }
    }
}

/// A split under construction: ordered branches, the first whose predicate
/// holds gets the record; an optional default branch gets the rest.
public struct BranchedStream<Value> {
    @usableFromInline let source: Stream<Value>
    @usableFromInline let name: String
    @usableFromInline var branches: [(name: String, predicate: @Sendable (Record<Value>) throws -> Bool)] = []

    @usableFromInline
    init(source: Stream<Value>, name: String) {
        self.source = source
        self.name = name
    }

    /// Adds a branch named `name` taking records for which `predicate`
    /// holds and no earlier branch's did.
    @inlinable
    public func branch(_ name: String, where predicate: @escaping @Sendable (Record<Value>) throws -> Bool) -> BranchedStream {
        var copy = self
        copy.branches.append((name, predicate))
        return copy
    }

    /// Ends the split with a default branch; returns each branch's stream by name.
    @inlinable
    public func defaultBranch(_ name: String) -> [String: Stream<Value>] {
        finish(defaultName: name)
    }

    /// Ends the split without a default branch: records matching no branch
    /// go nowhere. Returns each branch's stream by name.
    @inlinable
    public func noDefaultBranch() -> [String: Stream<Value>] {
        finish(defaultName: nil)
    }

    @inlinable
    func finish(defaultName: String?) -> [String: Stream<Value>] {
        let builder = source.builder
        let predicates = branches.map { $0.predicate }
        let hasDefault = defaultName != nil
        let splitName = name
        builder.add(splitName, kind: "split", parents: [source.node]) { context in
            let targets = context.children.map { ($0 as! Node<Value>).entry }
            // One closure per branch, each calling its predicate and target
            // or the next branch's closure: called from a closure's context,
            // they cost no retain and release per record, as taking them
            // out of an array does.
            var route: (consuming Record<Value>) throws -> Void = hasDefault ? targets.last! : { _ in }
            for (predicate, target) in zip(predicates, targets).reversed() {
                let next = route
                route = { record in
                    let holds: Bool
                    do { holds = try predicate(record) } catch { throw attribute(error, to: splitName) }
                    if holds { try target(consume record) } else { try next(consume record) }
                }
            }
            return Node<Value>(name: splitName, body: route)
        }
        var out: [String: Stream<Value>] = [:]
        for branch in branches.map({ $0.name }) + (defaultName.map { [$0] } ?? []) {
            let nodeName = "\(splitName)-\(branch)"
            if out[branch] != nil { builder.problems.append("split \(splitName) has two branches named \(branch)") }
            builder.add(nodeName, kind: "branch", parents: [splitName]) { Node<Value>.pass(name: nodeName, to: $0.children) }
            out[branch] = Stream(builder: builder, node: nodeName)
        }
        return out
    }
}
