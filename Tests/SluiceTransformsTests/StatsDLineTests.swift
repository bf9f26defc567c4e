@testable import SluiceTransforms
import Testing

/// The statsd daemon's line handling (stats.js, lib/helpers.js and its
/// graphite tests: sanitizing, Graphite and DogStatsD tags, bad lines).
@Suite struct StatsDLineTests {
    private func keys(_ text: String) -> [String] { StatsDLine.parse(text).samples.map(\.key) }

    @Test func namesAreSanitizedAsStatsdDoes() {
        #expect(keys("fo/o:250|c\nb ar:250|c\nfoo+bar:250|c\ntab\t \tbed:1|c") == ["fo-o", "b_ar", "foobar", "tab_bed"])
    }

    @Test func graphiteTagsStayPartOfTheKey() {
        #expect(keys("fo/o;tag1=val1:250|c\nb ar;tag1=val1;tag2=val2:250|c")
                == ["fo-o;tag1=val1", "b_ar;tag1=val1;tag2=val2"])
    }

    @Test func dogStatsDTagsAreAppendedToTheKeyInTheirOrder() {
        #expect(keys("fo/o:250|c|#tag1:val1\nfoo+bar:250|c|#tag1:val;1,tag3:val3,tag2:val2\nx:1|c|@0.5|#flag")
                == ["fo-o;tag1=val1", "foobar;tag1=val_1;tag3=val3;tag2=val2", "x;flag"])
    }

    @Test func eachTypeReadsAsItsKindWithItsValue() {
        let (samples, errors) = StatsDLine.parse("c:3|c\ng:-4|g\nt:12.5|ms\nh:2|h\nd:1|d\nu:alice|s\ne:|s\n")
        #expect(errors.isEmpty)
        #expect(samples == [
            StatsDSample(key: "c", kind: .counter, value: 3), StatsDSample(key: "g", kind: .gauge, value: -4, isDelta: true),
            StatsDSample(key: "t", kind: .timer, value: 12.5), StatsDSample(key: "h", kind: .timer, value: 2),
            StatsDSample(key: "d", kind: .timer, value: 1), StatsDSample(key: "u", kind: .set, value: 0, member: "alice"),
            StatsDSample(key: "e", kind: .set, value: 0, member: "0"),
        ])
    }

    @Test func onlyASignedGaugeIsADelta() {
        let samples = StatsDLine.parse("g:+2|g\ng:2|g\ng:-2|g").samples
        #expect(samples.map(\.isDelta) == [true, false, true])
        #expect(samples.map(\.value) == [2, 2, -2])
    }

    @Test func aLineMayCarrySeveralSamplesOfOneName() {
        let samples = StatsDLine.parse("a:1|c:20|ms|@0.5:3|g").samples
        #expect(samples.map(\.kind) == [.counter, .timer, .gauge])
        #expect(samples.map(\.sampleRate) == [1, 0.5, 1])
        #expect(Set(samples.map(\.key)) == ["a"])
    }

    @Test func aSampleRateIsRead() {
        #expect(StatsDLine.parse("a:1|c|@0.1").samples.first?.sampleRate == 0.1)
    }

    @Test(arguments: [
        ("a_bad_test_value|z", "no ':'"), ("a:1|z", "unknown metric type \"z\""), ("a:x|c", "not a number"),
        ("a:|c", "not a number"), ("a:-1|ms", "at or above 0"), ("a:1|c|@x", "sample rate"),
        ("a:1|c|@-0.1", "sample rate"), ("a:1|c|@0", "sample rate"), ("a:1", "no '|'"), (":1|c", "name is empty"),
        ("a:0x10|c", "not a number"), ("a:Infinity|g", "not a number"),
    ])
    func aBadLineIsReportedWithItsReason(_ line: String, _ reason: String) {
        let (samples, errors) = StatsDLine.parse(line)
        #expect(samples.isEmpty)
        #expect(errors.count == 1)
        #expect(errors.first?.line == line)
        #expect(errors.first?.reason.contains(reason) == true, "\(errors)")
    }

    @Test func aBadSampleRejectsOnlyItselfAndTheOtherLinesCount() {
        let (samples, errors) = StatsDLine.parse("a:1|c:x|c\nb:2|c\n\nbroken\n")
        #expect(samples.map(\.key) == ["a", "b"])
        #expect(errors.map(\.line) == ["a:1|c:x|c", "broken"])
    }
}
