import Foundation

/// An application's local state directory, locked for one process at a
/// time. It keeps the process id, so a restarted process gets the same
/// transactional ids (and fences its zombie) while two processes on one
/// machine need two directories.
final class StateDirectoryLock: Sendable {
    let processID: String
    private let fd: Int32

    init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        fd = open("\(directory)/.lock", O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else { throw TopologyError("cannot open \(directory)/.lock: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw TopologyError("state directory \(directory) is in use by another process; give each instance its own")
        }
        let idFile = "\(directory)/process-id"
        if let id = try? String(contentsOfFile: idFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !id.isEmpty {
            processID = id
        } else {
            processID = UUID().uuidString.lowercased()
            try processID.write(toFile: idFile, atomically: true, encoding: .utf8)
        }
    }

    deinit { close(fd) }
}
