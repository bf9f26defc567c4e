@testable import Sluice
import SluiceKafka
import SluiceState
import Testing

/// Standby replicas: where copies go, what a copy applies, and how a
/// stream thread takes a task over from the standby thread.
struct StandbyTests {
    private let task = TopicPartition("in", 0)

    private func tasks(_ partitions: Int32...) -> Set<TopicPartition> { Set(partitions.map { TopicPartition("in", $0) }) }

    @Test func withTwoInstancesAndOneReplicaEachKeepsCopiesOfTheOthersTasks() {
        let owners = ["a": tasks(0, 1), "b": tasks(2, 3)]
        #expect(StandbyPlacement.standbys(of: "a", owners: owners, replicas: 1) == tasks(2, 3))
        #expect(StandbyPlacement.standbys(of: "b", owners: owners, replicas: 1) == tasks(0, 1))
    }

    @Test func eachTaskHasExactlyReplicasCopiesAndNoneOnItsOwner() {
        let owners = ["a": tasks(0), "b": tasks(1), "c": tasks(2), "d": tasks(3)]
        for replicas in 1...3 {
            var copies: [TopicPartition: Int] = [:]
            for process in owners.keys {
                let kept = StandbyPlacement.standbys(of: process, owners: owners, replicas: replicas)
                #expect(kept.isDisjoint(with: owners[process]!), "\(process) keeps no copy of its own task")
                for t in kept { copies[t, default: 0] += 1 }
            }
            #expect(copies == Dictionary(uniqueKeysWithValues: (0..<4).map { (TopicPartition("in", Int32($0)), replicas) }))
        }
        #expect(StandbyPlacement.standbys(of: "a", owners: owners, replicas: 9).count == 3,
                "more replicas than other instances: a copy of every other task")
    }

    @Test func aMembershipRecordRoundTripsItsTasks() {
        let owned: Set = [TopicPartition("a.b-c_d", 3), TopicPartition("x", 0)]
        #expect(Membership.decode(Membership.encode(owned)) == owned)
        #expect(Membership.decode([]) == [])
    }

    // MARK: A copy following a changelog

    private let place = ChangelogPlace(topic: "app-counts-changelog", task: TopicPartition("in", 0))

    private func change(_ offset: Int64, key: String, value: String, position: Int64, task: String = "in") -> KafkaMessage {
        KafkaMessage(topic: place.partition.topic, partition: 0, offset: offset, key: Array(task.utf8) + [0] + Array(key.utf8),
                     value: Array(value.utf8), timestamp: 0, headers: [ChangelogHeader.encode(position)])
    }

    private func copy(_ bytes: InMemoryStore = InMemoryStore()) -> StandbyStore {
        StandbyStore(task: task, store: TaskStore(name: "counts", bytes: bytes, changelog: place))
    }

    private func value(_ bytes: InMemoryStore, _ key: String) throws -> String? {
        try bytes.get(Array(key.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func aCopyAppliesOnlyCommittedChangesAndWaitsAtTheFirstUncommittedOne() throws {
        let bytes = InMemoryStore()
        let s = copy(bytes)
        _ = s.commit(10)
        #expect(s.apply(change(0, key: "a", value: "1", position: 5)))
        #expect(s.apply(change(1, key: "b", value: "1", position: 10)))
        #expect(!s.apply(change(2, key: "a", value: "2", position: 20)), "input 10..<20 is not committed")
        #expect(s.isHeld)
        #expect(!s.apply(change(3, key: "c", value: "1", position: 20)), "a held copy takes nothing more")
        try s.write()
        #expect(try value(bytes, "a") == "1")
        #expect(try value(bytes, "c") == nil)
        #expect(s.next == 2, "it reads on from the change it waits at")

        #expect(!s.commit(15), "still not committed")
        #expect(s.commit(20))
        #expect(s.apply(change(2, key: "a", value: "2", position: 20)))
        #expect(s.apply(change(3, key: "c", value: "1", position: 20)))
        try s.write()
        #expect(try value(bytes, "a") == "2")
        #expect(s.applied == 4)
    }

    @Test func aCopyRecordsThePositionOfTheLastCompleteRunOfChanges() throws {
        let bytes = InMemoryStore()
        let s = copy(bytes)
        _ = s.commit(100)
        s.apply(change(0, key: "a", value: "1", position: 5))
        s.apply(change(1, key: "b", value: "1", position: 5))
        s.apply(change(2, key: "a", value: "2", position: 9))
        try s.write()
        // The run at 9 may go on past offset 2: a restore must apply the rest of it.
        #expect(bytes.position == StorePosition(inputOffset: 5, changelogOffset: 3))
        s.apply(change(3, key: "b", value: "2", position: 9))
        s.apply(change(4, key: "a", value: "3", position: 12))
        try s.write()
        #expect(bytes.position == StorePosition(inputOffset: 9, changelogOffset: 5))
    }

    @Test func aQuietTurnAfterACommitBringsTheCopysPositionToTheCommittedOffset() throws {
        let bytes = InMemoryStore()
        let s = copy(bytes)
        _ = s.commit(100)
        s.apply(change(0, key: "a", value: "1", position: 40))
        s.settle()
        _ = s.commit(100)
        try s.write()
        #expect(bytes.position == nil, "a record came in the turn: the run may go on")
        s.settle()
        try s.write()
        #expect(bytes.position == StorePosition(inputOffset: 100, changelogOffset: 1))

        let untouched = copy(InMemoryStore())
        _ = untouched.commit(7)
        untouched.apply(change(0, key: "z", value: "1", position: 5, task: "other"))
        untouched.settle()
        _ = untouched.commit(7)
        untouched.settle()
        try untouched.write()
        #expect(untouched.store.bytes.position == StorePosition(inputOffset: 7, changelogOffset: 1),
                "a copy none of whose task's changes were logged still moves on")

        let uncommitted = copy(InMemoryStore())
        _ = uncommitted.commit(30)
        #expect(!uncommitted.apply(change(0, key: "a", value: "1", position: 40)))
        uncommitted.settle()
        _ = uncommitted.commit(30)
        uncommitted.settle()
        try uncommitted.write()
        #expect(uncommitted.store.bytes.position == nil, "a held run is never complete")
    }

    @Test func aCopySkipsOtherTasksAndChangesItsLocalStateHoldsAlready() throws {
        let bytes = InMemoryStore()
        var old = StoreBatch()
        old.put(Array("a".utf8), Array("old".utf8))
        old.position = StorePosition(inputOffset: 7, changelogOffset: 2)
        try bytes.write(old)
        let s = copy(bytes)
        #expect(s.next == 2, "it reads from the changelog offset its local state reached")
        _ = s.commit(100)
        s.apply(change(2, key: "a", value: "stale", position: 7))
        s.apply(change(3, key: "z", value: "1", position: 50, task: "other"))
        s.apply(change(4, key: "b", value: "1", position: 8))
        try s.write()
        #expect(try value(bytes, "a") == "old")
        #expect(try value(bytes, "z") == nil, "another input topic's task shares the changelog partition")
        #expect(try value(bytes, "b") == "1")
        #expect(bytes.position?.changelogOffset == 5)
        #expect(bytes.position?.inputOffset == 7, "the run at 8 may not be complete")
    }

    // MARK: Handing a task over

    @Test func aTaskOwnedByAStreamThreadIsNeverOpenedAsAStandby() {
        let registry = ProcessTasks()
        registry.setOwned([task], thread: 0)
        #expect(!registry.beginStandby(task))
        registry.setOwned([], thread: 0)
        #expect(registry.beginStandby(task))
    }

    @Test func aClaimWaitsUntilTheStandbyHasClosedTheTasksStores() throws {
        let registry = ProcessTasks()
        #expect(registry.beginStandby(task))
        #expect(throws: TopologyError.self) { try registry.claim(task, thread: 1, timeout: .milliseconds(20)) }
        #expect(registry.owned == [task], "the claim stands: the standby sees it and lets go")
        registry.endStandby(task)
        try registry.claim(task, thread: 1, timeout: .milliseconds(20))
        #expect(!registry.beginStandby(task))
    }
}

extension StandbyStore {
    /// Applies a changelog record the tests made, lent as a consumer lends one.
    @discardableResult
    func apply(_ m: KafkaMessage) -> Bool { m.withView { apply($0) } }
}
