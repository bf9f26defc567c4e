import Foundation

/// A child process started with `posix_spawn` and reaped with `waitpid`.
///
/// Not Foundation's `Process`: on Linux it learns that a child ended when a
/// socket the child holds closes, and a sibling started at about the same
/// time can inherit that socket. The ended child then stayed a zombie, and
/// `isRunning` true, until the sibling ended too; in the takeover test that
/// was never, and the run hung. Here the child gets only its output file.
final class ChildProcess {
    let pid: pid_t
    private var status: Int32?

    /// Starts `path` with `arguments` and `environment`; standard output
    /// and error both go to `outputPath`, which is created or truncated.
    init(_ path: String, arguments: [String], environment: [String: String], outputPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        closeFrom(3, &actions)
        // The child starts with no signal blocked or ignored: the test's
        // threads block some, and the child's graceful stop needs SIGTERM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw ChildProcessError(description: "cannot start \(path): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    /// Whether the child has not ended yet (it is reaped once it has).
    var isRunning: Bool { reap(blocking: false) == nil }

    /// Blocks until the child ends; returns its exit status, or the number
    /// of the signal that ended it (as `Process.terminationStatus` does).
    func waitUntilExit() -> Int32 { reap(blocking: true) ?? -1 }

    func signal(_ sig: Int32) {
        if status == nil { kill(pid, sig) }
    }

    private func reap(blocking: Bool) -> Int32? {
        if let status { return status }
        var raw: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &raw, blocking ? 0 : WNOHANG) } while result == -1 && errno == EINTR
        guard result == pid else { return nil }
        // WIFSIGNALED / WTERMSIG / WEXITSTATUS are C macros Swift does not import.
        let signal = raw & 0x7f
        status = signal == 0 ? (raw >> 8) & 0xff : signal
        return status
    }
}

/// Has the child close every descriptor from `lowest` on (glibc 2.34's
/// `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc module
/// does not declare): it inherits nothing of the test process.
private func closeFrom(_ lowest: Int32, _ actions: inout posix_spawn_file_actions_t) {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return }
    _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest)
}

struct ChildProcessError: Error, CustomStringConvertible {
    var description: String
}
