/// A record's value as transforms and conditions see it: an object of
/// fields, like a Logstash event.
///
/// An event made from a JSON document keeps the document and decodes a
/// top-level field only when it is read; fields nobody touches are written
/// back out byte for byte.
///
/// Fields at every depth live in one array of nodes, each object's fields
/// linked in order: writing `[http][response][status_code]` walks and
/// appends nodes in place rather than copying each object on the way out
/// and back in, and an event frees one array rather than one per object.
public struct Event: Sendable, Equatable {
    private var source: [UInt8]
    /// Node 0 is the top-level object.
    private var nodes: [Node]
    /// How many fields `source` has (-1 without one): with as many
    /// top-level fields, all still raw, the event is its source unchanged.
    private var sourceFields = -1

    struct Node: Sendable {
        let key: String
        /// The UTF-8 length of `key`: a lookup compares it first.
        let keyLength: Int32
        /// Set only through ``set(_:)``, which keeps `isObject` true to it.
        private(set) var content: Content
        /// Whether `content` is `.object`. Path walks test it on every
        /// step: reading the enum itself copied its payload, with a retain
        /// and a release.
        private(set) var isObject: Bool
        /// The next and previous fields of the same object, the first and
        /// last fields of this one (indices into `nodes`, -1 for none).
        var next: Int32 = -1
        var previous: Int32 = -1
        var first: Int32 = -1
        var last: Int32 = -1

        init(key: String, content: Content, previous: Int32 = -1) {
            self.key = key
            keyLength = Int32(truncatingIfNeeded: key.utf8.count)
            self.content = content
            isObject = if case .object = content { true } else { false }
            self.previous = previous
        }

        mutating func set(_ newContent: Content) {
            isObject = if case .object = newContent { true } else { false }
            content = newContent
        }
    }

    enum Content: Sendable {
        /// Undecoded JSON in `source`.
        case raw(Range<Int>)
        /// A value; an object held here becomes nodes when a path is written through it.
        case value(FieldValue)
        /// An object whose fields are nodes.
        case object
    }

    /// An empty event.
    public init() { self.init(capacity: 0) }

    /// An empty event with room for `capacity` fields (at any depth), so
    /// that adding them does not regrow its storage field by field.
    public init(capacity: Int) {
        source = []
        nodes = []
        nodes.reserveCapacity(capacity + 1)
        nodes.append(Node(key: "", content: .object))
    }

    /// An event of the given fields.
    public init(_ fields: FieldMap) {
        self.init()
        for entry in fields.entries { append(entry.key, .value(entry.value), to: 0) }
    }

    /// Parses a JSON object (validated in full; nested values stay undecoded).
    public init(json bytes: [UInt8]) throws(JSONError) {
        let view = try JSONObjectView(bytes)
        source = bytes
        nodes = [Node(key: "", content: .object)]
        // Room for the fields steps add, so that they do not regrow the array.
        nodes.reserveCapacity(view.fields.count + 24)
        for field in view.fields { append(view.key(of: field), .raw(field.valueStart..<field.valueEnd), to: 0) }
        sourceFields = view.fields.count
    }

    /// The top-level field names in order.
    public var fieldNames: [String] { children(of: 0).map { nodes[Int($0)].key } }

    /// The fields, decoded.
    public var fields: FieldMap { object(0) }

    /// A top-level field.
    public subscript(key: String) -> FieldValue? {
        get { child(of: 0, named: key).map(value(of:)) }
        set {
            if let n = child(of: 0, named: key) {
                if let newValue { replace(n, with: newValue) } else { unlink(n, from: 0) }
            } else if let newValue {
                append(key, .value(newValue), to: 0)
            }
        }
    }

