/// The bytes of a ``MetricAggregate`` in state stores and changelog
/// records: a version byte, a kind byte, then the kind's fields in
/// little-endian fixed widths.
extension MetricAggregate {
    private static let version: UInt8 = 1

    /// The aggregate as bytes.
    public var encoded: [UInt8] {
        var w = ByteWriter()
        w.byte(Self.version)
        switch self {
        case .counter(let sum):
            w.byte(0); w.double(sum)
        case .gauge(let value):
            w.byte(1); w.double(value)
        case .timer(let samples):
            w.byte(2); w.double(samples.count)
            w.int(samples.values.count)
            for v in samples.values { w.double(v) }
            if let sketch = samples.sketch {
                w.byte(1)
                w.sketch(sketch)
            } else {
                w.byte(0)
            }
        case .set(let members):
            w.byte(3); w.int(members.count)
            for m in members { w.text(m) }
        }
        return w.bytes
    }

    /// Reads what ``encoded`` wrote; throws on bytes it did not write.
    public init(encoded bytes: [UInt8]) throws(StateDecodingError) {
        var r = ByteReader(bytes)
        guard try r.byte() == Self.version else { throw StateDecodingError("unknown aggregate version") }
        switch try r.byte() {
        case 0: self = .counter(try r.double())
        case 1: self = .gauge(try r.double())
        case 2:
            let count = try r.double()
            var values: [Double] = []
            for _ in 0..<(try r.count()) { values.append(try r.double()) }
            let sketch = try r.byte() == 1 ? try r.sketch() : nil
            self = .timer(TimerSamples(count: count, values: values, sketch: sketch))
        case 3:
            var members = Set<String>()
            for _ in 0..<(try r.count()) { members.insert(try r.text()) }
            self = .set(members)
        case let kind: throw StateDecodingError("unknown aggregate kind \(kind)")
        }
        guard r.isAtEnd else { throw StateDecodingError("\(r.remaining) bytes after the aggregate") }
    }
}

/// Bytes in a state store or changelog that Sluice did not write, or wrote
/// in a version it does not read.
public struct StateDecodingError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var description: String
    init(_ description: String) { self.description = description }
}

struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func byte(_ b: UInt8) { bytes.append(b) }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func double(_ v: Double) { u64(v.bitPattern) }
    mutating func int(_ v: Int) { u64(UInt64(v)) }
    mutating func text(_ s: String) {
        int(s.utf8.count)
        bytes.append(contentsOf: s.utf8)
    }

    mutating func sketch(_ s: QuantileSketch) {
        u64(s.zeros); u64(s.count)
        double(s.min); double(s.max); double(s.sum); double(s.sumSquares)
        for buckets in [s.positive, s.negative] {
            int(buckets.count)
            for (i, n) in buckets {
                u64(UInt64(UInt32(bitPattern: i)))
                u64(n)
            }
        }
    }
}

struct ByteReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }
    var remaining: Int { bytes.count - offset }

    mutating func byte() throws(StateDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw StateDecodingError("the aggregate ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u64() throws(StateDecodingError) -> UInt64 {
        guard remaining >= 8 else { throw StateDecodingError("the aggregate ends early") }
        var v: UInt64 = 0
        for i in (0..<8).reversed() { v = v << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return v
    }

    mutating func double() throws(StateDecodingError) -> Double { Double(bitPattern: try u64()) }

    /// A count of items, each at least one byte: more than the bytes left is corrupt.
    mutating func count() throws(StateDecodingError) -> Int {
        let n = try u64()
        guard n <= UInt64(remaining) else { throw StateDecodingError("a count of \(n) with \(remaining) bytes left") }
        return Int(n)
    }

    mutating func text() throws(StateDecodingError) -> String {
        let n = try count()
        defer { offset += n }
        return String(decoding: bytes[offset..<offset + n], as: UTF8.self)
    }

    mutating func sketch() throws(StateDecodingError) -> QuantileSketch {
        var s = QuantileSketch()
        s.zeros = try u64()
        let total = try u64()
        let (min, max, sum, squares) = (try double(), try double(), try double(), try double())
        s.restore(count: total, min: min, max: max, sum: sum, sumSquares: squares)
        for negative in [false, true] {
            for _ in 0..<(try count()) {
                let i = Int32(bitPattern: UInt32(truncatingIfNeeded: try u64()))
                let n = try u64()
                if negative { s.negative[i] = n } else { s.positive[i] = n }
            }
        }
        return s
    }
}

extension StatsDSample {
    /// The sample as bytes, exactly (a StatsD line cannot say "set this
    /// gauge to -3"): what a repartition topic carries.
    public var encoded: [UInt8] {
        var w = ByteWriter()
        w.byte(MetricKind.allCases.firstIndex(of: kind).map(UInt8.init) ?? 0)
        w.byte((isDelta ? 1 : 0) | (member == nil ? 0 : 2))
        w.double(value)
        w.double(sampleRate)
        w.text(key)
        if let member { w.text(member) }
        return w.bytes
    }

    /// Reads what ``encoded`` wrote.
    public init(encoded bytes: [UInt8]) throws(StateDecodingError) {
        var r = ByteReader(bytes)
        let kind = Int(try r.byte()), flags = try r.byte()
        guard kind < MetricKind.allCases.count else { throw StateDecodingError("unknown metric kind \(kind)") }
        let value = try r.double(), rate = try r.double(), key = try r.text()
        let member = flags & 2 == 0 ? nil : try r.text()
        guard r.isAtEnd else { throw StateDecodingError("\(r.remaining) bytes after a sample") }
        self.init(key: key, kind: MetricKind.allCases[kind], value: value, member: member, sampleRate: rate, isDelta: flags & 1 == 1)
    }
}
