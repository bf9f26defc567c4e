import SluiceState
import Testing

/// A batch keeps its changes packed in one buffer: what goes in comes out
/// the same, in order, however it was given.
struct StoreBatchTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func changesComeOutInTheOrderTheyWentInWithTheirBytesIntact() {
        var batch = StoreBatch()
        batch.put(bytes("k1"), bytes("v1"))
        batch.delete(bytes("gone"))
        batch.put([], [])
        batch.deleteRange(from: bytes("a"), to: bytes("b"))
        let long = [UInt8](repeating: 7, count: 70_000)
        long.withUnsafeBytes { value in bytes("lent").withUnsafeBytes { key in batch.put(key, value) } }
        #expect(batch.count == 5)
        #expect(batch.changes == [.put(bytes("k1"), bytes("v1")), .delete(bytes("gone")), .put([], []),
                                  .deleteRange(bytes("a"), bytes("b")), .put(bytes("lent"), long)])
    }

    @Test func removeAllEmptiesTheChangesAndThePosition() {
        var batch = StoreBatch()
        batch.put(bytes("k"), bytes("v"))
        batch.position = StorePosition(inputOffset: 1, changelogOffset: 2)
        batch.isReplayable = true
        batch.removeAll()
        #expect(batch.isEmpty)
        #expect(batch.changes.isEmpty)
        #expect(batch.isReplayable, "what the batch is stays")
        batch.delete(bytes("k"))
        #expect(batch.changes == [.delete(bytes("k"))])
    }
}
