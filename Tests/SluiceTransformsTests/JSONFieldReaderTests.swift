import SluiceTransforms
import Testing

@Suite struct JSONFieldReaderTests {
    private let reader = JSONFieldReader(["status", "path", "missing"])

    private func read(_ s: String) throws(JSONError) -> JSONFields { try reader.read(Array(s.utf8)) }

    @Test func readsTheNamedFieldsInTheReadersOrderAndNilForAbsentOnes() throws {
        let fields = try read(#"{"path":"/api/x","bytes":12,"status":503,"ok":true}"#)
        #expect(fields[0]?.int == 503)
        #expect(fields[1]?.string == "/api/x" && fields[1]?.hasPrefix("/api") == true)
        #expect(fields[2] == nil)
    }

    @Test(arguments: [#"{"status":503,"path":"/api/x"}"#, #"{"status":-7,"path":"/ap"}"#, #"{"status":5.5,"path":"/apix"}"#,
                      #"{"status":"503","path":["/api"]}"#, #"{"status":99999999999999999999,"path":"\/api"}"#,
                      #"{"status":null,"path":{"a":1}}"#, #"{"status":true,"path":""}"#, #"{"other":1}"#, #"{"status":0,"path":"/api"}"#])
    func readingAFieldInPlaceAgreesWithItsValue(_ text: String) throws {
        let fields = try read(text)
        for index in 0..<3 {
            #expect(fields.kind(index) == fields[index]?.kind, "\(text) field \(index)")
            #expect(fields.int(index) == fields[index]?.int, "\(text) field \(index)")
            for prefix in ["/api", "", "/apix/"] {
                #expect(fields.hasPrefix(index, prefix) == (fields[index]?.hasPrefix(prefix) ?? false), "\(text) field \(index) \(prefix)")
            }
        }
        // What the view reads, spelled out for the first document.
        if text == #"{"status":503,"path":"/api/x"}"# {
            #expect(fields.int(0) == 503 && fields.kind(1) == .string && fields.hasPrefix(1, "/api") && !fields.hasPrefix(2, ""))
        }
    }

    @Test func theLastOfDuplicateKeysWinsAsInTheView() throws {
        #expect(try read(#"{"status":1,"status":2}"#)[0]?.int == 2)
        #expect(try read(#"{"status":1,"st\u0061tus":2}"#)[0]?.int == 2, "an escaped spelling of the key is the same key")
        #expect(try read(#"{"st\u0061tus":1,"status":2}"#)[0]?.int == 2)
    }

    @Test func onlyTopLevelFieldsAreRead() throws {
        #expect(try read(#"{"o":{"status":1},"a":[{"status":3}]}"#)[0] == nil)
        #expect(try read(#"{"o":{"status":1},"status":2}"#)[0]?.int == 2)
    }

    @Test func aKeyThatOnlySharesALengthOrAPrefixIsNotRead() throws {
        let fields = try read(#"{"statis":1,"statuses":2,"pat":3,"paths":4}"#)
        #expect(fields[0] == nil && fields[1] == nil)
    }

    @Test func aKeyOfEightBytesIsNotTakenForALongerNameItStartsWith() throws {
        // The longer name's first eight bytes are the shorter key's word.
        let reader = JSONFieldReader(["duration_ms", "duration", "host"])
        let padding = #","padding":"\#(String(repeating: "x", count: 24))"}"#
        let fields = try reader.read(Array((#"{"duration":5"# + padding).utf8))
        #expect(fields[0] == nil && fields[1]?.int == 5)
    }

    @Test func namesOfAnyLengthAreRead() throws {
        let long = String(repeating: "k", count: 63), longer = String(repeating: "k", count: 70)
        let reader = JSONFieldReader(["", long, longer])
        let fields = try reader.read(Array(#"{"":1,"\#(longer)":3,"\#(long)":2,"\#(long)k":4}"#.utf8))
        #expect(fields[0]?.int == 1 && fields[1]?.int == 2 && fields[2]?.int == 3)
    }

    @Test func keysOfUpToEightBytesMatchExactlyNearTheEndOfADocumentAndFarFromIt() throws {
        let names = ["a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh"]
        let reader = JSONFieldReader(names)
        let padding = #","padding":"\#(String(repeating: "x", count: 24))"}"#
        let far = try reader.read(Array(("{" + names.enumerated().map { #""\#($1)":\#($0)"# }.joined(separator: ",") + padding).utf8))
        for i in names.indices { #expect(far[i]?.int == i, "\(names[i]) far from the end") }
        // Alone in a document, a short key ends less than eight bytes before its end.
        for (i, name) in names.enumerated() {
            let alone = try reader.read(Array(#"{"\#(name)":\#(i)}"#.utf8))
            #expect(alone[i]?.int == i, "\(name) alone")
        }
        let differing = [#"{"abcdefgX":1,"abcX":2,"X":3,"aB":4\#(padding)"#, #"{"abcX":2}"#, #"{"X":3}"#, #"{"abcdefgX":1}"#]
        for text in differing {
            let fields = try reader.read(Array(text.utf8))
            #expect(names.indices.allSatisfy { fields[$0] == nil }, "\(text)")
        }
    }

    @Test(arguments: [#"{"status":1,}"#, #"{"status":1} x"#, "[1]", #"{"path":"\x"}"#, #"{"a":{"b":}}"#])
    func rejectsWhatTheViewRejectsWithTheSameError(_ text: String) {
        var viewError: JSONError?, readerError: JSONError?
        do { _ = try JSONObjectView(Array(text.utf8)) } catch { viewError = error }
        do { _ = try read(text) } catch { readerError = error }
        #expect(viewError != nil)
        #expect(readerError == viewError)
    }
}
