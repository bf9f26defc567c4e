/// SHA-256 (FIPS 180-4), written here because the toolchain on Linux has
/// no CryptoKit and a fingerprint needs no other primitive. The state
/// lives in registers and the message schedule on the stack: a fingerprint
/// runs once per record.
struct SHA256 {
    typealias State = SIMD8<UInt32>

    static let initial: State = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]

    /// The digest of `bytes`.
    static func hash(_ bytes: [UInt8]) -> [UInt8] { digest(of: bytes).bytes }

    /// The final state (the digest's words) of a message that ends with
    /// `message`: `state` is where its first `absorbed` bytes, whole
    /// blocks, left off, and the padding counts them in the length.
    static func digest(of message: [UInt8], from state: State = initial, absorbed: Int = 0) -> State {
        message.withUnsafeBufferPointer { m in
            var state = state
            let whole = m.count / 64 * 64
            for block in stride(from: 0, to: whole, by: 64) { compress(&state, m.baseAddress! + block) }
            // The rest, 0x80, zeros and the length in bits: one block or two.
            let rest = m.count - whole
            let blocks = rest < 56 ? 1 : 2
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { tail in
                tail.initialize(repeating: 0)
                for i in 0..<rest { tail[i] = m[whole + i] }
                tail[rest] = 0x80
                let bits = UInt64(absorbed + m.count) * 8
                for i in 0..<8 { tail[blocks * 64 - 1 - i] = UInt8(truncatingIfNeeded: bits >> (8 * i)) }
                for block in 0..<blocks { compress(&state, tail.baseAddress! + 64 * block) }
            }
            return state
        }
    }

    /// HMAC-SHA-256 (RFC 2104) under one key, its padded key blocks
    /// absorbed once: each message then costs two or three compressions
    /// instead of four or five.
    struct HMAC: Sendable {
        private let inner: State
        private let outer: State

        init(key: [UInt8]) {
            var block = key.count > 64 ? SHA256.hash(key) : key
            block += [UInt8](repeating: 0, count: 64 - block.count)
            inner = SHA256.absorb(block.map { $0 ^ 0x36 })
            outer = SHA256.absorb(block.map { $0 ^ 0x5c })
        }

        /// The MAC of `message`.
        func callAsFunction(_ message: [UInt8]) -> [UInt8] {
            let innerDigest = SHA256.digest(of: message, from: inner, absorbed: 64).bytes
            return SHA256.digest(of: innerDigest, from: outer, absorbed: 64).bytes
        }
    }

    /// The state after one whole block, without padding.
    private static func absorb(_ block: [UInt8]) -> State {
        var state = initial
        block.withUnsafeBufferPointer { compress(&state, $0.baseAddress!) }
        return state
    }

    private static func compress(_ state: inout State, _ block: UnsafePointer<UInt8>) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            for t in 0..<16 {
                let p = block + 4 * t
                w[t] = UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
            }
            for t in 16..<64 {
                let s0 = w[t - 15].rotr(7) ^ w[t - 15].rotr(18) ^ (w[t - 15] >> 3)
                let s1 = w[t - 2].rotr(17) ^ w[t - 2].rotr(19) ^ (w[t - 2] >> 10)
                w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, h) = (state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7])
            k.withUnsafeBufferPointer { k in
                for t in 0..<64 {
                    let t1 = h &+ (e.rotr(6) ^ e.rotr(11) ^ e.rotr(25)) &+ ((e & f) ^ (~e & g)) &+ k[t] &+ w[t]
                    let t2 = (a.rotr(2) ^ a.rotr(13) ^ a.rotr(22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                    (h, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
                }
            }
            state &+= [a, b, c, d, e, f, g, h]
        }
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

extension SIMD8<UInt32> {
    /// The words big-endian, as SHA-256 writes its digest.
    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        for i in 0..<8 {
            for j in 0..<4 { out[4 * i + j] = UInt8(truncatingIfNeeded: self[i] >> (24 - 8 * j)) }
        }
        return out
    }
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
    private let hmac: SHA256.HMAC?
    private let encoding: FingerprintEncoding

    /// A fingerprint of `fields`, keyed by `key` when given.
    public init(_ fields: [FieldPath], key: String? = nil, encoding: FingerprintEncoding = .hex) {
        self.fields = fields.sorted { $0.description < $1.description }
        self.hmac = key.map { SHA256.HMAC(key: Array($0.utf8)) }
        self.encoding = encoding
    }

    /// The fingerprint of `event`; `nil` when it has none of the fields.
    public func callAsFunction(_ event: Event) -> String? {
        let values = fields.map { event[$0] }
        guard values.contains(where: { $0 != nil }) else { return nil }
        let input: String = fields.count == 1 ? values[0]!.text
            : zip(fields, values).map { "|\($0)|\($1?.text ?? "")" }.joined() + "|"
        let digest = hmac.map { $0(Array(input.utf8)) } ?? SHA256.hash(Array(input.utf8))
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
            let digits: StaticString = "0123456789abcdef"
            return String(unsafeUninitializedCapacity: 2 * bytes.count) { out in
                for (i, byte) in bytes.enumerated() {
                    out[2 * i] = digits.utf8Start[Int(byte >> 4)]
                    out[2 * i + 1] = digits.utf8Start[Int(byte & 15)]
                }
                return 2 * bytes.count
            }
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
