/// SHA-256 (FIPS 180-4), written here because the toolchain on Linux has
/// no CryptoKit and a fingerprint needs no other primitive.
struct SHA256 {
    private var state: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    /// The digest of `bytes`.
    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(bytes)
        return h.finish()
    }

    /// HMAC-SHA-256 (RFC 2104) of `message` under `key`.
    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var block = key.count > 64 ? hash(key) : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        return hash(block.map { $0 ^ 0x5c } + hash(block.map { $0 ^ 0x36 } + message))
    }

    mutating func update(_ bytes: [UInt8]) {
        length &+= UInt64(bytes.count) * 8
        pending += bytes
        var start = 0
        while pending.count - start >= 64 {
            compress(pending[start..<(start + 64)])
            start += 64
        }
        pending.removeFirst(start)
    }

    mutating func finish() -> [UInt8] {
        let bits = length
        var tail: [UInt8] = [0x80]
        tail += [UInt8](repeating: 0, count: (119 - pending.count) % 64)
        tail += (0..<8).map { UInt8(truncatingIfNeeded: bits >> (56 - 8 * $0)) }
        update(tail)
        return state.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * $0)) } }
    }

    private mutating func compress(_ chunk: ArraySlice<UInt8>) {
        var w = [UInt32](repeating: 0, count: 64)
        let base = chunk.startIndex
        for t in 0..<16 {
            w[t] = (0..<4).reduce(0) { $0 << 8 | UInt32(chunk[base + 4 * t + $1]) }
        }
        for t in 16..<64 {
            let s0 = w[t - 15].rotr(7) ^ w[t - 15].rotr(18) ^ (w[t - 15] >> 3)
            let s1 = w[t - 2].rotr(17) ^ w[t - 2].rotr(19) ^ (w[t - 2] >> 10)
            w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, h) = (state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7])
        for t in 0..<64 {
            let t1 = h &+ (e.rotr(6) ^ e.rotr(11) ^ e.rotr(25)) &+ ((e & f) ^ (~e & g)) &+ SHA256.k[t] &+ w[t]
            let t2 = (a.rotr(2) ^ a.rotr(13) ^ a.rotr(22)) &+ ((a & b) ^ (a & c) ^ (b & c))
            (h, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
        }
        for (i, v) in [a, b, c, d, e, f, g, h].enumerated() { state[i] &+= v }
    }

    /// The first 32 bits of the fractional parts of the cube roots of the first 64 primes.
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]
}

private extension UInt32 {
    func rotr(_ n: UInt32) -> UInt32 { self >> n | self << (32 - n) }
}

/// How a fingerprint is written.
public enum FingerprintEncoding: String, Sendable, CaseIterable {
    case hex, base64
}

/// A stable SHA-256 (HMAC-SHA-256 with a key) of chosen fields of an
/// event, for document ids that make a replay overwrite instead of
/// duplicate. One field hashes its text; several hash `|name|value|…|` in
/// name order (Logstash's `concatenate_sources`), a missing one as empty.
public struct Fingerprint: Sendable {
    private let fields: [FieldPath]
    private let key: [UInt8]?
    private let encoding: FingerprintEncoding

    /// A fingerprint of `fields`, keyed by `key` when given.
    public init(_ fields: [FieldPath], key: String? = nil, encoding: FingerprintEncoding = .hex) {
        self.fields = fields.sorted { $0.description < $1.description }
        self.key = key.map { Array($0.utf8) }
        self.encoding = encoding
    }

    /// The fingerprint of `event`; `nil` when it has none of the fields.
    public func callAsFunction(_ event: Event) -> String? {
        let values = fields.map { event[$0] }
        guard values.contains(where: { $0 != nil }) else { return nil }
        let input: String = fields.count == 1 ? values[0]!.text
            : zip(fields, values).map { "|\($0)|\($1?.text ?? "")" }.joined() + "|"
        let digest = key.map { SHA256.hmac(key: $0, Array(input.utf8)) } ?? SHA256.hash(Array(input.utf8))
        return encoding.encode(digest)
    }
}

extension Transform {
    /// Writes the ``Fingerprint`` of `fields` to `target`. An event with
    /// none of the fields gets none.
    public static func fingerprint(_ fields: [FieldPath], target: FieldPath, key: String? = nil,
                                   encoding: FingerprintEncoding = .hex) -> Transform {
        let fingerprint = Fingerprint(fields, key: key, encoding: encoding)
        return Transform(kind: "fingerprint") { record in
            guard let digest = fingerprint(record.value) else { return .keep }
            guard record.value.set(target, to: .string(digest)) else { return .notAnObject(target) }
            return .keep
        }
    }
}

extension FingerprintEncoding {
    func encode(_ bytes: [UInt8]) -> String {
        switch self {
        case .hex:
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
        case .base64:
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
            var out: [UInt8] = []
            for chunk in stride(from: 0, to: bytes.count, by: 3) {
                let piece = bytes[chunk..<min(chunk + 3, bytes.count)]
                let n = piece.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * $1.offset) }
                for j in 0..<4 { out.append(j <= piece.count ? alphabet[Int(n >> (18 - 6 * j) & 63)] : UInt8(ascii: "=")) }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
