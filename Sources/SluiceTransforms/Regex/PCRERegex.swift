import CPCRE2
import Glibc

/// A regular expression compiled once by PCRE2 and, where the platform
/// allows, JIT-compiled to machine code. Immutable and shareable between
/// threads; matching needs a ``PCRERegex/Matcher`` per thread.
public final class PCRERegex: Sendable {
    /// The pattern as written.
    public let pattern: String
    /// The names of the named groups, indexed by group number (0 = whole match).
    public let groupNames: [String?]
    nonisolated(unsafe) let code: OpaquePointer
    /// The pattern's text when it is a plain string (see ``Literal``).
    let literal: Literal?

    /// Why a pattern does not compile, and at which character offset.
    public struct CompileError: Error, Sendable, CustomStringConvertible {
        /// PCRE2's message.
        public var message: String
        /// The offset in the pattern (in UTF-8 bytes) where compiling stopped.
        public var offset: Int
        public var description: String { "\(message) at offset \(offset)" }
    }

    /// Compiles `pattern` (UTF-8): `caseless` for `(?i)` semantics,
    /// `dotAll` for a `.` that also matches newlines, `namedGroupsOnly` for
    /// plain `( )` that group without capturing (grok's expansions).
    public init(_ pattern: String, caseless: Bool = false, dotAll: Bool = false, namedGroupsOnly: Bool = false)
        throws(CompileError) {
        var errorCode: Int32 = 0
        var errorOffset = 0
        var options = UInt32(PCRE2_UTF) | UInt32(PCRE2_NO_UTF_CHECK)
        if caseless { options |= UInt32(PCRE2_CASELESS) }
        if dotAll { options |= UInt32(PCRE2_DOTALL) }
        if namedGroupsOnly { options |= UInt32(PCRE2_NO_AUTO_CAPTURE) }
        var text = pattern
        let compiled = text.withUTF8 { p in
            pcre2_compile_8(p.baseAddress, p.count, options, &errorCode, &errorOffset, nil)
        }
        guard let compiled else {
            throw CompileError(message: PCRERegex.message(errorCode), offset: errorOffset)
        }
        // JIT is an optimisation: where it is unavailable the interpreter runs.
        _ = pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE))
        self.pattern = pattern
        self.code = compiled
        self.groupNames = PCRERegex.readGroupNames(compiled)
        literal = caseless ? nil : Literal(pattern)
    }

    deinit { pcre2_code_free_8(code) }

    /// The number of capturing groups.
    public var groupCount: Int { groupNames.count - 1 }

    private static func readGroupNames(_ code: OpaquePointer) -> [String?] {
        var count: UInt32 = 0, nameCount: UInt32 = 0, entrySize: UInt32 = 0
        pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_CAPTURECOUNT), &count)
        pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_NAMECOUNT), &nameCount)
        pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_NAMEENTRYSIZE), &entrySize)
        var names = [String?](repeating: nil, count: Int(count) + 1)
        var table: UnsafePointer<UInt8>? = nil
        pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_NAMETABLE), &table)
        guard let table else { return names }
        for entry in 0..<Int(nameCount) {
            // Each entry: the group number in two bytes, then the zero-terminated name.
            let base = table + entry * Int(entrySize)
            let group = Int(base[0]) << 8 | Int(base[1])
            names[group] = String(cString: base + 2)
        }
        return names
    }

    /// Per-thread matching state: PCRE2's match data, reused for every match.
    public final class Matcher {
        /// The expression this matcher runs.
        public let regex: PCRERegex
        private let matchData: OpaquePointer

        /// Creates matching state for `regex`.
        public init(_ regex: PCRERegex) {
            self.regex = regex
            self.matchData = pcre2_match_data_create_from_pattern_8(regex.code, nil)
        }

        deinit { pcre2_match_data_free_8(matchData) }

        /// Whether the expression matches somewhere in `bytes`.
        public func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            if let literal = regex.literal { return literal.occurs(in: bytes) }
            return match(bytes)
        }

        /// Whether the expression matches somewhere in `text`.
        public func matches(_ text: String) -> Bool {
            var text = text
            return text.withUTF8 { matches($0) }
        }

        /// Matches `bytes` from `start`; on success, ``range(ofGroup:)`` reads
        /// where each group matched, until the next match.
        public func match(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int = 0) -> Bool {
            withSubject(bytes) { base, count in
                pcre2_match_8(regex.code, base, count, start, UInt32(PCRE2_NO_UTF_CHECK), matchData, nil) >= 0
            }
        }

        /// The byte range group `group` matched in the last successful
        /// ``match(_:from:)`` (0 = the whole match); `nil` for a group that took no part.
        public func range(ofGroup group: Int) -> Range<Int>? {
            let ovector = pcre2_get_ovector_pointer_8(matchData)!
            let s = ovector[2 * group], e = ovector[2 * group + 1]
            return s < 0 ? nil : s..<e  // PCRE2_UNSET, ~0 as a size_t, reads as -1
        }

        /// Replaces every match in `text` by `replacement`, in which `$1` or
        /// `${name}` refer to groups. `nil` if the replacement is malformed.
        public func replaceAll(in text: String, with replacement: String) -> String? {
            var text = text, replacement = replacement
            return text.withUTF8 { subject in
                replacement.withUTF8 { repl in
                    withSubject(subject) { base, count in
                        withSubject(repl) { replBase, replCount in
                            var capacity = count + replCount + 64
                            while true {
                                var out = [UInt8](repeating: 0, count: capacity)
                                var length = capacity
                                let options = UInt32(PCRE2_SUBSTITUTE_GLOBAL) | UInt32(PCRE2_SUBSTITUTE_OVERFLOW_LENGTH)
                                    | UInt32(PCRE2_NO_UTF_CHECK)
                                let rc = pcre2_substitute_8(regex.code, base, count, 0, options, matchData, nil,
                                                            replBase, replCount, &out, &length)
                                if rc == PCRE2_ERROR_NOMEMORY { capacity = length + 1; continue }
                                return rc >= 0 ? String(decoding: out.prefix(length), as: UTF8.self) : nil
                            }
                        }
                    }
                }
            }
        }
    }

    static func message(_ code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = pcre2_get_error_message_8(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix(max(0, Int(n))), as: UTF8.self)
    }
}

