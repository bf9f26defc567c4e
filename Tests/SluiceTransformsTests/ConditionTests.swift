import SluiceTransforms
import Testing

@Suite struct ConditionTests {
    private let event: Event = {
        var e = Event()
        e["status"] = 503
        e["duration"] = 1.5
        e["path"] = "/api/v1/cart"
        e["level"] = "ERROR"
        e["tags"] = ["_grokparsefailure", "web"]
        e["http"] = ["method": "GET"]
        e["flag"] = false
        return e
    }()

    private func holds(_ text: String) throws -> Bool { try Condition(text).makeEvaluator()(event) }

    @Test(arguments: [
        ("[status] >= 500", true), ("[status] == 503.0", true), ("status != 503", false),
        ("[duration] < 2 and [duration] > 1", true), ("[path] =~ /^\\/api/", true), ("[path] !~ \"^/api\"", false),
        ("[level] in [\"ERROR\", \"FATAL\"]", true), ("[level] not in [\"ERROR\"]", false),
        ("\"_grokparsefailure\" in [tags]", true), ("\"v1\" in [path]", true),
        ("[http][method] == \"GET\"", true), ("http.method == 'GET'", true),
        ("[missing] exists", false), ("[flag] exists", true), ("[flag]", false), ("[status]", true), ("[missing]", false),
        ("not ([status] < 500 or [level] == \"INFO\")", true), ("![status]", false),
        ("[missing] == null", true), ("[missing] != \"x\"", true), ("[missing] < 5", false), ("[missing] !~ /x/", true),
        ("[level] > \"DEBUG\"", true), ("[level] > 5", false),
        ("[status] >= 500 or [a] and [b]", true), ("([status] < 500 or [level]) and [missing]", false),
    ])
    func evaluatesLikeLogstash(_ text: String, _ expected: Bool) throws {
        #expect(try holds(text) == expected, "\(text)")
    }

    @Test(arguments: [
        ("[status] >=", 11), ("[status] >= 500 and", 19), ("([a]", 4), ("[a] =~ /(x/", 7), ("[a] = 1", 4),
        ("[a] == 'open", 7), ("[a][", 3), ("1 exists", 2),
    ])
    func badConditionsPointAtTheProblem(_ text: String, _ offset: Int) {
        #expect {
            try Condition(text)
        } throws: { error in
            (error as? ConditionError)?.offset == offset
        }
    }
}
