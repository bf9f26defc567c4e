import Sluice
import SluiceTransforms
import Testing

@Suite struct TransformTests {
    private func run(_ transform: Transform, _ event: Event, policy: FailurePolicy = .deadLetter) throws -> Event? {
        var record = Record(key: nil, value: event, timestamp: 0)
        return try transform.handlingFailures(policy)()(&record) ? record.value : nil
    }

    private let sample: Event = {
        var e = Event()
        e["service"] = "cart"
        e["status"] = "503"
        e["message"] = "  Hello World  "
        return e
    }()

    @Test func setInterpolatesFieldsAndAddKeepsExistingValues() throws {
        let set = Transform.set([(try FieldPath("[svc][name]"), .template(try Template("%{service}-%{status}-%{missing}"))),
                                 (try FieldPath("service"), .literal("x"))])
        let out = try #require(try run(set, sample))
        #expect(out[try FieldPath("svc.name")] == "cart-503-%{missing}")
        #expect(out["service"] == "x")
        let add = try #require(try run(.set([(try FieldPath("service"), .literal("x"))], overwrite: false), sample))
        #expect(add["service"] == "cart")
    }

    @Test func setWritesTheRecordsTimeForAPlusPattern() throws {
        let set = Transform.set([(try FieldPath("day"), .template(try Template("%{+yyyy-MM-dd}")))])
        var record = Record(key: nil, value: sample, timestamp: 1_386_748_905_123)
        #expect(try set.handlingFailures(.deadLetter)()(&record))
        #expect(record.value["day"] == "2013-12-11")
    }

    @Test func renameCopyAndRemoveMoveFields() throws {
        var out = try #require(try run(.rename([(try FieldPath("service"), try FieldPath("[app][name]"))]), sample))
        #expect(out["service"] == nil)
        #expect(out[try FieldPath("app.name")] == "cart")
        out = try #require(try run(.copy([(try FieldPath("status"), try FieldPath("code"))]), out))
        #expect(out["code"] == "503" && out["status"] == "503")
        out = try #require(try run(.remove([try FieldPath("code"), try FieldPath("nothing")]), out))
        #expect(out["code"] == nil)
    }

    @Test func renameCanMoveAFieldBelowItsOwnNameAsLogstashDoes() throws {
        let out = try #require(try run(.rename([(try FieldPath("service"), try FieldPath("[service][name]"))]), sample))
        let name = try FieldPath("[service][name]")
        #expect(out[name] == "cart")
    }

    @Test func removingANestedFieldThatIsMissingCreatesNothing() throws {
        let out = try #require(try run(.remove([try FieldPath("[a][b][c]"), try FieldPath("[service][x]")]), sample))
        #expect(out["a"] == nil && out["service"] == "cart")
    }

    @Test func convertChangesTypesAndFailsOnValuesThatDoNotConvert() throws {
        let out = try #require(try run(.convert([(try FieldPath("status"), .integer)]), sample))
        #expect(out["status"] == 503)
        var bad = sample
        bad["status"] = "five hundred"
        #expect(throws: TransformFailure.self) { try run(.convert([(try FieldPath("status"), .integer)]), bad) }
        let tagged = try #require(try run(.convert([(try FieldPath("status"), .float)]), bad, policy: .tag("_convertfailure")))
        #expect(tagged.tags == ["_convertfailure"])
        #expect(tagged["status"] == "five hundred", "a failed conversion leaves the value as it was")
        #expect(try run(.convert([(try FieldPath("status"), .boolean)]), bad, policy: .drop) == nil)
    }

    @Test func textChangesGsubAndTruncateRewriteStrings() throws {
        let m = try FieldPath("message")
        var out = try #require(try run(.text(.strip, [m]), sample))
        #expect(out["message"] == "Hello World")
        out = try #require(try run(.text(.lowercase, [m]), out))
        #expect(out["message"] == "hello world")
        out = try #require(try run(.gsub([(m, try PCRERegex("(\\w+) (\\w+)"), "$2 $1")]), out))
        #expect(out["message"] == "world hello")
        out["message"] = "héllo"
        out = try #require(try run(.truncate([m], maxBytes: 2), out))
        #expect(out["message"] == "h", "never cuts inside a character")
    }

    @Test func jsonParsesAStringFieldIntoATargetOrTheTopLevel() throws {
        var e = Event()
        e["payload"] = #"{"user":"ana","n":2}"#
        let nested = try #require(try run(.json(source: try FieldPath("payload"), target: try FieldPath("parsed")), e))
        #expect(nested[try FieldPath("[parsed][n]")] == 2)
        let merged = try #require(try run(.json(source: try FieldPath("payload"), target: nil), e))
        #expect(merged["user"] == "ana")
        e["payload"] = "{oops"
        let tagged = try #require(try run(.json(source: try FieldPath("payload"), target: nil), e, policy: .tag("_jsonparsefailure")))
        #expect(tagged.tags == ["_jsonparsefailure"])
    }

    @Test func tagAddsEachTagOnceAndDropDrops() throws {
        let once = try #require(try run(.tag(["a"]), sample))
        let out = try #require(try run(.tag(["a", "b"]), once))
        #expect(out.tags == ["a", "b"])
        #expect(try run(.drop, sample, policy: .tag("x")) == nil)
    }
}

@Suite struct PipelineTests {
    private func outputs(_ pipeline: Pipeline, _ event: Event) throws -> [Int] {
        var out: [Int] = []
        try pipeline.makeRunner()(Record(key: nil, value: event, timestamp: 0)) { index, _ in out.append(index) }
        return out
    }

    @Test func branchesRouteAndEmitSendEachEventToOneDestination() throws {
        let pipeline = Pipeline([
            .branch(name: "if", try Condition("[x] > 1"), then: [.emit(name: "big", destination: 0)], otherwise: []),
            .route(name: "route", [(try Condition("[x] == 1"), 1), (nil, 2)]),
        ])
        var e = Event()
        for (x, expected) in [(5, [0]), (1, [1]), (0, [2])] {
            e["x"] = .int(x)
            #expect(try outputs(pipeline, e) == expected)
        }
    }

    @Test func anEventThatWouldBeLostIsDeadLetteredInstead() throws {
        var e = Event()
        e["x"] = 0
        #expect(throws: ProcessingError.self) { try outputs(Pipeline([.route(name: "r", [(try Condition("[x] == 1"), 0)])]), e) }
        #expect(throws: ProcessingError.self) { try outputs(Pipeline([.transform(name: "t", .tag(["a"]), .deadLetter)]), e) }
        #expect(try outputs(Pipeline([.filter(name: "w", try Condition("[x] == 1")), .emit(name: "e", destination: 0)]), e) == [],
                "`where` drops by design")
    }

    @Test func writingBelowAValueThatIsNotAnObjectFailsTheStep() throws {
        var record = Record(key: nil, value: Event(), timestamp: 0)
        record.value["message"] = "text"
        let set = Transform.set([(try FieldPath("[message][x]"), .literal(1))]).handlingFailures(.tag("_mutate_error"))()
        #expect(try set(&record))
        #expect(record.value.tags == ["_mutate_error"])
        #expect(record.value["message"] == "text")
    }
}