extension PCRERegex {
    /// A pattern that is a plain string, optionally anchored with a leading
    /// `^` (`/^\/api\//`, `/upstream timed out/`): whether it matches is a
    /// comparison of bytes, where a call into PCRE2 costs some hundred
    /// instructions before it looks at the subject. Valid UTF-8 contains the
    /// pattern's characters exactly where it contains their bytes.
    struct Literal: Sendable {
        let bytes: [UInt8]
        let anchored: Bool

        /// The literal `pattern` stands for; `nil` if any character in it
        /// has a meaning of its own. A backslash before an ASCII character
        /// that is not a letter or digit stands for that character, as in
        /// PCRE2; `]` and `}`, plain characters to PCRE2 where nothing opens
        /// them, are left to PCRE2 all the same.
        init?(_ pattern: String) {
            var rest = Array(pattern.utf8)[...]
            anchored = rest.first == UInt8(ascii: "^")
            if anchored { rest = rest.dropFirst() }
            var out: [UInt8] = []
            while let c = rest.popFirst() {
                if c == UInt8(ascii: "\\") {
                    guard let escaped = rest.popFirst(), escaped < 0x80, !Self.isLetterOrDigit(escaped) else { return nil }
                    out.append(escaped)
                } else if Self.special.contains(c) {
                    return nil
                } else {
                    out.append(c)
                }
            }
            bytes = out
        }

        private static let special = Set("^$.|?*+()[]{}".utf8)

        private static func isLetterOrDigit(_ c: UInt8) -> Bool {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c | 0x20)
        }

        /// Whether the literal occurs in `subject` (at its start, if anchored).
        func occurs(in subject: UnsafeBufferPointer<UInt8>) -> Bool {
            let n = bytes.count
            guard n > 0 else { return true }
            guard subject.count >= n, let base = subject.baseAddress else { return false }
            return bytes.withUnsafeBufferPointer { literal in
                if anchored { return memcmp(base, literal.baseAddress!, n) == 0 }
                // Each place the first byte occurs, then the rest there.
                var from = base
                let lastStart = base + (subject.count - n)
                while from <= lastStart, let found = memchr(from, Int32(literal[0]), lastStart - from + 1) {
                    let at = UnsafePointer(found.assumingMemoryBound(to: UInt8.self))
                    if memcmp(at, literal.baseAddress!, n) == 0 { return true }
                    from = at + 1
                }
                return false
            }
        }
    }
}

/// PCRE2 rejects a null subject pointer even for an empty subject.
private func withSubject<R>(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
    if let base = bytes.baseAddress { return body(base, bytes.count) }
    var zero: UInt8 = 0
    return withUnsafePointer(to: &zero) { body($0, 0) }
}
