extension Int {
    /// The integer that the bytes at `range` of `bytes` spell in decimal:
    /// an optional `-` and one or more digits; `nil` for anything else or a
    /// value out of range. Read from the bytes, without making a string (a
    /// JSON number, a grok capture). Generic over where the bytes are, so
    /// that a document's field is read without a slice (which holds on to
    /// the document) or a closure lending its storage.
    @inline(__always)
    init?<Bytes: RandomAccessCollection<UInt8>>(decimal bytes: Bytes, in range: Range<Int>) where Bytes.Index == Int {
        guard !range.isEmpty else { return nil }
        var value = 0
        var i = range.lowerBound
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < range.upperBound else { return nil }
        while i < range.upperBound {
            let d = bytes[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(d))
            if o1 || o2 { return nil }
            value = s
            i += 1
        }
        self = negative ? -value : value
    }
}