    /// A field at any depth; setting creates missing objects on the way,
    /// setting `nil` removes.
    public subscript(path: FieldPath) -> FieldValue? {
        get {
            var n: Int32 = 0
            for (depth, key) in path.components.enumerated() {
                guard nodes[Int(n)].isObject else {
                    // A value not made into nodes: the rest of the path is read inside it.
                    return value(of: n).value(at: path.components[depth...])
                }
                guard let c = child(of: n, named: key) else { return nil }
                n = c
            }
            return value(of: n)
        }
        set { _ = set(path, to: newValue) }
    }

    /// Sets (or with `nil` removes) the field at `path`, creating missing
    /// objects on the way; `false` if a value that is not an object is in
    /// the way (`[a][b]` when `a` is a string), and nothing changes.
    @discardableResult
    public mutating func set(_ path: FieldPath, to newValue: FieldValue?) -> Bool {
        guard let newValue else {
            _ = modify(path, creating: false) { $0 = nil }
            return true
        }
        return modify(path, creating: true) { $0 = newValue } != nil
    }

    /// Runs `body` on the field at `path` in place: `nil` when it is absent,
    /// and setting `nil` removes it. With `creating`, missing objects on the
    /// way are added (`body` is expected to set a value); without, a missing
    /// one ends the walk. `nil`, without calling `body`, if the walk ends or
    /// a value that is not an object is in the way.
    mutating func modify<R>(_ path: FieldPath, creating: Bool, _ body: (inout FieldValue?) -> R) -> R? {
        var n: Int32 = 0
        for key in path.components.dropLast() {
            guard expand(n) else { return nil }
            if let c = child(of: n, named: key) {
                n = c
            } else {
                guard creating else { return nil }
                n = append(key, .object, to: n)
            }
        }
        guard expand(n) else { return nil }
        let key = path.components[path.components.count - 1]
        guard let c = child(of: n, named: key) else {
            var value: FieldValue?
            let result = body(&value)
            if let value { append(key, .value(value), to: n) }
            return result
        }
        var value: FieldValue? = take(c)
        let result = body(&value)
        if let value { replace(c, with: value) } else { unlink(c, from: n) }
        return result
    }

    /// Whether a top-level field is present.
    public func contains(_ key: String) -> Bool { child(of: 0, named: key) != nil }

    /// The raw JSON bytes of a top-level field not yet decoded or changed;
    /// lets a reader compare without decoding.
    public func rawBytes(_ key: String) -> ArraySlice<UInt8>? {
        guard let n = child(of: 0, named: key), case .raw(let range) = nodes[Int(n)].content else { return nil }
        return source[range]
    }

    /// The event as a JSON object; untouched fields keep their bytes, and
    /// an event nothing changed is the document it was made from (shared,
    /// not copied).
    public func json() -> [UInt8] {
        if isSourceUnchanged { return source }
        var writer = JSONWriter(capacity: source.count + 512)
        write(to: &writer)
        return writer.bytes
    }

    /// Appends the event as a JSON object to `writer`, untouched fields as
    /// their bytes.
    public func write(to writer: inout JSONWriter) {
        if isSourceUnchanged { writer.append(source); return }
        writeObject(0, to: &writer)
    }

    public static func == (a: Event, b: Event) -> Bool { a.fields == b.fields }

    private var isSourceUnchanged: Bool {
        guard sourceFields >= 0 else { return false }
        var count = 0
        var c = nodes[0].first
        while c >= 0 {
            guard case .raw = nodes[Int(c)].content else { return false }
            count += 1
            c = nodes[Int(c)].next
        }
        return count == sourceFields
    }

    private func writeObject(_ n: Int32, to writer: inout JSONWriter) {
        writer.append(UInt8(ascii: "{"))
        var c = nodes[Int(n)].first
        while c >= 0 {
            writer.write(memberName: nodes[Int(c)].key, first: c == nodes[Int(n)].first)
            switch nodes[Int(c)].content {
            case .raw(let range): writer.append(source[range])
            case .value(let value): writer.write(value)
            case .object: writeObject(c, to: &writer)
            }
            c = nodes[Int(c)].next
        }
        writer.append(UInt8(ascii: "}"))
    }

