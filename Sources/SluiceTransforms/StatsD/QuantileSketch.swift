import Glibc

/// A mergeable quantile sketch with relative accuracy (DDSketch's
/// logarithmic buckets): every value falls in a bucket `(γ^(i-1), γ^i]`
/// that is represented by a value within ``relativeAccuracy`` of everything
/// in it, so any quantile it returns is within 0.4 % of the true value at
/// that rank, sums over ranks within 0.4 % and sums of squares within
/// 0.81 %. Count, minimum, maximum, sum and sum of squares are kept exactly.
///
/// Two sketches of the same accuracy merge by adding bucket counts, so
/// merging is exact: the merge of two sketches equals the sketch of both
/// inputs.
public struct QuantileSketch: Sendable, Hashable {
    /// The largest relative error of a value the sketch returns.
    public static let relativeAccuracy = 0.004
    static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    static let logGamma = log(gamma)

    var positive: [Int32: UInt64] = [:]
    var negative: [Int32: UInt64] = [:]
    var zeros: UInt64 = 0
    /// How many values were added.
    public private(set) var count: UInt64 = 0
    /// The smallest value added.
    public private(set) var min = Double.infinity
    /// The largest value added.
    public private(set) var max = -Double.infinity
    /// The exact sum of the values.
    public private(set) var sum = 0.0
    /// The exact sum of the squares of the values.
    public private(set) var sumSquares = 0.0

    /// An empty sketch.
    public init() {}

    /// Adds one value.
    public mutating func add(_ value: Double) {
        if value > 0 {
            positive[Self.index(value), default: 0] += 1
        } else if value < 0 {
            negative[Self.index(-value), default: 0] += 1
        } else {
            zeros += 1
        }
        count += 1
        min = Swift.min(min, value)
        max = Swift.max(max, value)
        sum += value
        sumSquares += value * value
    }

    /// Adds everything `other` holds.
    public mutating func merge(_ other: QuantileSketch) {
        positive.merge(other.positive, uniquingKeysWith: +)
        negative.merge(other.negative, uniquingKeysWith: +)
        zeros += other.zeros
        count += other.count
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        sum += other.sum
        sumSquares += other.sumSquares
    }

    /// Sets the exact figures, for a sketch read back from bytes.
    mutating func restore(count: UInt64, min: Double, max: Double, sum: Double, sumSquares: Double) {
        self.count = count
        self.min = min
        self.max = max
        self.sum = sum
        self.sumSquares = sumSquares
    }

    static func index(_ magnitude: Double) -> Int32 {
        Int32((log(magnitude) / logGamma).rounded(.up))
    }

    static func representative(_ index: Int32) -> Double {
        2 * pow(gamma, Double(index)) / (gamma + 1)
    }

    /// The buckets from the smallest value to the largest, each as its
    /// representative value and count.
    func ascendingBuckets() -> [(value: Double, count: UInt64)] {
        var out: [(value: Double, count: UInt64)] = []
        out.reserveCapacity(positive.count + negative.count + 1)
        for (i, n) in negative.sorted(by: { $0.key > $1.key }) { out.append((-Self.representative(i), n)) }
        if zeros > 0 { out.append((0, zeros)) }
        for (i, n) in positive.sorted(by: { $0.key < $1.key }) { out.append((Self.representative(i), n)) }
        return out
    }
}
