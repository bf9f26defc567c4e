/// A record's value as transforms and conditions see it: an object of
/// fields, like a Logstash event.
///
/// An event made from a JSON document keeps the document and decodes a
/// top-level field only when it is read; fields nobody touches are written
/// back out byte for byte.
public struct Event: Sendable, Equatable {
    private var source: [UInt8]
    private var keys: [String]
    private var slots: [Slot]
    /// How many fields `source` has (-1 without one): with as many slots,
    /// all still raw, the event is its source unchanged.
    private var sourceFields = -1

    enum Slot: Sendable, Equatable {
        case raw(Range<Int>)
        case value(FieldValue)
    }

    /// An empty event.
    public init() {
        source = []
        keys = []
        slots = []
    }

    /// An event of the given fields.
    public init(_ fields: FieldMap) {
        source = []
        keys = fields.keys
        slots = fields.entries.map { .value($0.value) }
    }

    /// Parses a JSON object (validated in full; nested values stay undecoded).
    public init(json bytes: [UInt8]) throws(JSONError) {
        let view = try JSONObjectView(bytes)
        source = bytes
        keys = []
        slots = []
        keys.reserveCapacity(view.fields.count)
        slots.reserveCapacity(view.fields.count)
        for field in view.fields {
            keys.append(view.key(of: field))
            slots.append(.raw(field.valueStart..<field.valueEnd))
        }
        sourceFields = slots.count
    }

    /// The top-level field names in order.
    public var fieldNames: [String] { keys }

    /// The fields, decoded.
    public var fields: FieldMap {
        FieldMap(zip(keys, slots).map { ($0, decode($1)) })
    }

    /// A top-level field.
    public subscript(key: String) -> FieldValue? {
        get { index(of: key).map { decode(slots[$0]) } }
        set {
            if let i = index(of: key) {
                if let newValue { slots[i] = .value(newValue) } else { keys.remove(at: i); slots.remove(at: i) }
            } else if let newValue {
                keys.append(key)
                slots.append(.value(newValue))
            }
        }
    }

    /// A field at any depth; setting creates missing objects on the way,
    /// setting `nil` removes.
    public subscript(path: FieldPath) -> FieldValue? {
        get {
            guard var value = self[path.head] else { return nil }
            for key in path.components.dropFirst() {
                guard case .object(let map) = value, let next = map[key] else { return nil }
                value = next
            }
            return value
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
        let head = path.head
        guard path.components.count > 1 else {
            var value = self[head]
            let result = body(&value)
            self[head] = value
            return result
        }
        let i: Int
        var top: FieldValue
        if let found = index(of: head) {
            i = found
            top = decode(slots[i])
            // The slot lets go of the value while it changes, so that it changes in place.
            slots[i] = .value(.null)
        } else {
            guard creating else { return nil }
            i = keys.count
            keys.append(head)
            slots.append(.value(.null))
            top = .object(FieldMap())
        }
        let result = top.modify(path.components.dropFirst(), creating: creating, body)
        slots[i] = .value(top)
        return result
    }

    /// Whether a top-level field is present.
    public func contains(_ key: String) -> Bool { index(of: key) != nil }

    /// The raw JSON bytes of a top-level field not yet decoded or changed;
    /// lets a reader compare without decoding.
    public func rawBytes(_ key: String) -> ArraySlice<UInt8>? {
        guard let i = index(of: key), case .raw(let range) = slots[i] else { return nil }
        return source[range]
    }

    /// The event as a JSON object; untouched fields keep their bytes, and
    /// an event nothing changed is the document it was made from (shared,
    /// not copied).
    public func json() -> [UInt8] {
        if isSourceUnchanged { return source }
        var writer = JSONWriter()
        writer.out.reserveCapacity(source.count + 512)
        write(to: &writer)
        return writer.out
    }

    /// Appends the event as a JSON object to `writer`, untouched fields as
    /// their bytes.
    public func write(to writer: inout JSONWriter) {
        if isSourceUnchanged { writer.out.append(contentsOf: source); return }
        writer.out.append(UInt8(ascii: "{"))
        for i in keys.indices {
            if i > 0 { writer.out.append(UInt8(ascii: ",")) }
            writer.write(string: keys[i])
            writer.out.append(UInt8(ascii: ":"))
            switch slots[i] {
            case .raw(let range): writer.out.append(contentsOf: source[range])
            case .value(let value): writer.write(value)
            }
        }
        writer.out.append(UInt8(ascii: "}"))
    }

    private var isSourceUnchanged: Bool {
        slots.count == sourceFields && slots.allSatisfy { if case .raw = $0 { true } else { false } }
    }

    public static func == (a: Event, b: Event) -> Bool { a.fields == b.fields }

    private func index(of key: String) -> Int? { keys.lastIndex(of: key) }

    private func decode(_ slot: Slot) -> FieldValue {
        switch slot {
        case .value(let v): return v
        case .raw(let range):
            // The document was validated when the event was made.
            return (try? JSONParser.parse(source[range])) ?? .null
        }
    }
}

extension FieldValue {
    /// ``Event/modify(_:creating:_:)`` below this value.
    mutating func modify<R>(_ path: ArraySlice<String>, creating: Bool, _ body: (inout FieldValue?) -> R) -> R? {
        guard let key = path.first, case .object(var map) = self else { return nil }
        // Letting go of the map while it changes keeps it uniquely referenced: no copy.
        self = .null
        defer { self = .object(map) }
        if path.count == 1 { return map.modify(key, body) }
        guard creating || map[key] != nil else { return nil }
        return map.update(key, initial: .object(FieldMap())) { $0.modify(path.dropFirst(), creating: creating, body) }
    }
}
