import SluiceTransforms
import Testing

@Suite struct JSONWriterTests {
    private func text(_ writer: JSONWriter) -> String { String(decoding: writer.bytes, as: UTF8.self) }

    @Test func objectsAreWrittenCompactWithTheirMembersInOrder() {
        let value: FieldValue = ["b": 1, "a": ["x": [true, nil, 2.5]], "": "", "s": "q\"\\\n"]
        #expect(String(decoding: JSONWriter.encode(value), as: UTF8.self) == #"{"b":1,"a":{"x":[true,null,2.5]},"":"","s":"q\"\\\n"}"#)
        #expect(String(decoding: JSONWriter.encode([:]), as: UTF8.self) == "{}")
    }

    @Test func appendsOfEveryKindGrowTheBufferPastItsFirstCapacity() {
        var writer = JSONWriter(capacity: 1)
        var expected: [UInt8] = []
        for i in 0..<200 {
            writer.append(UInt8(ascii: "["))
            writer.append("ab")
            writer.append(utf8: "é\(i)")
            writer.append(Array("cd".utf8))
            writer.append(Array("xefx".utf8)[1..<3])
            writer.write(integer: -(i + 1))
            expected += Array("[abé\(i)cdef-\(i + 1)".utf8)
        }
        #expect(writer.count == expected.count)
        #expect(text(writer) == String(decoding: expected, as: UTF8.self))
        #expect(writer.bytes(in: 1..<3) == Array("ab".utf8))
    }

    @Test func aCopyKeepsItsBytesWhenEitherWritesAgain() {
        var first = JSONWriter()
        first.write(string: "shared")
        var second = first
        second.append(UInt8(ascii: "!"))
        first.write(integer: 7)
        second.withUnsafeMutableBytes { $0[1] = UInt8(ascii: "S") }
        #expect(text(first) == #""shared"7"#)
        #expect(text(second) == #""Shared"!"#)
    }

    @Test func removeAllStartsTheWriterOverAndLeavesACopyItsBytes() {
        var writer = JSONWriter(capacity: 4)
        writer.write(string: "first document")
        let copy = writer
        writer.removeAll()
        #expect(writer.count == 0)
        writer.write(integer: 42)
        #expect(text(writer) == "42")
        #expect(text(copy) == #""first document""#)
        writer.removeAll()
        writer.append("{}")
        #expect(text(writer) == "{}")
    }

    @Test func bytesCanBeChangedInPlace() {
        var writer = JSONWriter()
        writer.append("a\nb")
        writer.withUnsafeMutableBytes { bytes in
            for i in bytes.indices where bytes[i] == 0x0A { bytes[i] = 0x20 }
        }
        #expect(text(writer) == "a b")
    }

    @Test func shortStringsAreEscapedExactlyWhateverTheLengthAndPosition() throws {
        // Strings under 16 bytes (most keys and many values) are tested as
        // one or two overlapping words, or byte by byte under 4.
        func reference(_ bytes: [UInt8]) -> [UInt8] {
            var out: [UInt8] = [0x22]
            for b in bytes {
                switch b {
                case 0x22: out += Array(#"\""#.utf8)
                case 0x5C: out += Array(#"\\"#.utf8)
                case 0x0A: out += Array(#"\n"#.utf8)
                case 0x0D: out += Array(#"\r"#.utf8)
                case 0x09: out += Array(#"\t"#.utf8)
                case ..<0x20: out += Array("\\u00".utf8) + [b >> 4, b & 0xF].map { Array("0123456789abcdef".utf8)[Int($0)] }
                default: out.append(b)
                }
            }
            return out + [0x22]
        }
        for length in 0...17 {
            for position in 0..<max(length, 1) {
                for special: UInt8 in [0x22, 0x5C, 0x0A, 0x01, 0x1F, 0x20, 0x21, 0x5B, 0x7F, 0x80, 0xFF] {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    if length > 0 { bytes[position] = special }
                    var writer = JSONWriter()
                    bytes.withUnsafeBufferPointer { writer.write(string: $0) }
                    #expect(writer.bytes == reference(bytes), "byte \(special) at \(position) of \(length)")
                    // Read back at the end of a document, where fewer than 16 bytes remain.
                    guard special < 0x80 else { continue }
                    let text = String(decoding: bytes, as: UTF8.self)
                    #expect(try JSONObjectView(Array(#"{"s":"#.utf8) + writer.bytes + [UInt8(ascii: "}")]).string("s") == text)
                }
            }
        }
    }
}
