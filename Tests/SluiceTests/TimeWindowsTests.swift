import Sluice
import Testing

@Suite struct TimeWindowsTests {
    @Test func aTumblingWindowHoldsItsStartAndNotItsEnd() throws {
        let w = try TimeWindows.tumbling(.seconds(10))
        #expect(w.starts(containing: 0) == [0])
        #expect(w.starts(containing: 9_999) == [0])
        #expect(w.starts(containing: 10_000) == [10_000])
        #expect(w.starts(containing: 1_700_000_012_345) == [1_700_000_010_000])
    }

    @Test func windowsAreAlignedToTheEpochBeforeItToo() throws {
        let w = try TimeWindows.tumbling(.seconds(10))
        #expect(w.starts(containing: -1) == [-10_000])
        #expect(w.starts(containing: -10_000) == [-10_000])
        #expect(w.starts(containing: -10_001) == [-20_000])
    }

    @Test func aRecordFallsInEveryHoppingWindowThatCoversIt() throws {
        let w = try TimeWindows.hopping(.seconds(10), advance: .seconds(5))
        #expect(w.starts(containing: 12_000) == [5_000, 10_000])
        #expect(w.starts(containing: 10_000) == [5_000, 10_000])
        #expect(w.starts(containing: 4_999) == [-5_000, 0])
        let uneven = try TimeWindows.hopping(.seconds(10), advance: .seconds(3))
        #expect(uneven.starts(containing: 10_000) == [3_000, 6_000, 9_000])
    }

    @Test func aWindowClosesAtItsEndPlusGrace() throws {
        let w = try TimeWindows.tumbling(.seconds(10), grace: .seconds(2))
        #expect(w.closeTime(start: 10_000) == 22_000)
        #expect(w.seconds == 10)
    }

    @Test func impossibleWindowsAreRefusedWithWhy() {
        #expect { try TimeWindows.tumbling(.zero) } throws: { "\($0)".contains("size must be above 0") }
        #expect { try TimeWindows.hopping(.seconds(5), advance: .seconds(10)) } throws: { "\($0)".contains("at most its size") }
        #expect { try TimeWindows.tumbling(.seconds(5), grace: .seconds(-1)) } throws: { "\($0)".contains("grace") }
    }
}
