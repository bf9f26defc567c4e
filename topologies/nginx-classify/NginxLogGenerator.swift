/// Generates realistic nginx-like JSON access records (about 350 bytes),
/// deterministically from a seed, and says for each which destination the
/// classify rules give it, computed from the values it chose rather than by
/// parsing what it wrote.
public struct NginxLogGenerator: Sendable {
    /// One generated record.
    public struct Entry: Sendable {
        /// The record's key: `r<index>`, unique per run.
        public var key: [UInt8]
        /// The JSON (or, for malformed ones, not-JSON) value.
        public var value: [UInt8]
        /// Where the classify rules send it; `nil` for a malformed record.
        public var destination: NginxClassify.Destination?
        /// Event time, milliseconds since the epoch.
        public var timestamp: Int64
    }

    /// Every `malformedEvery`-th record is not JSON (0 for none).
    public var malformedEvery: Int
    /// The seed; the same seed gives the same records.
    public var seed: UInt64
    /// The first record's timestamp.
    public var startTime: Int64

    /// Creates a generator.
    public init(seed: UInt64 = 42, malformedEvery: Int = 0, startTime: Int64 = 1_790_000_000_000) {
        self.seed = seed
        self.malformedEvery = malformedEvery
        self.startTime = startTime
    }

    static let services = ["checkout", "search", "catalog", "auth", "payments", "frontend"]
    static let methods = ["GET", "GET", "GET", "POST", "PUT", "DELETE"]
    static let paths = ["/api/v1/cart", "/api/v1/items/%d", "/api/v2/search?q=%d", "/static/app.%d.js",
                                "/", "/login", "/product/%d", "/images/%d.png", "/healthz"]
    static let statuses = [200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 404, 404, 429, 500, 502, 503, 504]
    static let agents = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
                                 "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
                                 "curl/8.4.0", "Go-http-client/1.1"]

    /// The record at `index`.
    public func entry(_ index: Int) -> Entry {
        var rng = SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        let key = Array("r\(index)".utf8)
        let timestamp = startTime + Int64(index) * 3
        if malformedEvery > 0, index % malformedEvery == malformedEvery - 1 {
            let value = Array("\(index) GET /api/v1/cart HTTP/1.1 \" broken {not json".utf8)
            return Entry(key: key, value: value, destination: nil, timestamp: timestamp)
        }
        let status = Self.statuses[rng.next(Self.statuses.count)]
        let path = Self.paths[rng.next(Self.paths.count)].replacingOccurrences("%d", with: String(rng.next(100_000)))
        let service = Self.services[rng.next(Self.services.count)]
        let ip = "10.\(rng.next(256)).\(rng.next(256)).\(rng.next(256))"
        let duration = Double(rng.next(500_000)) / 1000
        let json = """
        {"@timestamp":\(timestamp),"host":"web-\(rng.next(24))","service":"\(service)","method":"\(Self.methods[rng.next(Self.methods.count)])",\
        "path":"\(path)","status":\(status),"bytes":\(rng.next(200_000)),"duration_ms":\(duration),"client_ip":"\(ip)",\
        "user_agent":"\(Self.agents[rng.next(Self.agents.count)])","request_id":"r\(index)","referer":"https://shop.example.com/"}
        """
        return Entry(key: key, value: Array(json.utf8), destination: NginxClassify.destination(status: status, path: path),
                     timestamp: timestamp)
    }
}

/// A small, fast, seedable generator (Steele, Lea, Flood 2014).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func nextRaw() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `0..<bound`.
    mutating func next(_ bound: Int) -> Int { Int(nextRaw() % UInt64(bound)) }
}

extension String {
    func replacingOccurrences(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
