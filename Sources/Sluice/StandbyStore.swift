import SluiceKafka
import SluiceState

/// A warm copy of one store of a task another instance owns. It follows
/// the store's changelog and applies each change once the input that
/// produced it is committed, so that taking the task over reads only the
/// changelog's tail.
///
/// A change whose input is not committed yet may come from processing that
/// is never committed (and is done again): the copy waits at it
/// (``isHeld``) until the group's committed offset reaches it. The position
/// it writes is that of the last complete run of changes (a commit point
/// logs its changes one after another, all with one position): a restore
/// from there applies the rest of a run the copy has only begun. A run is
/// complete once another follows it. And once the group has committed an
/// offset and nothing more arrived for a turn of ``settle()``, the copy
/// holds every change up to that offset (offsets commit only after every
/// change before them is in the log), whether or not the task's own
/// changes were among them.
final class StandbyStore {
    let task: TopicPartition
    let store: TaskStore
    let place: ChangelogPlace
    /// The changelog offset of the first record not applied.
    private(set) var next: Int64
    /// The input position the store held when opened: changes at or below it are in it already.
    private let floor: Int64
    /// The task's committed input offset, as last read (`-1` without one).
    private var committed: Int64 = -1
    /// Whether a record of its changelog partition came since the last ``settle()``.
    private var readSinceSettle = false
    /// The position of the change the copy waits at.
    private var heldAt: Int64?
    /// The position of the run of changes being applied, and of the last complete one.
    private var run: Int64?, completed: Int64?
    private var batch = StoreBatch()
    private var written: StorePosition?
    /// Changes applied since the store was opened.
    private(set) var applied = 0

    init(task: TopicPartition, store: TaskStore) {
        self.task = task
        self.store = store
        place = store.changelog!
        let local = store.bytes.position
        next = local?.changelogOffset ?? 0
        written = local
        floor = local?.inputOffset ?? .min
        completed = local?.inputOffset
    }

    /// Whether the copy waits for its task's committed offset to reach a change.
    var isHeld: Bool { heldAt != nil }

    /// Takes the task's committed offset; returns whether the copy was held
    /// and may now read on from ``next``.
    func commit(_ offset: Int64) -> Bool {
        committed = offset
        guard let heldAt, heldAt <= offset else { return false }
        self.heldAt = nil
        return true
    }

    /// Applies a changelog record at or past ``next``; returns `false`
    /// (and takes nothing more) once the copy is held.
    @discardableResult
    func apply(_ m: KafkaRecordView) -> Bool {
        guard heldAt == nil else { return false }
        readSinceSettle = true
        if let (key, position) = place.change(in: m), position > floor {
            if position != run {
                completed = run ?? completed
                run = position
            }
            guard position <= committed else {
                heldAt = position
                return false
            }
            if let value = m.value { batch.put(key, value) } else { batch.delete(key) }
            applied += 1
        }
        next = m.offset + 1
        return true
    }

    /// Takes the position of the last ``commit(_:)`` as reached if no
    /// record came since the last call; call it just before each
    /// ``commit(_:)``, a turn (a second) apart, so that every record logged
    /// before that commit has had time to arrive.
    func settle() {
        defer { readSinceSettle = false }
        guard heldAt == nil, !readSinceSettle, committed >= 0 else { return }
        completed = max(committed, floor)
    }

    /// Writes what was applied, and the position reached, since the last write.
    func write() throws {
        let position = completed.map { StorePosition(inputOffset: $0, changelogOffset: next) }
        guard batch.count > 0 || position != written else { return }
        batch.position = position
        try store.bytes.write(batch)
        batch.removeAll()
        written = position
    }
}
