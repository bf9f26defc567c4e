import SluiceState

/// Fixed-size windows of event time, aligned to the epoch, each
/// `[start, start + size)`: tumbling when they advance by their size,
/// hopping when they advance by less. A window closes when stream time
/// reaches its end plus the grace period; a record for a closed window is
/// late.
public struct TimeWindows: Sendable, Hashable, CustomStringConvertible {
    /// The length of a window in milliseconds.
    public let size: Int64
    /// The distance between window starts in milliseconds.
    public let advance: Int64
    /// How long after its end a window still takes records, in milliseconds.
    public let grace: Int64

    /// Windows of `size` every `advance` (at most `size`), open `grace` after their end.
    public init(size: Duration, advance: Duration? = nil, grace: Duration = .zero) throws(TopologyError) {
        let size = size.wholeMilliseconds, advance = advance?.wholeMilliseconds ?? size, grace = grace.wholeMilliseconds
        guard size > 0 else { throw TopologyError("a window's size must be above 0 ms, not \(size)") }
        guard advance > 0, advance <= size else {
            throw TopologyError("a window's advance must be above 0 and at most its size (\(size) ms), not \(advance) ms")
        }
        guard grace >= 0 else { throw TopologyError("a window's grace must not be negative") }
        self.size = size
        self.advance = advance
        self.grace = grace
    }

    /// Tumbling windows of `size`.
    public static func tumbling(_ size: Duration, grace: Duration = .zero) throws(TopologyError) -> TimeWindows {
        try TimeWindows(size: size, grace: grace)
    }

    /// Hopping windows of `size` starting every `advance`.
    public static func hopping(_ size: Duration, advance: Duration, grace: Duration = .zero) throws(TopologyError) -> TimeWindows {
        try TimeWindows(size: size, advance: advance, grace: grace)
    }

    /// The starts of the windows that contain `timestamp`, earliest first.
    public func starts(containing timestamp: Int64) -> [Int64] {
        let last = floorMultiple(timestamp, of: advance)
        let first = last - (last - (timestamp - size + 1)) / advance * advance
        return Array(stride(from: first, through: last, by: Int(advance)))
    }

    /// The stream time at which the window starting at `start` closes.
    public func closeTime(start: Int64) -> Int64 { start + size + grace }

    /// The window's length in seconds (statsd's flush interval).
    public var seconds: Double { Double(size) / 1000 }

    public var description: String {
        (advance == size ? "tumbling \(size) ms" : "hopping \(size) ms every \(advance) ms") + ", grace \(grace) ms"
    }
}
