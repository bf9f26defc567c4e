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
}
