import SluiceSinks
import SluiceTransforms
import Testing

@Suite struct MappingInferenceTests {
    func infer(_ lines: [String]) throws -> MappingInference {
        var inference = MappingInference()
        for line in lines {
            guard case .object(let document) = try JSONParser.parse(Array(line.utf8)) else { continue }
            inference.add(document)
        }
        return inference
    }

    @Test func eachFieldGetsTheTypeItsSamplesShare() throws {
        let inference = try infer([
            #"{"@timestamp":"2026-11-21T10:15:02.000Z","client":"203.0.113.9","status":200,"took":0.25,"ok":true,"service":"payments","message":"charge accepted for order 7 after the fraud check","http":{"method":"GET"}}"#,
            #"{"@timestamp":"2026-11-21T10:16:00Z","client":"2001:db8::7","status":502,"took":3,"ok":false,"service":"web","message":"short","http":{"method":"POST"}}"#,
        ])
        let keyword: FieldValue = ["type": "keyword", "ignore_above": 1024]
        #expect(inference.documents == 2)
        #expect(inference.mapping == FieldMap([("properties", [
            "@timestamp": ["type": "date"], "client": ["type": "ip"], "status": ["type": "long"],
            "took": ["type": "double"], "ok": ["type": "boolean"], "service": keyword,
            "message": ["type": "text"], "http": ["properties": ["method": keyword]],
        ])]))
    }

    @Test func samplesThatDisagreeBecomeAFlaggedKeyword() throws {
        let inference = try infer([#"{"code":404}"#, #"{"code":"E_TIMEOUT"}"#, #"{"code":["x",1]}"#])
        #expect(inference.mapping == FieldMap([("properties", ["code": ["type": "keyword", "ignore_above": 1024]])]))
        #expect(inference.yaml.contains("code: { type: keyword, ignore_above: 1024 }  # samples disagree: 2 long, 2 keyword"))
    }

    @Test func aFieldThatWasAlwaysNullIsLeftOutAndNamed() throws {
        let inference = try infer([#"{"a":null,"b":1}"#, #"{"a":null}"#])
        #expect(inference.mapping == FieldMap([("properties", ["b": ["type": "long"]])]))
        #expect(inference.yaml.contains("# a: only null in the samples"))
    }

    @Test func aTextThatIsNotADateOrAnAddressStaysAKeyword() throws {
        let inference = try infer([#"{"v":"2026-13-45","host":"10.0.0.300","id":"a1b2"}"#])
        let keyword: FieldValue = ["type": "keyword", "ignore_above": 1024]
        #expect(inference.mapping == FieldMap([("properties", ["v": keyword, "host": keyword, "id": keyword])]))
    }
}