    /// The fields of object node `n` in order.
    private func children(of n: Int32) -> [Int32] {
        var out: [Int32] = []
        var c = nodes[Int(n)].first
        while c >= 0 {
            out.append(c)
            c = nodes[Int(c)].next
        }
        return out
    }

    /// The field `key` of object node `parent`; the last one of that name,
    /// as a JSON parser reads a repeated key.
    private func child(of parent: Int32, named key: String) -> Int32? {
        // From the last field back: the first match is the one that counts,
        // and fields that steps added, which they read most, come last.
        // Lengths first: unequal keys mostly differ in length, and comparing
        // lengths costs far less than comparing strings.
        let length = Int32(truncatingIfNeeded: key.utf8.count)
        var c = nodes[Int(parent)].last
        while c >= 0 {
            if nodes[Int(c)].keyLength == length, nodes[Int(c)].key == key { return c }
            c = nodes[Int(c)].previous
        }
        return nil
    }

    /// Takes `key` and `content` over from the caller: stored without a
    /// copy, they cost no retain here and no release there.
    @discardableResult
    private mutating func append(_ key: consuming String, _ content: consuming Content, to parent: Int32) -> Int32 {
        let n = Int32(nodes.count)
        let last = nodes[Int(parent)].last
        nodes.append(Node(key: key, content: content, previous: last))
        if last >= 0 { nodes[Int(last)].next = n } else { nodes[Int(parent)].first = n }
        nodes[Int(parent)].last = n
        return n
    }

    /// Takes node `n`, a field of `parent`, out of that object's fields; its
    /// storage stays unused until the event goes.
    private mutating func unlink(_ n: Int32, from parent: Int32) {
        let previous = nodes[Int(n)].previous, next = nodes[Int(n)].next
        if previous >= 0 { nodes[Int(previous)].next = next } else { nodes[Int(parent)].first = next }
        if next >= 0 { nodes[Int(next)].previous = previous } else { nodes[Int(parent)].last = previous }
    }

    private mutating func replace(_ n: Int32, with value: FieldValue) {
        nodes[Int(n)].set(.value(value))
        nodes[Int(n)].first = -1
        nodes[Int(n)].last = -1
    }

    /// Node `n`'s value, leaving a placeholder, so that a value changed and
    /// put back (an array appended to) is changed in place.
    private mutating func take(_ n: Int32) -> FieldValue {
        guard case .value(let value) = nodes[Int(n)].content else { return self.value(of: n) }
        nodes[Int(n)].set(.value(.null))
        return value
    }

    /// Makes node `n` an object of nodes if its value is an object; `false`
    /// if it holds anything else.
    private mutating func expand(_ n: Int32) -> Bool {
        if nodes[Int(n)].isObject { return true }
        guard case .object(let map) = value(of: n) else { return false }
        nodes[Int(n)].set(.object)
        nodes[Int(n)].first = -1
        nodes[Int(n)].last = -1
        for entry in map.entries { append(entry.key, .value(entry.value), to: n) }
        return true
    }

    private func value(of n: Int32) -> FieldValue {
        switch nodes[Int(n)].content {
        case .value(let value): return value
        case .object: return .object(object(n))
        case .raw(let range):
            // The document was validated when the event was made.
            return (try? JSONParser.parse(source[range])) ?? .null
        }
    }

    private func object(_ n: Int32) -> FieldMap {
        FieldMap(children(of: n).map { (nodes[Int($0)].key, value(of: $0)) })
    }
}

extension FieldValue {
    /// The value at `path` below this one, through objects; `nil` if a
    /// field on the way is missing or not an object.
    func value(at path: ArraySlice<String>) -> FieldValue? {
        var value = self
        for key in path {
            guard case .object(let map) = value, let next = map[key] else { return nil }
            value = next
        }
        return value
    }
}
